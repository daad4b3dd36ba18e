"""A physically grounded simulator of low light and low resolution: a clean sRGB photo in, an LLLR image out.

RELLISUR (Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks) photographs each scene at normal exposure
with a long focal length (the NLHR target) and at -2 to -5 EV with a short one (the LLLR input). This module
imitates that capture so that the notebooks can show each step on its own and the miniature dataset
(:mod:`lolisr_lib.data.mini`) can be built without a download. The pipeline, one pure function per step:

1. sRGB to linear light (:func:`to_linear`): light adds up linearly, sRGB values do not.
2. Optical blur (:func:`optical_blur`): the lens's point-spread function, a Gaussian of ``sigma`` HR pixels.
3. Downsampling (:func:`area_downsample`): each LR sensor pixel integrates the light of ``scale x scale`` HR
   pixels, so the box (area) average in linear light is the physical model.
4. Exposure (:func:`expose`): a shorter exposure collects ``2**ev`` of the light (EV <= 0 is darker).
5. Photon shot noise (:func:`shot_noise`): light arrives as photons, so the photo-electron count is Poisson
   with mean ``light * full_well``; its relative error ``1 / sqrt(count)`` grows as the light falls.
6. Read noise (:func:`read_noise`): the readout electronics add Gaussian noise of fixed size in electrons,
   which dominates the darkest pixels.
7. ISO gain (:func:`iso_amplify`): analog gain turns electrons into digital numbers (DN, white level = 1), so
   a higher ISO amplifies signal and read noise alike.
8. Clipping at the white level (:func:`clip_white`): the ADC saturates at 1 and cannot go below 0.
9. Camera response (:func:`camera_response`): the standard sRGB curve (IEC 61966-2-1) after a black point
   ``black_point`` (the toe of a camera's rendering: values below it become black, which hides the deepest
   shadow noise and makes dark frames darker than plain sRGB predicts).
10. 8-bit quantisation (:func:`quantize_8bit`): round to the nearest of 256 levels.

:func:`degrade` composes them; :func:`downscale_target` makes the clean x2 / x1 targets (steps 1, 3 and back).

Calibration against RELLISUR (real LLLR means: about 20 at -3 EV down to about 3 at -5 EV, for targets of
mean about 90 to 110). Plain sRGB cannot reach that: a normally exposed photo shifted to -3 EV keeps a mean
of about 37, and the ratio between -3 and -5 EV (about 7 in RELLISUR) needs a toe in the curve. Two knobs
were fitted to those means: ``iso_gain = 0.58`` (the dark frames come out about 0.8 EV darker than a plain
exposure shift of their targets; camera metering's highlight headroom and the targets' brighter rendering
are the likely causes) and ``black_point = 0.006`` (the toe). The noise (``full_well = 5000`` electrons,
``read_noise = 4`` electrons per LR pixel) was chosen so that brightened -5 EV frames are visibly grainy, as
RELLISUR's are. Measured with the defaults (seed 0, scale 4) on the normally exposed colour photographs that
scikit-image ships (astronaut, chelsea, coffee, motorcycle_left cropped to multiples of 4; clean means 114.6,
115.2, 98.6 and 107.8, 109.1 on average), the mean output pixel value (0..255) per EV:

=====  =====  =====  =====  =====  =====  =====  =====
EV      -2.0   -2.5   -3.0   -3.5   -4.0   -4.5   -5.0
mean    36.3   28.2   21.2   15.2   10.2    6.1    3.0
=====  =====  =====  =====  =====  =====  =====  =====

``tests/test_degrade.py`` re-measures the -3 and -5 EV figures and checks them against RELLISUR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from lolisr_lib.color import linear_to_srgb, quantize_8bit, srgb_to_linear  # quantize_8bit: the last step
from lolisr_lib.errors import UserError


@dataclass(frozen=True)
class DegradeParams:
    """Camera and optics of the simulated low-light, low-resolution capture (defaults: RELLISUR-like)."""

    blur_sigma: float = 1.0  # std of the Gaussian lens PSF in HR pixels; 0 disables the blur
    full_well: float = 5000.0  # photo-electrons that fill an LR pixel to the white level at iso_gain 1
    read_noise: float = 4.0  # std of the readout noise in electrons (Gaussian, signal independent)
    iso_gain: float = 0.58  # analog gain, DN per electron relative to 1 / full_well; see the calibration above
    black_point: float = 0.006  # fraction of white mapped to black by the camera's rendering (the curve's toe)


def _check_image(img: np.ndarray, name: str) -> None:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        shape = getattr(img, "shape", type(img).__name__)
        raise UserError(f"{name} must be a numpy array of shape (H, W, 3), channel-last RGB; got {shape}")


def to_linear(img: np.ndarray) -> np.ndarray:
    """Decode an sRGB image (uint8, or float in [0, 1]) to float64 linear light in [0, 1], shape kept."""
    if img.dtype == np.uint8:
        return srgb_to_linear(img.astype(np.float64) / 255.0)
    if not np.issubdtype(img.dtype, np.floating):
        raise UserError(f"the image must be uint8 or float in [0, 1]; got dtype {img.dtype}")
    if img.size and (np.nanmin(img) < 0.0 or np.nanmax(img) > 1.0 or np.isnan(img).any()):
        raise UserError("a float image must hold values in [0, 1]; divide 8-bit values by 255 first")
    return srgb_to_linear(img.astype(np.float64))


def optical_blur(linear: np.ndarray, sigma: float) -> np.ndarray:
    """Blur each channel with a Gaussian PSF of std ``sigma`` pixels (edges reflected); 0 is a no-op."""
    if sigma <= 0:
        return linear
    return gaussian_filter(linear, sigma=(sigma, sigma, 0), mode="reflect")


def area_downsample(linear: np.ndarray, scale: int) -> np.ndarray:
    """Average non-overlapping ``scale x scale`` blocks: (H, W, 3) -> (H / scale, W / scale, 3)."""
    height, width, channels = linear.shape
    blocks = linear.reshape(height // scale, scale, width // scale, scale, channels)  # (h, s, w, s, 3)
    return blocks.mean(axis=(1, 3))  # (h, w, 3)


def expose(linear: np.ndarray, ev: float) -> np.ndarray:
    """Scale the light by ``2**ev``: an exposure ``ev`` stops from normal (negative is darker)."""
    return linear * 2.0**ev


def shot_noise(linear: np.ndarray, full_well: float, rng: np.random.Generator) -> np.ndarray:
    """Photo-electron counts: Poisson with mean ``linear * full_well`` (linear 1 fills the well)."""
    return rng.poisson(linear * full_well).astype(np.float64)


def read_noise(electrons: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add the readout's Gaussian noise of std ``sigma`` electrons (may go below zero before the ADC clips)."""
    return electrons + rng.normal(0.0, sigma, size=electrons.shape)


def iso_amplify(electrons: np.ndarray, iso_gain: float, full_well: float) -> np.ndarray:
    """Digital numbers relative to white: ``electrons * iso_gain / full_well`` (signal and noise alike)."""
    return electrons * (iso_gain / full_well)


def clip_white(dn: np.ndarray) -> np.ndarray:
    """The ADC's range: digital numbers below 0 read 0, above the white level (1) read 1."""
    return np.clip(dn, 0.0, 1.0)


def camera_response(dn: np.ndarray, black_point: float) -> np.ndarray:
    """Render linear DN as sRGB in [0, 1]: subtract the black point, rescale to [0, 1], apply the sRGB curve."""
    return linear_to_srgb(np.clip((dn - black_point) / (1.0 - black_point), 0.0, 1.0))


def _check_scale(img: np.ndarray, scale: int, name: str) -> None:
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
        raise UserError(f"scale must be a positive integer such as 1, 2 or 4; got {scale!r}")
    height, width = img.shape[:2]
    if height % scale or width % scale:
        raise UserError(
            f"{name} is {height} x {width}, not divisible by scale {scale}; crop it to "
            f"{height - height % scale} x {width - width % scale} first"
        )


def degrade(
    hr: np.ndarray, scale: int, ev: float, params: DegradeParams = DegradeParams(), seed: int = 0
) -> np.ndarray:
    """Simulate a low-light, low-resolution capture of the clean sRGB image ``hr``.

    ``hr``: (H, W, 3) uint8, or float in [0, 1]; ``scale``: integer dividing H and W; ``ev``: exposure in
    stops, <= 0. Returns uint8 (H / scale, W / scale, 3). Deterministic: the same ``seed`` gives the same
    noise (``numpy.random.default_rng(seed)``).
    """
    _check_image(hr, "hr")
    _check_scale(hr, scale, "hr")
    if not np.isfinite(ev) or ev > 0:
        raise UserError(f"ev must be a finite exposure <= 0 (e.g. -3.0 for three stops darker); got {ev!r}")
    rng = np.random.default_rng(seed)
    linear = area_downsample(optical_blur(to_linear(hr), params.blur_sigma), scale)
    electrons = read_noise(shot_noise(expose(linear, ev), params.full_well, rng), params.read_noise, rng)
    dn = clip_white(iso_amplify(electrons, params.iso_gain, params.full_well))
    return quantize_8bit(camera_response(dn, params.black_point))


def downscale_target(gt: np.ndarray, factor: int) -> np.ndarray:
    """A clean, normally lit target at ``1 / factor`` of the size: area average in linear light, uint8 sRGB.

    Used for the x2 and x1 targets of the miniature (the x4 crop downscaled by 2 and 4).
    """
    _check_image(gt, "gt")
    _check_scale(gt, factor, "gt")
    return quantize_8bit(linear_to_srgb(area_downsample(to_linear(gt), factor)))
