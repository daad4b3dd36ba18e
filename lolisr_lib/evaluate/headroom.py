"""How much of a model's error is global brightness: the model's output with its brightness taken from the answer.

A model that brightens a dark capture must guess how bright the scene was: the sensor records radiance times
exposure, so a dark scene at -3 EV and a bright one at -4 EV can give the same input. The oracle-gain
reference reads that brightness from the ground truth. :class:`BrightnessFromTarget` gives a trained model the
same help, one gain in linear light on its output so that its mean equals the target's, which separates what the
model restores (noise, colour, detail: what is left) from the brightness it guessed (what the gain fixes).
``benchmarks/brightness_headroom.py`` scores it beside the model and the baselines.
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.baselines.classical import OracleGainBaseline, match_linear_mean


class BrightnessFromTarget(nn.Module):
    """A reference, not a method: ``model.enhance(lq)`` with its linear mean matched to the target's."""

    reads_target = True  # evaluate passes the ground truth

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.scale = model.scale

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``lq`` (B, 3, h, w), ``target`` (B, 3, s*h, s*w): the model's output, brightness from ``target``."""
        return match_linear_mean(self.model.enhance(lq).float().clamp(0, 1), target.to(lq.device))


class AveragedWithOracleGain(nn.Module):
    """A reference, not a method: the mean of :class:`BrightnessFromTarget`'s output and the oracle gain's image.

    Both read the target's brightness; what differs is the rest. Where the average scores above both, the model
    and the brightened capture make different errors, so the capture still holds something the model's output
    lost: the measurement behind the input skip (docs/model.md, "The input skip";
    ``benchmarks/skip_headroom.py``)."""

    reads_target = True  # evaluate passes the ground truth

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = BrightnessFromTarget(model)
        self.oracle = OracleGainBaseline(model.scale)
        self.scale = model.scale

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``lq`` (B, 3, h, w), ``target`` (B, 3, s*h, s*w): the average of the two images, in [0, 1]."""
        model = self.model.enhance(lq, target).float()
        return (model + self.oracle.enhance(lq, target=target.to(lq.device)).float()) / 2
