"""Split: factor out half of the channels at the end of a level, under a learned conditional Gaussian prior.

Multi-scale architecture of RealNVP (Dinh et al. 2017, arXiv 1605.08803) with a Glow-style learned prior
(arXiv 1807.03039), here also conditioned on the level's condition: ``x = (kept, z)``,
``(mu, log_sigma) = NN(cat(kept, cond))``, ``z ~ N(mu, exp(log_sigma)^2)``. LoLiSRFlow (arXiv
2402.18871) "squeezes and splits at each scale"; LLFlow disables the split (``docs/model.md`` section 4).

Splitting is a partition of the channels, so its log-det is 0; what it contributes to the likelihood is
the log-probability of ``z`` under its prior, which :class:`Split` returns *separately* from any log-det.
That, and returning two tensors, is why it is not an ``InvertibleLayer`` (``flow/base.py`` says how it differs).
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.errors import UserError
from lolisr_lib.flow.coupling import coupling_subnet
from lolisr_lib.flow.likelihood import gaussian_log_prob, sample_gaussian


class Split(nn.Module):
    """``x = (kept, z)`` with ``z ~ N(mu, exp(log_sigma)^2)``, ``(mu, log_sigma) = NN(cat(kept, cond))``.

    ``kept`` is the first ``ceil(C / 2)`` channels, ``z`` the remaining ``floor(C / 2)``. The prior
    network's last convolution is zero-initialised, so the prior starts as a standard normal.

    ``forward(x, cond) -> (kept, z, log_prob)`` and ``inverse(kept, z, cond) -> (x, log_prob)``, where
    ``log_prob`` ``(B,)`` is ``log N(z; mu, sigma)`` in nats. In the inverse ``z`` may be ``None``: it is
    then drawn from the prior at ``temperature`` (0 gives the prior mean).
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int):
        super().__init__()
        self.split_sizes = (channels - channels // 2, channels // 2)  # (kept, z)
        self.prior = coupling_subnet(self.split_sizes[0] + cond_channels, 2 * self.split_sizes[1], hidden)

    def _prior(self, kept: torch.Tensor, cond) -> tuple[torch.Tensor, torch.Tensor]:
        if cond is None:
            raise UserError("Split needs a condition tensor cond of shape (B, cond_channels, H, W); got None")
        mean, log_sigma = self.prior(torch.cat([kept, cond], dim=1)).chunk(2, dim=1)  # 2 x (B, C_z, H, W)
        return mean, log_sigma

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        kept, z = x.split(self.split_sizes, dim=1)
        mean, log_sigma = self._prior(kept, cond)
        return kept, z, gaussian_log_prob(z, mean, log_sigma)

    def inverse(self, kept: torch.Tensor, z: torch.Tensor | None = None, cond=None, *,
                temperature: float = 0.0, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_sigma = self._prior(kept, cond)
        if z is None:
            z = sample_gaussian(mean, temperature, generator, log_sigma)
        elif z.shape != mean.shape:
            raise UserError(f"Split.inverse: the factored half z must have shape {tuple(mean.shape)}, "
                            f"got {tuple(z.shape)}")
        return torch.cat([kept, z], dim=1), gaussian_log_prob(z, mean, log_sigma)
