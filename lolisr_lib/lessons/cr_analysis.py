"""Measuring how invariant the colour-ratio (CR) map is: across exposures, across scales, and where it breaks.

LoLiSRFlow (arXiv 2402.18871) and LLFlow (Wang et al., AAAI 2022, arXiv 2109.05923) use the CR map
``CR(I) = I / sum_c I`` (:func:`lolisr_lib.image.color.cr_map`) as an illumination-invariant prior: multiplying an
image by an exposure factor ``k`` leaves it unchanged. A camera is not a multiplication, though. A dark frame
has its own colour balance (a gain per channel that changes with the exposure), a tone curve and a small black
level offset (a pedestal), the sRGB curve, noise, 8-bit rounding and clipping at white, and each of these breaks
the invariance somewhere. This module measures it on one RELLISUR scene (Aakerberg et al., NeurIPS 2021): its
five low-light inputs (LLLR) against the normally lit target (NLHR x1), the targets of the three scales against
each other, the error binned by pixel brightness (noisy capture vs the same capture with noise switched off),
and synthetic over-exposure; and on a real pair, where :func:`camera_budget` switches the simulated camera's
effects off one by one to see which of them moves the CR map. Images are numpy, channel-last.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lolisr_lib.config import SCALES
from lolisr_lib.data.layout import index_split, resolve_root
from lolisr_lib.errors import DatasetError, UserError
from lolisr_lib.image.color import cr_map, linear_to_srgb
from lolisr_lib.image.degrade import (
    DegradeParams,
    area_downsample,
    clip_white,
    degrade,
    downscale_target,
    expose,
    optical_blur,
    to_linear,
)
from lolisr_lib.image.io import read_png
from lolisr_lib.lessons.noise_analysis import simulate_noise_free

# brightness bins in 8-bit levels, one octave (one stop of exposure) each, with black on its own
OCTAVE_EDGES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
LIT_LEVEL = 32  # "lit" pixels: mean 8-bit value at least this (the top three octaves)


@dataclass
class SceneImages:
    """Every image of one RELLISUR scene, as uint8 ``(H, W, 3)``."""

    scene: str  # five-digit scene id
    split: str  # Train, Val or Test
    lq: dict[float, np.ndarray] = field(default_factory=dict)  # EV (negative) -> LLLR input, brightest first
    gt: dict[int, np.ndarray] = field(default_factory=dict)  # scale 1, 2, 4 -> NLHR target


def load_scene(root: str | Path, scene: str | int | None = None, split: str = "Test") -> SceneImages:
    """The five LLLR exposures and the three NLHR targets of ``scene`` (None: the split's first scene).

    ``scene`` is the five-digit id (``"00057"``); an integer (``57``, as papermill reads ``-p SCENE 00057``)
    is written with five digits.
    """
    root = resolve_root(root)
    if isinstance(scene, int) and not isinstance(scene, bool):
        scene = f"{scene:05d}"
    images = SceneImages(scene=scene or "", split=split)
    for scale in SCALES:
        pairs = index_split(root, split, scale)
        if not images.scene:
            images.scene = pairs[0].scene
        mine = [pair for pair in pairs if pair.scene == images.scene]
        if not mine:
            available = ", ".join(sorted({pair.scene for pair in pairs}))
            raise DatasetError(f"scene {images.scene!r} is not in {split} of {root}; it holds {available}")
        images.gt[scale] = read_png(mine[0].gt_path)
        if scale == 1:
            images.lq = {pair.ev: read_png(pair.lq_path) for pair in mine}
    return images


def as_float(img: np.ndarray) -> np.ndarray:
    """uint8 to float64 in [0, 1]; a float image is returned as float64 unchanged."""
    return img / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)


def cr_error_map(img: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-pixel ``mean_c |CR(img) - CR(ref)|`` ``(H, W)``; inputs uint8 or float in [0, 1], same shape."""
    if img.shape != ref.shape:
        raise UserError(f"the CR maps of images of shapes {img.shape} and {ref.shape} cannot be compared; "
                        "bring both to the same size first")
    return np.abs(cr_map(as_float(img)) - cr_map(as_float(ref))).mean(axis=-1)


def brightness(img: np.ndarray) -> np.ndarray:
    """Mean over channels on the 8-bit scale (0..255) ``(H, W)``."""
    return as_float(img).mean(axis=-1) * 255.0


def exposure_invariance(scene: SceneImages, lit_level: float = LIT_LEVEL) -> list[dict]:
    """Per exposure: how far ``CR(LLLR)`` is from ``CR(NLHR x1)``, over all pixels and over lit ones.

    Row keys: ``ev``; ``mean_level`` (mean 8-bit value of the input); ``cr_error`` (mean over pixels and
    channels of ``|CR(lq) - CR(gt)|``); ``cr_error_lit`` (the same over pixels with brightness >=
    ``lit_level``; NaN if none) and ``lit_fraction``; ``cr_error_no_noise`` (the same capture simulated
    without noise, from the x4 target, all pixels).
    """
    gt = scene.gt[1]
    rows = []
    for ev, lq in scene.lq.items():
        errors = cr_error_map(lq, gt)
        lit = brightness(lq) >= lit_level
        quiet = simulate_noise_free(scene.gt[4], 4, ev)
        rows.append({
            "ev": ev,
            "mean_level": float(brightness(lq).mean()),
            "cr_error": float(errors.mean()),
            "cr_error_lit": float(errors[lit].mean()) if lit.any() else float("nan"),
            "lit_fraction": float(lit.mean()),
            "cr_error_no_noise": float(cr_error_map(quiet, gt).mean()),
        })
    return rows


def srgb_area_downscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks of the sRGB values themselves (not light): float in [0, 1]."""
    return area_downsample(as_float(img), factor)


def scale_invariance(scene: SceneImages) -> list[dict]:
    """Per scale 2 and 4: ``mean |CR(down(X_s)) - CR(X1)|`` for three ways of going down to the x1 size.

    Row keys: ``scale``; ``linear_light`` (area average in linear light, then sRGB: how the miniature makes
    its X1, so there the x4 row is exact by construction); ``srgb_values`` (area average of sRGB values);
    ``cr_then_average`` (the CR map at the high resolution, averaged down).
    """
    x1 = scene.gt[1]
    rows = []
    for scale in (2, 4):
        hr = scene.gt[scale]
        linear = linear_to_srgb(area_downsample(to_linear(hr), scale))
        rows.append({
            "scale": scale,
            "linear_light": float(cr_error_map(linear, x1).mean()),
            "srgb_values": float(cr_error_map(srgb_area_downscale(hr, scale), x1).mean()),
            "cr_then_average": float(np.abs(area_downsample(cr_map(as_float(hr)), scale) - cr_map(as_float(x1)))
                                     .mean()),
        })
    return rows


def error_by_brightness(images: list[np.ndarray], refs: list[np.ndarray],
                        edges: tuple[float, ...] = OCTAVE_EDGES) -> dict[str, np.ndarray]:
    """The CR error of every pixel of ``images`` against ``refs`` (pairwise), binned by the pixel's brightness.

    Pixels of all pairs are pooled; the brightness is the input's (``images``) mean 8-bit value, binned by
    ``edges`` (left-closed). Returns ``edges``, ``mean_error`` per bin (NaN where empty) and ``count``.
    """
    if len(images) != len(refs) or not images:
        raise UserError("error_by_brightness needs as many reference images as images, and at least one")
    errors = np.concatenate([cr_error_map(img, ref).ravel() for img, ref in zip(images, refs)])
    levels = np.concatenate([brightness(img).ravel() for img in images])
    edges_array = np.asarray(edges, dtype=np.float64)
    which = np.digitize(levels, edges_array) - 1  # bin index, left-closed
    n_bins = len(edges_array) - 1
    count = np.bincount(which, minlength=n_bins)[:n_bins]
    total = np.bincount(which, weights=errors, minlength=n_bins)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_error = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {"edges": edges_array, "mean_error": mean_error, "count": count}


def overexpose(img: np.ndarray, ev: float) -> np.ndarray:
    """A clean image exposed ``ev`` stops in linear light, clipped at white, re-encoded: float sRGB [0, 1].

    No noise, no black point, no rounding: for ``ev <= 0`` only the sRGB curve changes the CR map, for
    ``ev > 0`` the clipping of saturated channels does.
    """
    return linear_to_srgb(clip_white(expose(to_linear(img), ev)))


def overexposure_bias(img: np.ndarray, evs) -> list[dict]:
    """Per ``ev``: the CR error of :func:`overexpose` against ``img``, over all pixels (``cr_error``) and over
    the pixels with a channel clipped at white (``cr_error_clipped``, NaN if none), ``clipped_fraction``, and
    ``chroma_clipped``: ``mean |CR - 1/3|`` of those pixels after exposure over before (below 1: clipping
    pushes their colour towards grey)."""
    linear = to_linear(img)
    reference = cr_map(as_float(img))
    rows = []
    for ev in evs:
        clipped = (expose(linear, ev) >= 1.0).any(axis=-1)  # (H, W)
        exposed_cr = cr_map(overexpose(img, ev))
        errors = np.abs(exposed_cr - reference).mean(axis=-1)
        chroma_before = np.abs(reference[clipped] - 1 / 3).mean() if clipped.any() else np.nan
        chroma_after = np.abs(exposed_cr[clipped] - 1 / 3).mean() if clipped.any() else np.nan
        rows.append({
            "ev": float(ev),
            "cr_error": float(errors.mean()),
            "cr_error_clipped": float(errors[clipped].mean()) if clipped.any() else float("nan"),
            "clipped_fraction": float(clipped.mean()),
            "chroma_clipped": float(chroma_after / chroma_before) if clipped.any() else float("nan"),
        })
    return rows


def channel_order_flips(before: np.ndarray, after: np.ndarray) -> float:
    """Fraction of pixels where some pair of channels swaps order (``R > G`` before, ``R < G`` after).

    A colour ratio can only survive a per-pixel transform that keeps this order: one increasing curve for
    all channels (pooled histogram equalisation) does, one curve per channel need not.
    """
    b, a = as_float(before), as_float(after)
    flipped = np.zeros(b.shape[:-1], dtype=bool)
    for i, j in ((0, 1), (1, 2), (0, 2)):
        flipped |= np.sign(b[..., i] - b[..., j]) * np.sign(a[..., i] - a[..., j]) < 0
    return float(flipped.mean())


def grey_guess_error(gt: np.ndarray) -> float:
    """``mean |CR(gt) - 1/3|``: the CR error of knowing no colour at all (a grey guess) for the target ``gt``."""
    return float(np.abs(cr_map(as_float(gt)) - 1 / 3).mean())


def _capture_row(name: str, capture: np.ndarray, reference: np.ndarray, lit_level: float) -> dict:
    errors = cr_error_map(capture, reference)
    lit = brightness(capture) >= lit_level
    mean_cr = cr_map(as_float(capture)).reshape(-1, 3).mean(axis=0)
    return {
        "capture": name,
        "mean_level": float(brightness(capture).mean()),
        "cr_error": float(errors.mean()),
        "cr_error_lit": float(errors[lit].mean()) if lit.any() else float("nan"),
        "lit_fraction": float(lit.mean()),
        "cr_red": float(mean_cr[0]),
        "cr_green": float(mean_cr[1]),
        "cr_blue": float(mean_cr[2]),
    }


def camera_budget(lq: np.ndarray, gt: np.ndarray, scale: int, ev: float, params: DegradeParams = DegradeParams(),
                  lit_level: float = LIT_LEVEL, seed: int = 0) -> list[dict]:
    """Why a dark capture's CR map differs from its target's: the real capture ``lq``, then simulated captures of
    the same target with one camera effect after another switched off.

    ``gt``: the target at ``scale`` times the size of ``lq`` (uint8); the reference is its CR map at ``lq``'s size
    (``gt`` area-averaged in linear light). The rows, each with :func:`cr_error_map`'s mean over all pixels and
    over lit ones, the lit fraction, the mean level and the mean CR per channel:

    1. ``real``: the real capture;
    2. ``simulated``: the calibrated simulator (:func:`~lolisr_lib.image.degrade.degrade`, ``seed``);
    3. ``no noise``: the same without shot and read noise (:func:`~lolisr_lib.lessons.noise_analysis.simulate_noise_free`);
    4. ``no noise, neutral colour``: also without the red and blue gains of the dark frame;
    5. ``no noise, neutral colour, linear rendering``: also without the tone curve and the pedestal, so that the
       file is the exposed light through the sRGB curve, rounded to 8 bits;
    6. ``exact light, no rounding``: the same, unrounded: only the sRGB curve (not a power law near black) is
       left. A first row, ``target``, gives the target's own mean CR (its errors are 0).
    """
    reference = downscale_target(gt, scale)
    neutral = replace(params, red_gain=1.0, blue_gain=1.0)
    linear = replace(neutral, tone_gamma=1.0, black_point=0.0)
    exact = linear_to_srgb(clip_white(expose(area_downsample(optical_blur(to_linear(gt), params.blur_sigma), scale),
                                             ev)))
    captures = [
        ("target", reference),
        ("real", lq),
        ("simulated", degrade(gt, scale, ev, params, seed=seed)),
        ("no noise", simulate_noise_free(gt, scale, ev, params)),
        ("no noise, neutral colour", simulate_noise_free(gt, scale, ev, neutral)),
        ("no noise, neutral colour, linear rendering", simulate_noise_free(gt, scale, ev, linear)),
        ("exact light, no rounding", exact),
    ]
    return [_capture_row(name, capture, reference, lit_level) for name, capture in captures]
