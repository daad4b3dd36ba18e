"""Classical sequential baselines: brighten the dark LR image with a fixed rule, then upscale it bicubically.

No training and no use of the ground truth: each rule looks only at the input image. They bracket what a
learned method must beat (design notes, docs/model.md section 9):

- ``bicubic``: upscaling only, the image stays dark; the floor of every table.
- ``he-bicubic``: per-channel histogram equalisation (OpenCV's classic rule, ``color.equalize_hist``, the same
  function that makes one of LoLiSRFlow's encoder inputs), then bicubic. Equalisation spreads the codes over
  0..255 whatever the exposure, so brightness is right on average, but noise and colour casts are amplified.
- ``gain-bicubic``: one global tone curve per image, ``x ** gamma`` with ``gamma`` chosen so that the mean of
  the result is ``target_mean`` (0.4, about 102/255, because RELLISUR's normal-light targets average about
  90 to 110 out of 255; docs/data.md), then bicubic. A constant is fixed in advance, never read from the test
  ground truth. A gamma rather than a plain gain: RELLISUR inputs are 3 to 5 EV under-exposed, so a gain
  reaching the target mean would be 8 to 30x and clip every lamp and window to white, while a power curve is
  monotone, maps [0, 1] onto [0, 1] and never clips; like a gain it is one number per image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lolisr_lib.config import SCALES, Config, ModelConfig
from lolisr_lib.errors import UserError
from lolisr_lib.image.color import equalize_hist, srgb_to_linear
from lolisr_lib.image.exposure import scale_to_linear_mean, scene_linear_mean

TARGET_MEAN = 0.4  # mean brightness the gamma rule aims for: RELLISUR's targets average ~90-110 / 255
GAMMA_RANGE = (1 / 64, 8.0)  # bisection bounds: from a strong lift to a strong darkening
GAMMA_ITERATIONS = 30  # bisection steps on log(gamma); 30 halvings of ln(512) give ~1e-8 precision


def as_batch(lq: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``lq`` as a ``(B, 3, h, w)`` float tensor, and whether it came as a single ``(3, h, w)`` image."""
    if not isinstance(lq, torch.Tensor) or not lq.is_floating_point():
        raise UserError(f"lq must be a float torch tensor in [0, 1], got {getattr(lq, 'dtype', type(lq).__name__)}")
    if lq.dim() == 3 and lq.shape[0] == 3:
        return lq[None], True
    if lq.dim() == 4 and lq.shape[1] == 3:
        return lq, False
    raise UserError(f"lq must have shape (B, 3, h, w) or (3, h, w), got {tuple(lq.shape)}")


def check_scale(scale: int) -> int:
    if scale not in SCALES:
        raise UserError(f"scale={scale!r} is not supported; use one of {SCALES}")
    return scale


def bicubic_upscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upscaling of ``(B, 3, h, w)`` to ``(B, 3, scale*h, scale*w)``, clamped to [0, 1].

    ``align_corners=False`` treats pixels as areas (the convention of image resizing); no antialiasing filter
    is needed when enlarging. The clamp removes the small over- and undershoots of the cubic kernel.
    """
    if scale == 1:
        return x.clamp(0, 1)
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


def solve_gamma(lq: torch.Tensor, target_mean: float) -> torch.Tensor:
    """Per image, the ``gamma`` with ``mean(lq ** gamma) == target_mean``: a ``(B,)`` tensor.

    ``mean(x ** g)`` decreases monotonically in ``g`` for ``x`` in [0, 1], so bisection on ``log g`` finds it;
    an image that cannot reach the target (all black, or all white) gets the nearest bound.
    """
    x = lq.clamp(0, 1).flatten(1)  # (B, 3*h*w)
    lo = torch.full((x.shape[0], 1), math.log(GAMMA_RANGE[0]), dtype=x.dtype, device=x.device)  # (B, 1)
    hi = torch.full_like(lo, math.log(GAMMA_RANGE[1]))
    for _ in range(GAMMA_ITERATIONS):
        mid = (lo + hi) / 2
        too_bright = x.pow(mid.exp()).mean(1, keepdim=True) > target_mean  # a larger gamma darkens
        lo = torch.where(too_bright, mid, lo)
        hi = torch.where(too_bright, hi, mid)
    return ((lo + hi) / 2).exp().squeeze(1)  # (B,)


class ClassicalBaseline(nn.Module):
    """Brighten at LR with :meth:`brighten` (identity here), then :func:`bicubic_upscale`."""

    name = "bicubic"

    def __init__(self, scale: int):
        super().__init__()
        self.scale = check_scale(scale)
        # A config like the learned models' so that tables and CSVs can name it; never saved (no weights).
        self.config = Config(name=f"{self.name}-x{scale}", model=ModelConfig(arch=self.name, scale=scale))

    def brighten(self, lq: torch.Tensor) -> torch.Tensor:
        return lq

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor) -> torch.Tensor:
        """``(B, 3, h, w)`` or ``(3, h, w)`` in [0, 1] to ``(B, 3, scale*h, scale*w)`` (or unbatched) in [0, 1]."""
        batch, single = as_batch(lq)
        out = bicubic_upscale(self.brighten(batch.clamp(0, 1)), self.scale)
        return out[0] if single else out

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        return self.enhance(lq)


class BicubicBaseline(ClassicalBaseline):
    """Bicubic upscaling only: no enhancement."""

    name = "bicubic"


class HEBicubicBaseline(ClassicalBaseline):
    """Per-channel histogram equalisation (OpenCV's rule on 8-bit codes), then bicubic."""

    name = "he-bicubic"

    def brighten(self, lq: torch.Tensor) -> torch.Tensor:
        return equalize_hist(lq)


class GammaBicubicBaseline(ClassicalBaseline):
    """``lq ** gamma`` with a per-image ``gamma`` that brings the mean to ``target_mean``, then bicubic."""

    name = "gain-bicubic"

    def __init__(self, scale: int, target_mean: float = TARGET_MEAN):
        super().__init__(scale)
        if not 0 < target_mean < 1:
            raise UserError(f"target_mean={target_mean!r} must lie strictly between 0 and 1")
        self.target_mean = target_mean

    def brighten(self, lq: torch.Tensor) -> torch.Tensor:
        gamma = solve_gamma(lq, self.target_mean)  # (B,)
        return lq.pow(gamma[:, None, None, None])  # (B, 3, h, w)


class OracleGainBaseline(ClassicalBaseline):
    """A reference, not a method: one gain in linear light per image, chosen so that the linear mean equals
    the *target's*, then bicubic. It reads the ground truth's mean (``enhance(lq, target=gt)``), so it shows
    what perfect global brightening alone recovers: a learned model should beat it by restoring more than
    the brightness (denoising, colour, detail)."""

    name = "oracle-gain"
    reads_target = True  # evaluate passes the ground truth

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        if target is None:
            raise UserError("oracle-gain needs the ground truth: enhance(lq, target=gt); it is a reference only")
        batch, single = as_batch(lq)
        gt = target[None] if single else target
        out = bicubic_upscale(match_linear_mean(batch, gt), self.scale)
        return out[0] if single else out


class ExposureGainBaseline(ClassicalBaseline):
    """One gain in linear light per image, chosen from the capture's *exposure* (``ev``, which RELLISUR writes
    into every low-light file name) by running the calibrated camera backwards
    (:func:`lolisr_lib.image.exposure.scene_linear_mean`), then bicubic. A method, not a reference: it reads
    metadata that every capture carries, never the target. On captures that the calibrated simulator made (the
    miniature) it finds the oracle's gain almost exactly; on real captures, as well as the camera matches."""

    name = "exposure-gain-bicubic"
    reads_ev = True  # evaluate passes each image's exposure

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor, ev=None) -> torch.Tensor:
        if ev is None:
            raise UserError(f"{self.name} needs the capture's exposure: enhance(lq, ev=-3.0)")
        batch, single = as_batch(lq)
        batch = batch.clamp(0, 1)
        out = bicubic_upscale(scale_to_linear_mean(batch, scene_linear_mean(batch, ev)), self.scale)
        return out[0] if single else out


def match_linear_mean(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``images`` (B, 3, h, w) in [0, 1] times one gain each in linear light, chosen so that each one's linear
    mean equals its ``reference``'s (B, 3, H, W; any size), clipped to [0, 1]: global brightness from the answer."""
    return scale_to_linear_mean(images, srgb_to_linear(reference.double()).mean((1, 2, 3)))


CLASSICAL_BASELINES = {cls.name: cls for cls in (BicubicBaseline, HEBicubicBaseline, GammaBicubicBaseline)}
EXPOSURE_BASELINES = {ExposureGainBaseline.name: ExposureGainBaseline}  # read the exposure: enhance(lq, ev=...)
REFERENCES = {OracleGainBaseline.name: OracleGainBaseline}  # read the ground truth: references, not methods


def make_baseline(name: str, scale: int) -> ClassicalBaseline:
    """The classical baseline ``name`` (``bicubic``, ``he-bicubic``, ``gain-bicubic``), the
    ``exposure-gain-bicubic`` method (it reads each capture's exposure) or the ``oracle-gain`` reference at
    ``scale``."""
    known = {**CLASSICAL_BASELINES, **EXPOSURE_BASELINES, **REFERENCES}
    if name not in known:
        raise UserError(
            f"unknown baseline {name!r}; choose one of {', '.join(known)} "
            "(learned baselines are trained with `train` and evaluated as checkpoints)"
        )
    return known[name](scale)
