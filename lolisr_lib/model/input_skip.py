"""The input skip (``model.skip = "gain"``; ours, not the paper's): the flow models what the brightened capture lacks.

Without it the flow re-creates the whole picture from the encoder's conditions, and on nearly clean captures
(-2 to -3 EV) a gain and bicubic keep more of the scene than the trained model does (docs/model.md, "The input
skip"). With it, the model's output is

    y = skip(x) + F^-1(z; E(x)),    skip(x) = bicubic(x * g),    g = m / mean_linear(x)

one gain ``g`` in linear light that brings the *whole* capture's mean to code value 100 (``m``, the middle of
RELLISUR's auto-exposed targets), upscaled; the flow models ``y - skip(x)``. The skip depends on the condition
only, so it is a shift: the change of variables gains no log-det term and the likelihood stays exact.

The gain comes from the whole capture, never from a training crop (the datasets pass ``lq_mean``): a crop's mean
is not the image's, and the same pixel would get a different skip in training and at inference.
"""

from __future__ import annotations

import torch

from lolisr_lib.baselines.classical import bicubic_upscale
from lolisr_lib.image.color import linear_to_srgb, srgb_to_linear

SKIPS = ("none", "gain")  # the values of ModelConfig.skip
SKIP_CODE_VALUE = 100.0  # the skip's mean brightness (of 255): the middle of RELLISUR's targets (about 90 to 110)


def brightened_capture(lq: torch.Tensor, scale: int, capture_mean: torch.Tensor) -> torch.Tensor:
    """``skip(x)``: ``lq`` (B, 3, h, w) times the gain that brings ``capture_mean`` (B,), the whole capture's
    linear mean, to code value :data:`SKIP_CODE_VALUE`, clipped at white and bicubic-upscaled by ``scale``;
    (B, 3, scale*h, scale*w) in [0, 1], in ``lq``'s dtype."""
    target = srgb_to_linear(torch.tensor(SKIP_CODE_VALUE / 255.0, dtype=torch.float64))
    gain = target / capture_mean.to(lq.device, torch.float64).clamp(min=1e-8)  # (B,)
    linear = srgb_to_linear(lq.clamp(0, 1).double()) * gain[:, None, None, None]
    return bicubic_upscale(linear_to_srgb(linear.clamp(0, 1)), scale).to(lq.dtype)
