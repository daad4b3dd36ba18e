"""Where the flow is unsure: per-pixel spread of samples, and what the sampling temperature does.

A conditional flow (SRFlow, Lugmayr et al., ECCV 2020; LLFlow, Wang et al., AAAI 2022; LoLiSRFlow, arXiv
2402.18871) models the whole distribution ``p(gt | lq)``, not one answer. Drawing ``z = mu + tau * eps``
and inverting the flow gives samples; temperature ``tau = 0`` is the deterministic prediction at the prior
mean, ``tau = 1`` samples the learned distribution itself, values in between trade diversity for fidelity.

- :func:`pixel_std`: the per-pixel standard deviation over samples, a map of the model's uncertainty;
- :func:`sample_diversity`: its mean, one number per image;
- :func:`temperature_sweep`: PSNR, SSIM and diversity of samples at several temperatures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.metrics import psnr_batch, ssim_batch


def _check_samples(samples: torch.Tensor) -> None:
    if samples.dim() != 5 or samples.shape[2] != 3:
        raise UserError(f"samples must be (B, n, 3, H, W) as model.sample returns them; got {tuple(samples.shape)}")


def pixel_std(samples: torch.Tensor) -> torch.Tensor:
    """Standard deviation over the ``n`` samples of ``(B, n, 3, H, W)``, averaged over colour: ``(B, H, W)``.

    The population standard deviation (divide by ``n``), so that ``n`` identical samples give exactly 0.
    """
    _check_samples(samples)
    return samples.std(dim=1, correction=0).mean(dim=1)  # (B, 3, H, W) -> (B, H, W)


def sample_diversity(samples: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel standard deviation of ``(B, n, 3, H, W)`` samples: ``(B,)``, in units of [0, 1] intensity."""
    return pixel_std(samples).mean(dim=(1, 2))


@dataclass(frozen=True)
class TemperatureSweep:
    """Samples and their scores at several temperatures (arrays aligned with ``temperatures``)."""

    temperatures: np.ndarray  # tau values
    psnr: np.ndarray  # mean PSNR (dB) of the samples against gt
    psnr_std: np.ndarray  # standard deviation of the samples' PSNR
    ssim: np.ndarray  # mean SSIM of the samples
    diversity: np.ndarray  # mean per-pixel standard deviation between samples (sample_diversity)
    samples: list  # per temperature, the samples of the first image: (n, 3, H, W) tensors on the CPU


@torch.no_grad()
def temperature_sweep(model, lq: torch.Tensor, gt: torch.Tensor, temperatures, n_samples: int = 4,
                      seed: int = 0) -> TemperatureSweep:
    """Draw ``n_samples`` per image at every temperature with ``model.sample`` and score them against ``gt``.

    ``lq`` (B, 3, h, w), ``gt`` (B, 3, s*h, s*w); ``seed`` fixes the noise, the same draws at every
    temperature (so only ``tau`` changes between rows). At least two samples are needed for a spread.
    """
    if n_samples < 2:
        raise UserError(f"n_samples={n_samples}: the spread between samples needs at least 2")
    temperatures = np.asarray(list(temperatures), dtype=np.float64)
    if temperatures.size == 0 or np.any(temperatures < 0):
        raise UserError(f"temperatures must be a non-empty list of values >= 0; got {temperatures.tolist()}")
    rows = {"psnr": [], "psnr_std": [], "ssim": [], "diversity": []}
    kept = []
    for tau in temperatures:
        generator = torch.Generator(device=lq.device).manual_seed(seed)
        samples = model.sample(lq, n_samples, temperature=float(tau), generator=generator)  # (B, n, 3, H, W)
        flat = samples.flatten(0, 1)  # (B * n, 3, H, W)
        target = gt.repeat_interleave(n_samples, dim=0)  # (B * n, 3, H, W), image b repeated n times
        psnrs = psnr_batch(flat, target)
        rows["psnr"].append(float(psnrs.mean()))
        rows["psnr_std"].append(float(psnrs.std(correction=0)))
        rows["ssim"].append(float(ssim_batch(flat, target).mean()))
        rows["diversity"].append(float(sample_diversity(samples).mean()))
        kept.append(samples[0].cpu())
    return TemperatureSweep(temperatures, *(np.array(rows[k]) for k in ("psnr", "psnr_std", "ssim", "diversity")),
                            samples=kept)
