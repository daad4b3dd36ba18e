"""The low-light, low-resolution simulator one step at a time, keeping every intermediate image.

:func:`lolisr_lib.image.degrade.degrade` composes eleven pure steps (sRGB to linear, lens blur, area sampling, exposure
with the channel gains, shot noise, read noise, ISO gain, clipping, tone curve, camera response with its
pedestal, 8 bits) and returns only the result; the per-EV fields of the camera are resolved once at the input's
EV (:meth:`~lolisr_lib.image.degrade.DegradeParams.at`), and the step titles show the values used. Notebook 01
shows each step's image, so :func:`degrade_steps` runs the same steps with the same random draws and keeps
them all; its last image is bit-identical to ``degrade`` (the notebook's check cell asserts it). RELLISUR
(Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks) is the capture this imitates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lolisr_lib.image.degrade import (
    DegradeParams,
    area_downsample,
    camera_response,
    check_capture,
    clip_white,
    expose,
    iso_amplify,
    optical_blur,
    quantize_8bit,
    read_noise,
    shot_noise,
    to_linear,
    tone_curve,
)


@dataclass(frozen=True)
class Step:
    """One stage of the simulated capture."""

    name: str  # what the step does, for a figure title
    image: np.ndarray  # its output, (H, W, 3)
    white: float  # the value of this step's white: 255 for 8-bit codes, full_well for electrons, else 1
    linear: bool  # True while values are linear light (or electrons, or DN); False once sRGB-encoded


def degrade_steps(
    hr: np.ndarray, scale: int, ev: float, params: DegradeParams = DegradeParams(), seed: int = 0
) -> list[Step]:
    """Every intermediate image of ``degrade(hr, scale, ev, params, seed)``, the input first, the result last.

    Same arguments and the same random draws as :func:`~lolisr_lib.image.degrade.degrade`, so ``steps[-1].image``
    equals its output exactly. ``hr``: uint8 (or float in [0, 1]) ``(H, W, 3)``, ``scale`` divides H and W.
    """
    check_capture(hr, scale, ev)
    rng = np.random.default_rng(seed)
    cam = params.at(ev)
    white_in = 255.0 if hr.dtype == np.uint8 else 1.0
    steps = [Step("sRGB photograph", hr, white_in, False)]
    steps.append(Step("linear light", to_linear(hr), 1.0, True))
    steps.append(Step(f"lens blur (sigma {cam.blur_sigma:g} px)", optical_blur(steps[-1].image, cam.blur_sigma),
                      1.0, True))
    steps.append(Step(f"sensor sampling (area / {scale})", area_downsample(steps[-1].image, scale), 1.0, True))
    gains = "/".join(f"{g:.2f}" for g in cam.channel_gain)
    steps.append(Step(f"exposure 2^{ev:g}, RGB gains {gains}", expose(steps[-1].image, ev, cam.channel_gain),
                      1.0, True))
    well = cam.full_well
    steps.append(Step("photon shot noise (e-)", shot_noise(steps[-1].image, well, rng), well, True))
    steps.append(Step(f"read noise ({cam.read_noise:g} e-)", read_noise(steps[-1].image, cam.read_noise, rng),
                      well, True))
    steps.append(Step(f"ISO gain {cam.iso_gain:g}", iso_amplify(steps[-1].image, cam.iso_gain, well), 1.0, True))
    steps.append(Step("clip to [0, white]", clip_white(steps[-1].image), 1.0, True))
    steps.append(Step(f"tone curve (gamma {cam.tone_gamma:.2f})", tone_curve(steps[-1].image, cam.tone_gamma), 1.0,
                      True))
    steps.append(Step("camera response (sRGB)", camera_response(steps[-1].image, cam.black_point), 1.0, False))
    steps.append(Step("8-bit quantisation", quantize_8bit(steps[-1].image), 255.0, False))
    return steps
