"""A physically grounded simulator of low light and low resolution: a clean sRGB photo in, an LLLR image out.

RELLISUR (Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks) photographs each scene at normal exposure
with a long focal length (the NLHR target) and at -2 to -5 EV with a short one (the LLLR input). This module
imitates that capture so that the notebooks can show each step on its own and the miniature dataset
(:mod:`lolisr_lib.data.mini`) can be built without a download. The pipeline, one pure function per step:

1. sRGB to linear light (:func:`to_linear`): light adds up linearly, sRGB values do not.
2. Optical blur (:func:`optical_blur`): the lens's point-spread function, a Gaussian of ``sigma`` HR pixels.
3. Downsampling (:func:`area_downsample`): each LR sensor pixel integrates the light of ``scale x scale`` HR
   pixels, so the box (area) average in linear light is the physical model.
4. Exposure (:func:`expose`): a shorter exposure collects ``2**ev`` of the light (EV <= 0 is darker), times a
   per-channel gain (the dark frame's colour differs from the target's: a different white balance).
5. Photon shot noise (:func:`shot_noise`): light arrives as photons, so the photo-electron count is Poisson
   with mean ``light * full_well``; its relative error ``1 / sqrt(count)`` grows as the light falls.
6. Read noise (:func:`read_noise`): the readout electronics add Gaussian noise of fixed size in electrons,
   which dominates the darkest pixels.
7. ISO gain (:func:`iso_amplify`): analog gain turns electrons into digital numbers (DN, white level = 1), so
   a higher ISO amplifies signal and read noise alike.
8. Clipping at the white level (:func:`clip_white`): the ADC saturates at 1 and cannot go below 0.
9. Tone curve (:func:`tone_curve`): ``dn ** tone_gamma``, the camera's rendering of an under-exposed frame.
10. Camera response (:func:`camera_response`): subtract the black point (negative: a small pedestal of
    flare and black-level offset that lifts the deepest shadows), then the standard sRGB curve.
11. 8-bit quantisation (:func:`quantize_8bit`): round to the nearest of 256 levels.

:func:`degrade` composes them; :func:`downscale_target` makes the clean x2 / x1 targets (steps 1, 3 and back).

Calibration on real captures (``lolisr_lib.image.calibration``; docs/simulator.md). Two real RELLISUR Test pairs
(00018 at -3.0 EV, 00736 at -5.0 EV) were matched by degrading each x2 target to its input's EV and fitting
the camera to the real capture (Nelder-Mead on the mean, the black-pixel fraction, the oracle-gain PSNR and
the code-value histograms). What the fit found:

- no extra gain beyond the nominal ``2**ev`` (``iso_gain = 1``), but a tone curve steeper than linear
  (``tone_gamma`` 1.29 at -3 EV, 1.40 at -5 EV): the real dark frames are darker than a plain exposure shift
  mostly in their shadows and mid-tones, as a camera's toe does, yet without crushing them to black;
- a tiny pedestal instead of a toe (``black_point`` -0.0015 at -3 EV, -0.00005 at -5 EV): real captures keep
  their shadows (0 % and 7 % black pixels), where the previous toe made 50-75 % of the pixels black;
- a colour shift: red 0.90 / 0.47 and blue 1.10 / 1.11 of green, relative to the target (the dark frames
  are bluer, more so the darker they are);
- noise of ``full_well = 2000`` electrons and ``read_noise = 4`` electrons per LR pixel.

Fields given as a pair hold their values at :data:`CALIBRATION_EVS` (-3 and -5 EV); :meth:`DegradeParams.at`
interpolates linearly in EV between them and holds the end values outside (the two pairs say nothing beyond
them). A plain float is the same at every EV. Measured against the real captures (seed 0; re-measured by
``tests/test_calibration.py``):

=========  ==============  ===============  =====================
pair       mean (0..255)   black pixels     oracle-gain PSNR (x2)
=========  ==============  ===============  =====================
00018 -3   real 19.5       real 0.0 %       real 24.1 dB
           sim 19.4        sim 0.0 %        sim 24.5 dB
00736 -5   real 3.26       real 7.4 %       real 15.8 dB
           sim 3.23        sim 8.6 %        sim 15.3 dB
=========  ==============  ===============  =====================

With the defaults (seed 0, scale 4) on the normally exposed colour photographs that scikit-image ships
(astronaut, chelsea, coffee, motorcycle_left cropped to multiples of 4; clean means 109.1 on average), the
mean output code value and the percentage of black pixels per EV:

=======  =====  =====  =====  =====  =====  =====  =====
EV        -2.0   -2.5   -3.0   -3.5   -4.0   -4.5   -5.0
mean      39.1   31.3   25.0   17.5   11.4    6.5    3.0
black %    0.0    0.0    0.0    0.0    0.0    0.0    6.8
=======  =====  =====  =====  =====  =====  =====  =====

(The previous, uncalibrated simulator had a black-point toe: 21.2 at -3 EV, but 28 to 60 % black pixels.)

:meth:`DegradeParams.jittered` draws cameras around the calibrated one, for training that does not overfit
one simulated camera (degradation augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from lolisr_lib.errors import UserError
from lolisr_lib.image.color import linear_to_srgb, quantize_8bit, srgb_to_linear  # quantize_8bit: the last step

CALIBRATION_EVS = (-3.0, -5.0)  # the exposures of the two real pairs the per-EV fields were fitted on
PerEV = float | tuple[float, float]  # one value at every EV, or the values at CALIBRATION_EVS


def value_at(value: PerEV, ev: float) -> float:
    """A per-EV field at exposure ``ev``: linear in EV between the calibration EVs, held constant outside."""
    if isinstance(value, (int, float)):
        return float(value)
    (ev_a, ev_b), (at_a, at_b) = CALIBRATION_EVS, value
    t = min(max((ev - ev_a) / (ev_b - ev_a), 0.0), 1.0)
    return float(at_a + t * (at_b - at_a))


@dataclass(frozen=True)
class Camera:
    """The camera of one capture: every field of :class:`DegradeParams` resolved at one EV."""

    blur_sigma: float
    full_well: float
    read_noise: float
    iso_gain: float
    tone_gamma: float
    black_point: float
    channel_gain: tuple[float, float, float]  # (red, green, blue) light collected relative to the target
    black_offsets: tuple[float, float, float] = (0.0, 0.0, 0.0)  # per-channel shift of black_point (R, G, B)


@dataclass(frozen=True)
class DegradeParams:
    """Camera and optics of the simulated low-light, low-resolution capture (defaults: calibrated on RELLISUR).

    A field that is a pair holds its values at -3 and -5 EV (:data:`CALIBRATION_EVS`); see :meth:`at`.
    """

    blur_sigma: float = 1.0  # std of the Gaussian lens PSF in HR pixels; 0 disables the blur
    full_well: float = 2000.0  # photo-electrons that fill an LR pixel to the white level at iso_gain 1
    read_noise: float = 4.0  # std of the readout noise in electrons (Gaussian, signal independent)
    iso_gain: float = 1.0  # analog gain, DN per electron relative to 1 / full_well
    tone_gamma: PerEV = (1.29, 1.40)  # the rendering curve dn ** gamma of a dark frame (1: linear)
    black_point: PerEV = (-0.0015, -0.00005)  # subtracted before the sRGB curve; < 0 is a pedestal (lift)
    red_gain: PerEV = (0.90, 0.47)  # red light collected relative to green, dark frame against target
    blue_gain: PerEV = (1.10, 1.107)  # blue light collected relative to green
    # Added to black_point per channel (R, G, B); < 0 lifts that channel's shadows. The calibrated camera has
    # none; training may draw them (jittered(channel_pedestal=...)): real dark frames lift green more.
    black_offsets: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def at(self, ev: float) -> Camera:
        """Every field resolved at exposure ``ev`` (pairs interpolated, see :func:`value_at`)."""
        return Camera(
            blur_sigma=self.blur_sigma,
            full_well=self.full_well,
            read_noise=self.read_noise,
            iso_gain=self.iso_gain,
            tone_gamma=value_at(self.tone_gamma, ev),
            black_point=value_at(self.black_point, ev),
            channel_gain=(value_at(self.red_gain, ev), 1.0, value_at(self.blue_gain, ev)),
            black_offsets=tuple(float(b) for b in self.black_offsets),
        )

    def jittered(self, rng: np.random.Generator, amount: float = 1.0, *, channel_pedestal: float = 0.0
                 ) -> DegradeParams:
        """A camera drawn around this one (degradation augmentation): noise, gain, curve, colour, blur.

        ``amount`` scales every spread (0 returns these params). Spreads: full well and read noise by a
        factor up to 2 either way, ISO gain by 2**U(-0.5, 0.5), tone gamma +-0.15, black point +-0.001,
        red and blue gains by 2**U(-0.5, 0.5), blur sigma U(0.5, 1.5) times. ``channel_pedestal`` > 0 also
        shifts each channel's black point by its own U(-p, p) * amount (a coloured pedestal in the shadows, as
        real dark frames have); it is drawn after the rest, so 0 (the default) leaves the draws as they were.
        """
        if not np.isfinite(channel_pedestal) or channel_pedestal < 0:
            raise UserError(f"channel_pedestal must be a spread >= 0 in linear DN (e.g. 0.0005); "
                            f"got {channel_pedestal!r}")
        if amount == 0:
            return self

        def factor(spread_log2: float) -> float:
            return float(2.0 ** rng.uniform(-spread_log2 * amount, spread_log2 * amount))

        def shift(value: PerEV, spread: float, scale: float = 1.0) -> PerEV:
            delta = rng.uniform(-spread * amount, spread * amount)
            if isinstance(value, (int, float)):
                return value * scale + delta
            return (value[0] * scale + delta, value[1] * scale + delta)

        return DegradeParams(
            blur_sigma=self.blur_sigma * float(rng.uniform(1 - 0.5 * amount, 1 + 0.5 * amount)),
            full_well=self.full_well * factor(1.0),
            read_noise=self.read_noise * factor(1.0),
            iso_gain=self.iso_gain * factor(0.5),
            tone_gamma=shift(self.tone_gamma, 0.15),
            black_point=shift(self.black_point, 0.001),
            red_gain=shift(self.red_gain, 0.0, factor(0.5)),
            blue_gain=shift(self.blue_gain, 0.0, factor(0.5)),
            black_offsets=self._drawn_offsets(rng, channel_pedestal * amount),
        )

    def _drawn_offsets(self, rng: np.random.Generator, spread: float) -> tuple[float, float, float]:
        if spread == 0:
            return self.black_offsets
        return tuple(float(b + d) for b, d in zip(self.black_offsets, rng.uniform(-spread, spread, 3)))


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


def expose(linear: np.ndarray, ev: float, channel_gain=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Scale the light by ``2**ev`` (an exposure ``ev`` stops from normal; negative is darker) and each
    channel by its gain (the capture's colour relative to the target's)."""
    return linear * (2.0**ev * np.asarray(channel_gain, dtype=np.float64))


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


def tone_curve(dn: np.ndarray, gamma: float) -> np.ndarray:
    """The rendering curve ``dn ** gamma`` on DN in [0, 1] (gamma > 1 darkens shadows more than highlights)."""
    return dn if gamma == 1.0 else np.power(dn, gamma)


def camera_response(dn: np.ndarray, black_point) -> np.ndarray:
    """Render linear DN as sRGB in [0, 1]: subtract the black point, rescale to [0, 1], apply the sRGB curve.

    A negative black point is a pedestal: black reads ``-black_point`` of white, the shadows are lifted.
    ``black_point``: one float, or one per channel (shape (3,), for channel-last ``dn``)."""
    return linear_to_srgb(np.clip((dn - black_point) / (1.0 - black_point), 0.0, 1.0))


def camera_readings(linear, cam: Camera):
    """The camera's rendering undone: the ADC readings (white = 1) behind decoded linear values ``linear`` (the sRGB
    curve already undone; numpy or torch): the black point removed, then the tone curve. Code 0 reads 0, since
    nothing below the pedestal was kept. The inverse of :func:`camera_response` after :func:`tone_curve`, for a
    camera without per-channel black offsets (those are training augmentation only)."""
    if any(cam.black_offsets):
        raise UserError(f"camera_readings undoes one black point for all channels; this camera has per-channel "
                        f"offsets {cam.black_offsets}: use the calibrated camera, DegradeParams().at(ev)")
    toned = (cam.black_point + linear * (1.0 - cam.black_point)).clip(0.0, 1.0) * (linear > 0)
    return toned ** (1.0 / cam.tone_gamma)


def shift_black_points(capture: np.ndarray, offsets) -> np.ndarray:
    """A capture as if its camera's black point per channel had been ``offsets`` (R, G, B, linear DN) lower:
    ``(linear - offset) / (1 - offset)`` in decoded linear light, re-encoded to 8 bits; a negative offset lifts
    that channel's shadows (a coloured pedestal). uint8 (H, W, 3) in and out. Exact for a camera whose own
    black point is 0; used to test how a model treats the uneven pedestals of real dark frames."""
    _check_image(capture, "capture")
    offsets = np.asarray(offsets, dtype=np.float64)
    if offsets.shape != (3,) or not np.all(np.abs(offsets) < 0.5):
        raise UserError(f"offsets must be three small numbers (R, G, B) in linear DN, e.g. (0, -0.0004, 0); "
                        f"got {offsets.tolist()}")
    linear = to_linear(capture)
    return quantize_8bit(linear_to_srgb(np.clip((linear - offsets) / (1.0 - offsets), 0.0, 1.0)))


def _check_scale(img: np.ndarray, scale: int, name: str) -> None:
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
        raise UserError(f"scale must be a positive integer such as 1, 2 or 4; got {scale!r}")
    height, width = img.shape[:2]
    if height % scale or width % scale:
        raise UserError(
            f"{name} is {height} x {width}, not divisible by scale {scale}; crop it to "
            f"{height - height % scale} x {width - width % scale} first"
        )


def check_capture(hr: np.ndarray, scale: int, ev: float) -> None:
    """The arguments of a simulated capture, checked: a UserError naming the one at fault."""
    _check_image(hr, "hr")
    _check_scale(hr, scale, "hr")
    if not np.isfinite(ev) or ev > 0:
        raise UserError(f"ev must be a finite exposure <= 0 (e.g. -3.0 for three stops darker); got {ev!r}")


def light_on_sensor(hr: np.ndarray, scale: int, ev: float, cam: Camera) -> np.ndarray:
    """The optics: linear light, lens blur, area sampling by the pixels, the exposure and the RGB gains.

    Returns float64 (H / scale, W / scale, 3) as a fraction of the full well (1 = white).
    """
    linear = area_downsample(optical_blur(to_linear(hr), cam.blur_sigma), scale)
    return expose(linear, ev, cam.channel_gain)


def develop(electrons: np.ndarray, cam: Camera) -> np.ndarray:
    """The camera's processing of a sensor reading (electrons): ISO gain, clipping, the tone curve, the sRGB
    response with its black point, 8 bits. Returns uint8."""
    dn = clip_white(iso_amplify(electrons, cam.iso_gain, cam.full_well))
    black = cam.black_point + np.asarray(cam.black_offsets) if any(cam.black_offsets) else cam.black_point
    return quantize_8bit(camera_response(tone_curve(dn, cam.tone_gamma), black))


def degrade(
    hr: np.ndarray, scale: int, ev: float, params: DegradeParams = DegradeParams(), seed: int = 0
) -> np.ndarray:
    """Simulate a low-light, low-resolution capture of the clean sRGB image ``hr``.

    ``hr``: (H, W, 3) uint8, or float in [0, 1]; ``scale``: integer dividing H and W; ``ev``: exposure in
    stops, <= 0. Returns uint8 (H / scale, W / scale, 3). Deterministic: the same ``seed`` gives the same
    noise (``numpy.random.default_rng(seed)``).
    """
    check_capture(hr, scale, ev)
    rng = np.random.default_rng(seed)
    cam = params.at(ev)
    light = light_on_sensor(hr, scale, ev, cam)
    electrons = read_noise(shot_noise(light, cam.full_well, rng), cam.read_noise, rng)
    return develop(electrons, cam)


def downscale_target(gt: np.ndarray, factor: int) -> np.ndarray:
    """A clean, normally lit target at ``1 / factor`` of the size: area average in linear light, uint8 sRGB.

    Used for the x2 and x1 targets of the miniature (the x4 crop downscaled by 2 and 4).
    """
    _check_image(gt, "gt")
    _check_scale(gt, factor, "gt")
    return quantize_8bit(linear_to_srgb(area_downsample(to_linear(gt), factor)))
