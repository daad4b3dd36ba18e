"""The colour of the deepest shadows: the green that real dark frames lift, and the cast a model puts there.

Real RELLISUR captures lift their darkest pixels more in green than in red and blue (a coloured pedestal from
the sensor's black level and the camera's processing); the calibrated camera is nearly neutral there
(``docs/simulator.md``, section 3). A model trained on nearly neutral shadows reads such a green as the scene's
colour and paints it into its output's shadows (``benchmarks/pedestal_robustness.py``). Both are measured the
same way: over the darkest pixels, where darkest means the lowest mean of the three channels.
"""

from __future__ import annotations

import numpy as np
import torch

from lolisr_lib.errors import UserError


def darkest(luma: np.ndarray | torch.Tensor, fraction: float):
    """Boolean mask of the pixels whose ``luma`` is at most its ``fraction`` quantile (ties included)."""
    if not 0 < fraction <= 1:
        raise UserError(f"fraction={fraction}: give the share of darkest pixels, in (0, 1]")
    if isinstance(luma, torch.Tensor):
        return luma <= luma.quantile(fraction)
    return luma <= np.quantile(luma, fraction)


def shadow_green_excess(capture: np.ndarray, fraction: float = 0.3) -> tuple[float, float]:
    """``(G - R, G - B)``: how much more green than red and than blue the darkest ``fraction`` of an 8-bit RGB
    capture ``(H, W, 3)`` reads, in code values (means over those pixels)."""
    if capture.ndim != 3 or capture.shape[-1] != 3:
        raise UserError(f"capture of shape {capture.shape}: give an RGB image (H, W, 3)")
    codes = capture.astype(np.float64)
    red, green, blue = codes[darkest(codes.mean(-1), fraction)].mean(0)
    return float(green - red), float(green - blue)


def green_cast(out: torch.Tensor, target: torch.Tensor, fraction: float = 0.25) -> float:
    """Mean of ``G - (R + B) / 2`` over the target's darkest ``fraction``, output minus target, in code values.
    ``out`` and ``target``: ``(3, H, W)`` in [0, 1], the same size. Positive: the output's shadows are greener."""
    if out.shape != target.shape or out.dim() != 3 or out.shape[0] != 3:
        raise UserError(f"out {tuple(out.shape)} and target {tuple(target.shape)}: give two (3, H, W) images")
    dark = darkest(target.mean(0), fraction)

    def greenness(image: torch.Tensor) -> float:
        return float((image[1] - (image[0] + image[2]) / 2)[dark].mean()) * 255.0
    return greenness(out) - greenness(target)
