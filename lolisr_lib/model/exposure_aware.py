"""A trained model whose output takes its brightness from the capture's exposure (``ev``), not from a guess.

A model that sees only the dark capture must guess how bright the scene was (``docs/simulator.md``, section 5):
it learned what a normal exposure looks like, and a darker or brighter scene fools it. The exposure is known,
though (RELLISUR names it in every file, cameras write it in EXIF), and the calibrated camera run backwards turns
capture and exposure into the scene's brightness (:func:`lolisr_lib.image.exposure.scene_linear_mean`).
:class:`ExposureAware` keeps everything the model restores (noise, colour, detail) and replaces its global
brightness by that estimate: one gain in linear light on the output. A method, not a reference: nothing here
reads the target.
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.image.degrade import DegradeParams
from lolisr_lib.image.exposure import brightness_from_exposure


class ExposureAware(nn.Module):
    """``model.enhance(lq)`` with one gain in linear light, so that its mean is the scene's brightness that the
    capture and its exposure ``ev`` give through the camera ``params`` (default: the calibrated one)."""

    reads_ev = True  # evaluate passes each image's exposure

    def __init__(self, model: nn.Module, params: DegradeParams = DegradeParams()):
        super().__init__()
        self.model = model
        self.params = params
        self.scale = model.scale
        self.config = model.config

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor, ev, **options) -> torch.Tensor:
        """``lq`` (B, 3, h, w) in [0, 1], ``ev`` its exposure (a number or one per image, e.g. -3.0); ``options``
        go to ``model.enhance``. Returns (B, 3, s*h, s*w) in [0, 1]."""
        return brightness_from_exposure(self.model.enhance(lq, **options).float(), lq, ev, self.params)
