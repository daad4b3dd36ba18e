"""Measuring noise in a low-light capture: SNR against the square-root law, amplification by brightening, and
the error a sequential pipeline (brighten, then upscale) accumulates.

Three claims of the RELLISUR paper (Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks) and of LoLiSRFlow
(arXiv 2402.18871, section 1), turned into numbers for notebook 01 with the simulator of
:mod:`lolisr_lib.image.degrade`:

1. Few photons mean a low signal-to-noise ratio. A pixel that collects ``S`` photo-electrons on average has
   Poisson shot noise of variance ``S`` and Gaussian read noise of variance ``sigma_read**2``, so
   ``SNR = S / sqrt(S + sigma_read**2)`` (:func:`theoretical_snr`): it grows like ``sqrt(S)`` in good light
   and like ``S / sigma_read`` in the dark. :func:`flat_patch_snr` measures it on a simulated grey card. This
   SNR is a ratio of amplitudes; as a ratio of powers it is squared (:func:`snr_amplitude_and_power`).
2. Brightening after capture amplifies the noise with the signal: it cannot raise the SNR, it only makes the
   noise visible. :func:`simulate_noise_free` gives the same capture without noise, so that the difference to
   :func:`~lolisr_lib.image.degrade.degrade` is the noise alone (:func:`noise_std`, :func:`linear_snr`);
   :func:`ideal_brighten` is the best brightening that knows the camera and does not denoise. (The SNR is
   exactly unchanged only for a linear camera: a tone curve ``dn ** gamma`` between light and file changes
   the ratio of mean to spread, so the notebook switches it off for that measurement.)
3. Low-light enhancement (LLE) followed by super-resolution (SR) passes the first stage's error to the second,
   which spreads the noise into blobs a few pixels wide (:func:`autocorrelation`) and adds its own error:
   :func:`sequential_errors` measures the error budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lolisr_lib.baselines.classical import bicubic_upscale
from lolisr_lib.errors import UserError
from lolisr_lib.image.color import linear_to_srgb, srgb_to_linear
from lolisr_lib.image.degrade import (
    DegradeParams,
    camera_readings,
    check_capture,
    develop,
    expose,
    light_on_sensor,
    read_noise,
    shot_noise,
    to_linear,
)

PEAK = 255.0  # errors are measured in 8-bit code values, as PSNR is


def theoretical_snr(signal, read_noise_e: float):
    """``S / sqrt(S + read_noise_e**2)``: the SNR of a pixel with ``S`` mean photo-electrons (scalar or array)."""
    signal = np.asarray(signal, dtype=np.float64)
    return signal / np.sqrt(signal + read_noise_e**2)


@dataclass(frozen=True)
class SnrCurve:
    """SNR of a flat grey patch captured at several exposures, measured and predicted."""

    evs: np.ndarray  # exposures in stops, as given
    signal: np.ndarray  # mean photo-electrons per pixel expected at each EV: level * 2**ev * full_well
    measured: np.ndarray  # mean / std of the simulated electron counts (shot noise, then read noise)
    theory: np.ndarray  # theoretical_snr(signal, read_noise)


def flat_patch_snr(
    evs, level: float = 0.18, params: DegradeParams = DegradeParams(), size: int = 64, seed: int = 0
) -> SnrCurve:
    """Capture a flat patch of linear light ``level`` (0.18: a mid-grey card) at each EV and measure its SNR.

    Uses the simulator's own steps (:func:`grey_card_electrons`: ``expose``, ``shot_noise``, ``read_noise``) on a
    ``size x size x 3`` patch; with the default 12,288 samples the estimate is within about 1 % of the truth.
    """
    evs = np.asarray(evs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    measured = []
    for ev in evs:
        electrons = grey_card_electrons(ev, level, params, size, rng)
        measured.append(electrons.mean() / electrons.std())
    signal = level * 2.0**evs * params.full_well
    return SnrCurve(evs, signal, np.asarray(measured), theoretical_snr(signal, params.read_noise))


def grey_card_electrons(
    ev: float, level: float = 0.18, params: DegradeParams = DegradeParams(), size: int = 64, seed=0
) -> np.ndarray:
    """The photo-electrons of a flat patch of linear light ``level`` captured at ``ev``: ``(size, size, 3)``.

    Exposure, shot noise and read noise only (the neutral patch, no colour gains): the counts whose mean over
    standard deviation is the SNR. ``seed`` is an int or a ``numpy.random.Generator`` (drawn from in place).
    """
    if not 0.0 < level <= 1.0:
        raise UserError(f"level is the linear light of the patch and must lie in (0, 1]; got {level!r}")
    if not isinstance(size, int) or size < 4:
        raise UserError(f"size must be an integer of at least 4 (pixels per side); got {size!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    patch = np.full((size, size, 3), level)
    return read_noise(shot_noise(expose(patch, ev), params.full_well, rng), params.read_noise, rng)


def snr_amplitude_and_power(electrons: np.ndarray) -> tuple[float, float]:
    """Two ways to state one SNR: amplitude ``mean / std`` and power ``P_signal / P_noise = mean**2 / var``.

    The power ratio is the amplitude ratio squared (so the amplitude SNR is ``sqrt(P_signal / P_noise)``), and
    both give the same decibels: ``20 log10(amplitude) = 10 log10(power)``.
    """
    electrons = np.asarray(electrons, dtype=np.float64)
    mean, var = float(electrons.mean()), float(electrons.var())
    if var == 0:
        raise UserError("electrons must vary (a noisy capture); their variance is 0, so the SNR is infinite")
    return mean / np.sqrt(var), mean**2 / var


def simulate_noise_free(hr: np.ndarray, scale: int, ev: float, params: DegradeParams = DegradeParams()) -> np.ndarray:
    """The capture :func:`~lolisr_lib.image.degrade.degrade` makes, with the noise switched off: uint8 (H/s, W/s, 3).

    The electron count is its expectation ``linear * 2**ev * full_well`` instead of a Poisson draw, and no read
    noise is added; every other step (blur, area sampling, gain, clipping, the camera's curve, 8 bits) is the
    same. ``degrade(...) - simulate_noise_free(...)`` is the noise of one capture (plus rounding).
    """
    check_capture(hr, scale, ev)
    cam = params.at(ev)
    return develop(light_on_sensor(hr, scale, ev, cam) * cam.full_well, cam)


def ideal_brighten(lq: np.ndarray, ev: float, params: DegradeParams = DegradeParams()) -> np.ndarray:
    """Undo the camera exactly: the best brightening that knows ``ev`` and ``params`` and does no denoising.

    Decode sRGB, undo the black point and the tone curve, divide by the ISO gain, the channel gains and the
    exposure ``2**ev``, encode sRGB again. ``lq``: uint8 (or float in [0, 1]) ``(h, w, 3)``; returns float64
    sRGB in [0, 1], same shape. Code 0 stays 0: shadows clipped to black are lost, and no brightening can
    bring them back.
    """
    cam = params.at(ev)
    dn = camera_readings(to_linear(lq), cam)
    gain = cam.iso_gain * 2.0**ev * np.asarray(cam.channel_gain)
    return linear_to_srgb(np.clip(dn / gain, 0.0, 1.0))


def _codes(img: np.ndarray) -> np.ndarray:
    """An image as float64 8-bit code values: uint8 as is, float in [0, 1] times 255."""
    img = np.asarray(img)
    return img.astype(np.float64) if img.dtype == np.uint8 else img.astype(np.float64) * PEAK


def _check_same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if np.shape(a) != np.shape(b):
        raise UserError(f"{names} must have the same shape; got {np.shape(a)} and {np.shape(b)}")


def noise_std(noisy: np.ndarray, clean: np.ndarray) -> float:
    """Standard deviation of ``noisy - clean`` in 8-bit code values (uint8 images, or floats in [0, 1])."""
    _check_same_shape(noisy, clean, "noisy and clean")
    return float(np.std(_codes(noisy) - _codes(clean)))


def linear_snr(noisy: np.ndarray, clean: np.ndarray) -> float:
    """Image SNR in linear light: mean of the clean image over the std of the noise, both decoded from sRGB.

    Linear light is what the sensor counts, so a brightening that multiplies it by a gain leaves this ratio
    unchanged (up to clipping): the number that brightening cannot improve.
    """
    _check_same_shape(noisy, clean, "noisy and clean")
    signal, noisy_linear = srgb_to_linear(_codes(clean) / PEAK), srgb_to_linear(_codes(noisy) / PEAK)
    return float(signal.mean() / np.std(noisy_linear - signal))


def autocorrelation(noise: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation of a noise image ``(H, W, C)`` at pixel lags ``0 .. max_lag``: ``(max_lag + 1,)``.

    Horizontal and vertical shifts are averaged, each channel's mean is removed first, and lag 0 is 1.
    Independent noise falls to about 0 at lag 1; noise that an upscaler smeared over ``s`` pixels stays high
    up to a lag of about ``s``: that is what a "blob" is.
    """
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim != 3 or not 0 <= max_lag < min(noise.shape[:2]):
        raise UserError(f"noise must be (H, W, C) and max_lag in [0, {min(noise.shape[:2]) - 1}]; "
                        f"got shape {noise.shape} and max_lag {max_lag!r}")
    centred = noise - noise.mean(axis=(0, 1))
    variance = np.mean(centred**2)
    if variance == 0:
        raise UserError("noise is constant, so its autocorrelation is undefined; pass a noise residual")
    height, width = centred.shape[:2]
    values = []
    for lag in range(max_lag + 1):
        across = np.mean(centred[:, lag:] * centred[:, : width - lag])
        down = np.mean(centred[lag:] * centred[: height - lag])
        values.append((across + down) / (2 * variance))
    return np.asarray(values)


@dataclass(frozen=True)
class SequentialErrors:
    """The error budget of brighten-then-upscale, as mean squared errors in 8-bit code values squared.

    Bicubic upscaling ``U`` is linear (up to its final clamp to [0, 1]), so
    ``U(enhanced) - gt = (U(lr_target) - gt) + U(enhanced - lr_target)``:
    the pipeline's error is the SR stage's own error plus the LLE stage's error carried through SR. The two
    are nearly uncorrelated, so ``sequential ~ sr + propagated`` (``additivity ~ 1``).
    """

    lle: float  # the LLE stage alone: brightened LR image against the clean, normally lit LR target
    sr: float  # the SR stage alone: U(clean LR target) against the HR target (an oracle LLE in front)
    propagated: float  # the LLE error after SR: U(brightened) against U(clean LR target)
    sequential: float  # the whole pipeline: U(brightened) against the HR target

    @property
    def additivity(self) -> float:
        """``sequential / (sr + propagated)``: 1 when the two stages' errors simply add up."""
        return self.sequential / (self.sr + self.propagated)

    def psnr(self) -> dict[str, float]:
        """Each MSE as a PSNR in dB (peak 255), keyed by field name."""
        return {name: psnr_from_mse(getattr(self, name)) for name in ("lle", "sr", "propagated", "sequential")}


def psnr_from_mse(mse: float) -> float:
    """``10 log10(255**2 / mse)`` in dB; ``inf`` for a zero error."""
    return float("inf") if mse == 0 else float(10 * np.log10(PEAK**2 / mse))


def upscale(img: np.ndarray, scale: int) -> np.ndarray:
    """The SR stage of the classical baselines (:func:`~lolisr_lib.baselines.classical.bicubic_upscale`) on a
    numpy image: float (or uint8) ``(h, w, 3)`` in, float64 ``(scale*h, scale*w, 3)`` in [0, 1] out."""
    x = torch.from_numpy(_codes(img) / PEAK).permute(2, 0, 1)[None]  # (1, 3, h, w)
    return bicubic_upscale(x, scale)[0].permute(1, 2, 0).numpy()  # (scale*h, scale*w, 3)


def sequential_errors(enhanced: np.ndarray, lr_target: np.ndarray, gt: np.ndarray, scale: int) -> SequentialErrors:
    """Measure :class:`SequentialErrors` for an LLE result ``enhanced`` upscaled by bicubic ``scale``.

    ``enhanced`` and ``lr_target`` (the clean, normally lit LR image) are ``(h, w, 3)``; ``gt`` is the HR
    target ``(scale*h, scale*w, 3)``; uint8 or float in [0, 1]. Errors are computed on unrounded values.
    """
    _check_same_shape(enhanced, lr_target, "enhanced and lr_target")
    height, width = np.shape(enhanced)[:2]
    if np.shape(gt) != (scale * height, scale * width, 3):
        raise UserError(f"gt must be {scale} times the size of enhanced, ({scale * height}, {scale * width}, 3); "
                        f"got {np.shape(gt)}")
    sequential, sr_only, truth = upscale(enhanced, scale), upscale(lr_target, scale), _codes(gt) / PEAK
    return SequentialErrors(
        lle=_mse(_codes(enhanced) / PEAK, _codes(lr_target) / PEAK),
        sr=_mse(sr_only, truth),
        propagated=_mse(sequential, sr_only),
        sequential=_mse(sequential, truth),
    )


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two float images in [0, 1], in 8-bit code values squared."""
    return float(np.mean(((a - b) * PEAK) ** 2))
