"""The scene's brightness read from a low-light capture and its exposure: the calibrated camera run backwards.

A dark capture alone does not say how bright the scene was: the sensor records radiance times exposure, so a dark
scene at -3 EV and a bright one at -4 EV can give the same picture. The exposure itself is known, though. Every
camera writes it into the file (EXIF), and RELLISUR puts it in every low-light file's name (``00018-3.0.png`` is
three stops under the normal exposure). Learning to See in the Dark (Chen et al., CVPR 2018) uses the same
number: it amplifies its raw input by the known exposure ratio.

With the exposure known, the capture model of :mod:`lolisr_lib.image.degrade` can be inverted pixel by pixel:

    code value c  ->  linear l = sRGB^-1(c)                       (undo the sRGB curve)
                  ->  dn**gamma = l (1 - b) + b                     (undo the black point b)
                  ->  dn = (dn**gamma) ** (1 / gamma)               (undo the tone curve)
                  ->  dn without the lift of clipping at 0          (see below)
                  ->  light = dn / (iso_gain * 2**ev * gain_c)      (undo the ISO gain, the exposure, the colour)

and the mean of ``light`` is the linear mean of the normally exposed scene (at the capture's resolution, which
leaves the mean unchanged).

One correction before the last step. The ADC clips negative readings (read noise around a dark pixel) at 0, so
the darkest pixels read brighter on average than the light they caught: at -5 EV that alone makes the estimate
about 0.16 stops too bright. With the camera's noise known (shot noise from ``full_well``, ``read_noise``), the
mean of a Gaussian reading clipped at 0 is a known function of the unclipped mean; :func:`unclip_dark_readings`
inverts it on each pixel's local mean (light is never negative, so neither is the answer). What is left is the
8-bit rounding of the darkest codes (measured in ``docs/simulator.md``, section 5). The camera of a real scene
differs from the calibrated one as much as real cameras differ, which is the estimate's real limit.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from lolisr_lib.errors import UserError
from lolisr_lib.image.color import linear_to_srgb, quantize_8bit, srgb_to_linear
from lolisr_lib.image.degrade import Camera, DegradeParams, camera_readings

LOCAL_WINDOW = 5  # pixels on a side of the neighbourhood whose mean reading stands for a pixel's light
UNCLIP_ITERATIONS = 20  # fixed-point steps; each shrinks the error by the probability of a reading below 0


def _exposures(ev, batch: int) -> torch.Tensor:
    """``ev`` (a number, or one per image) as a float64 (B,) tensor, checked."""
    evs = torch.as_tensor(ev, dtype=torch.float64).flatten().cpu()
    if evs.numel() == 1:
        evs = evs.expand(batch)
    if evs.numel() != batch:
        raise UserError(f"ev: give one exposure, or one per image ({batch}); got {evs.numel()}")
    if not torch.isfinite(evs).all() or (evs > 0).any():
        raise UserError(f"ev must be finite exposures <= 0 (e.g. -3.0 for three stops darker); got {evs.tolist()}")
    return evs


def clipped_mean(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """E[max(X, 0)] for X ~ N(``mean``, ``std``**2): the average reading of an ADC that clips at 0."""
    a = mean / std
    return mean * 0.5 * (1 + torch.erf(a / math.sqrt(2))) + std * torch.exp(-a * a / 2) / math.sqrt(2 * math.pi)


def unclip_dark_readings(dn: torch.Tensor, cam: Camera) -> torch.Tensor:
    """``dn`` (3, h, w), readings of the ADC (white = 1) that clipped at 0, with each pixel's share of the
    clipping's lift removed: its local mean ``mu`` is taken as the clipped mean of a reading of mean ``m >= 0``
    and the camera's noise (shot noise and read noise, in DN), ``m`` solved by fixed-point iteration."""
    mu = F.avg_pool2d(dn[None], LOCAL_WINDOW, 1, LOCAL_WINDOW // 2, count_include_pad=False)[0]
    electrons_per_dn = cam.full_well / cam.iso_gain
    m = mu.clone()
    for _ in range(UNCLIP_ITERATIONS):
        std = torch.sqrt(m / electrons_per_dn + (cam.read_noise / electrons_per_dn) ** 2).clamp(min=1e-12)
        m = (m - (clipped_mean(m, std) - mu)).clamp(min=0)
    return dn - (mu - m)


def scene_linear_mean(capture: torch.Tensor, ev, params: DegradeParams = DegradeParams()) -> torch.Tensor:
    """The linear mean of the normally exposed scene behind each low-light ``capture`` (B, 3, h, w) in [0, 1],
    taken at exposure ``ev`` (a number or one per image, stops below normal) by the camera ``params``
    (default: the one calibrated on real RELLISUR captures). Returns float64 (B,)."""
    if capture.ndim != 4 or capture.shape[1] != 3:
        raise UserError(f"capture must be a (B, 3, h, w) RGB batch; got shape {tuple(capture.shape)}")
    evs = _exposures(ev, capture.shape[0])
    means = []
    for image, exposure in zip(capture.double().clamp(0, 1), evs.tolist()):
        cam = params.at(exposure)
        dn = unclip_dark_readings(camera_readings(srgb_to_linear(image), cam), cam)
        colour = torch.tensor(cam.channel_gain, dtype=torch.float64, device=dn.device)
        collected = cam.iso_gain * 2.0**exposure * colour
        means.append((dn / collected[:, None, None]).mean())
    return torch.stack(means)


def capture_linear_mean(lq: torch.Tensor) -> torch.Tensor:
    """The linear-light mean of each capture ``lq`` (B, 3, h, w) in [0, 1]: float64 (B,)."""
    return srgb_to_linear(lq.clamp(0, 1).double()).mean((1, 2, 3))


def scale_to_linear_mean(images: torch.Tensor, linear_mean: torch.Tensor) -> torch.Tensor:
    """``images`` (B, 3, H, W) in [0, 1] times one gain each in linear light, so that each one's linear mean
    becomes ``linear_mean`` (B,); clipped to [0, 1] and returned in sRGB, in the images' dtype."""
    linear = srgb_to_linear(images.clamp(0, 1).double())
    gain = linear_mean.to(linear.device, torch.float64) / linear.mean((1, 2, 3)).clamp(min=1e-8)  # (B,)
    return linear_to_srgb((linear * gain[:, None, None, None]).clamp(0, 1)).to(images.dtype)


def brightness_from_exposure(prediction: torch.Tensor, capture: torch.Tensor, ev,
                             params: DegradeParams = DegradeParams()) -> torch.Tensor:
    """``prediction`` (B, 3, H, W), a model's output for ``capture`` (B, 3, h, w), with one gain in linear light
    so that its brightness is the scene's that ``capture`` and its exposure ``ev`` give (:func:`scene_linear_mean`)."""
    return scale_to_linear_mean(prediction.clamp(0, 1), scene_linear_mean(capture, ev, params))


def expose_to_mean(img: np.ndarray, mean: float, iterations: int = 14) -> np.ndarray:
    """``img`` (uint8) times the gain in linear light that gives it the mean code value ``mean`` (clipping at
    white, as a longer exposure would); bisection on the gain in stops, within 2**-4 .. 2**4, measured on
    every 4th pixel (the mean of a photograph needs no more)."""
    linear = srgb_to_linear(img / 255.0)
    sample = linear[::4, ::4]
    low, high = -4.0, 4.0
    for _ in range(iterations):
        stops = (low + high) / 2
        if 255.0 * linear_to_srgb(np.clip(sample * 2.0**stops, 0.0, 1.0)).mean() > mean:
            high = stops
        else:
            low = stops
    return quantize_8bit(linear_to_srgb(np.clip(linear * 2.0 ** ((low + high) / 2), 0.0, 1.0)))


__all__ = ["brightness_from_exposure", "clipped_mean", "expose_to_mean", "scale_to_linear_mean", "scene_linear_mean",
           "unclip_dark_readings"]
