"""Likelihood bookkeeping of the flow: Gaussian log-densities, sampling, NLL normalisations, dequantisation.

Change of variables (``docs/model.md`` section 6): for ``z = F(x; cond)``,
``log p(x | cond) = log N(z; mu, sigma) + log|det dz/dx|``. The flow returns the second term (``logdet``)
and, with split, the log-probabilities of the factored halves; the final latent's term comes from
:func:`gaussian_log_prob`. Two normalisations of ``-log p`` are reported:

- :func:`nll_bits_per_pixel` is LLFlow's training loss: ``-log p / (ln 2 * H * W)``, bits per pixel
  *position* (all three colour channels together), with no dequantisation constant. It is the scale on
  which the paper's ``gamma = 1.5`` was tuned. Because ``p`` is a density of continuous values, it can be
  negative and drift without bound when the data are discrete.
- :func:`bits_per_dim` is the textbook quantity: ``(-log p + D * log n_bins) / (D * ln 2)`` per
  dimension ``D = C * H * W``, for data scaled to [0, 1] and dequantised by :func:`dequantize`. It
  upper-bounds the code length of the 8-bit image in bits per sub-pixel, so it is >= 0 and at most 8
  for anything better than uniform.

They are related by ``bits_per_dim = nll_bits_per_pixel * H * W / D + log2(n_bins)``, i.e.
``nll_bits_per_pixel / 3 + 8`` for RGB and 256 bins.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor | float = 0.0,
                      log_sigma: torch.Tensor | float | None = None) -> torch.Tensor:
    """``log N(z; mean, exp(log_sigma)^2)``, natural log, summed over all non-batch dims: ``(B,)``.

    ``mean`` and ``log_sigma`` broadcast against ``z``; ``log_sigma=None`` means unit variance.
    Each dimension contributes ``-0.5 * ((z - mean) / sigma)^2 - log sigma - 0.5 * log(2 pi)``.
    """
    if log_sigma is None:
        per_dim = -0.5 * (z - mean) ** 2 - 0.5 * LOG_2PI
    else:
        log_sigma = torch.as_tensor(log_sigma, dtype=z.dtype, device=z.device)
        per_dim = -0.5 * ((z - mean) * torch.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * LOG_2PI
    return per_dim.expand(z.shape).reshape(z.shape[0], -1).sum(dim=1)  # (B,)


def sample_gaussian(mean: torch.Tensor, temperature: float, generator: torch.Generator | None = None,
                    log_sigma: torch.Tensor | None = None) -> torch.Tensor:
    """``mean + temperature * sigma * eps`` with ``eps ~ N(0, I)``; temperature 0 returns ``mean`` (no draw)."""
    if temperature == 0:
        return mean
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    sigma = 1.0 if log_sigma is None else torch.exp(log_sigma)
    return mean + temperature * sigma * eps


def nll_bits_per_pixel(log_prob_total: torch.Tensor, logdet_total: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """LLFlow's NLL: ``-(log p(z) + logdet) / (ln 2 * H * W)``, bits per pixel position, per sample.

    ``log_prob_total`` is every Gaussian term (final latent and split priors), ``logdet_total`` the flow's
    log-det, both ``(B,)`` in nats; ``H, W`` the size of the high-resolution image.
    """
    return -(log_prob_total + logdet_total) / (math.log(2) * H * W)


def bits_per_dim(log_prob_total: torch.Tensor, logdet_total: torch.Tensor, num_dims: int,
                 n_bins: int = 256) -> torch.Tensor:
    """Dequantised bits per dimension: ``(-(log p(z) + logdet) + D * log n_bins) / (D * ln 2)``, per sample.

    ``num_dims`` is ``D = C * H * W``. The constant ``D * log n_bins`` turns the density of the
    dequantised data in [0, 1] into the probability of its bin of width ``1 / n_bins``, so this is a
    bound on the discrete code length (valid when the flow saw :func:`dequantize`-d data).
    """
    return (-(log_prob_total + logdet_total) + num_dims * math.log(n_bins)) / (num_dims * math.log(2))


def dequantize(x: torch.Tensor, n_bins: int = 256, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x + u``, ``u ~ U(0, 1 / n_bins)`` independently per value, for ``x`` in [0, 1] holding 8-bit levels.

    Each discrete level then spreads over a cell of width ``1 / n_bins``. Images stored as ``k / 255``
    give cells ``[k/255, k/255 + 1/256)``, which are disjoint, which is all the bound of
    :func:`bits_per_dim` needs.
    """
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + u / n_bins
