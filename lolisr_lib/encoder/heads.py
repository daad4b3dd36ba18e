"""What every encoder hands to the flow: one condition per flow level and the colour-ratio (CR) map.

LoLiSRFlow (arXiv 2402.18871) conditions each of its ``L = 3`` flow levels on encoder features and puts the
prior's mean at the predicted CR map (as LLFlow, Wang et al., AAAI 2022). Flow level ``l`` works at ``HR /
2^l``, so with ``H = scale * h`` the conditions have the shapes

    level 1: (B, cond_1, H/2, W/2)    level 2: (B, cond_2, H/4, W/4)    level 3: (B, cond_3, H/8, W/8)

and the CR map is ``(B, 3, H, W)`` in (0, 1). This module holds that contract (geometry, input check) and
the parts shared by the encoders: the heads and the :class:`ConditionEncoder` base.
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.config import SCALES
from lolisr_lib.encoder.blocks import LayerNorm2d, at_least_float32
from lolisr_lib.encoder.features import EncoderFeatures
from lolisr_lib.errors import ConfigError, UserError

LEVELS = 3  # flow levels the encoders serve, one condition each [paper]; model.flow.levels must equal it
# lq height and width must be multiples of this (the model reflect-pads to it): the coarsest level sits at
# scale * LR / 2**LEVELS, reached by stride-2 convs that must halve exactly for the branches to line up. x2 and
# x4 would need only 4 and 2; one rule for every scale keeps padding, crops and tiles the same for all models.
MULTIPLE = 2**LEVELS


def check_scale(scale: int) -> int:
    """``scale`` if supported, else a ConfigError naming the choices."""
    if scale not in SCALES:
        raise ConfigError(f"scale={scale!r} is not supported; choose one of {SCALES}")
    return scale


def level_log2_factors(scale: int) -> tuple[int, ...]:
    """``log2`` of (condition resolution / LR resolution) per level, level 1 first.

    scale 4: (1, 0, -1); scale 2: (0, -1, -2); scale 1: (-1, -2, -3). Level ``l`` sits at ``scale * h / 2^l``.
    """
    log2_scale = check_scale(scale).bit_length() - 1
    return tuple(log2_scale - level for level in range(1, LEVELS + 1))


def per_level(value: int | tuple[int, ...], name: str) -> tuple[int, ...]:
    """An int repeated for every level, or a tuple of exactly ``LEVELS`` positive ints."""
    values = (value,) * LEVELS if isinstance(value, int) else tuple(value)
    if len(values) != LEVELS or not all(isinstance(v, int) and v > 0 for v in values):
        raise ConfigError(f"{name}={value!r} must be a positive int or a tuple of {LEVELS} positive ints")
    return values


def check_lq(lq: torch.Tensor) -> None:
    """Raise UserError unless ``lq`` is ``(B, 3, h, w)`` with ``h`` and ``w`` multiples of 8."""
    if lq.ndim != 4 or lq.shape[1] != 3:
        raise UserError(f"encoder input lq must have shape (B, 3, h, w); got {tuple(lq.shape)}")
    _check_size(lq, "input")


def check_features(features: torch.Tensor, channels: int) -> None:
    """Raise UserError unless ``features`` is ``(B, channels, h, w)`` with ``h`` and ``w`` multiples of 8."""
    if features.ndim != 4 or features.shape[1] != channels:
        raise UserError(
            f"encoder features must have shape (B, {channels}, h, w), as encoder_features gives them with this "
            f"encoder's use_* switches; got {tuple(features.shape)}"
        )
    _check_size(features, "feature")


def _check_size(x: torch.Tensor, what: str) -> None:
    h, w = x.shape[-2:]
    if h % MULTIPLE or w % MULTIPLE:
        raise UserError(
            f"encoder {what} size {h}x{w} is not a multiple of {MULTIPLE} in height and width; "
            f"reflect-pad lq first (the model does this for you) or crop it to a multiple of {MULTIPLE}"
        )


class ConditionEncoder(nn.Module):
    """What every encoder shares: the scale, one condition width per level, the input features, and
    ``forward(lq) = forward_features(features(lq))``. A subclass builds its trunk after calling this
    ``__init__`` and defines ``forward_features`` (which a tiled ``enhance`` calls on a crop of the features)."""

    def __init__(self, scale: int, cond_channels: int | tuple[int, ...], sizes: dict[str, int], *, use_log: bool,
                 use_he: bool, use_cr: bool, use_noise: bool):
        super().__init__()
        self.scale = check_scale(scale)
        self.cond_channels = per_level(cond_channels, "cond_channels")
        for name, value in sizes.items():  # e.g. channels, blocks: positive ints
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{type(self).__name__} {name}={value!r} must be a positive int")
        self.features = EncoderFeatures(use_log=use_log, use_he=use_he, use_cr=use_cr, use_noise=use_noise)

    def forward(self, lq: torch.Tensor, he: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Conditions and CR map of ``lq``; ``he``: the whole image's equalisation cropped to ``lq`` (optional)."""
        check_lq(lq)
        return self.forward_features(self.features(lq, he))

    def forward_features(self, features: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must define forward_features")


class CondHead(nn.Module):
    """LayerNorm then 1x1 conv from a branch to one level's condition features.

    The norm keeps the condition's scale independent of how many residual blocks fed the branch, which the
    flow's coupling nets (zero-initialised, so sensitive to input scale once they train) appreciate.
    """

    def __init__(self, in_channels: int, cond_channels: int):
        super().__init__()
        self.norm = LayerNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, cond_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(x))  # (B, cond_channels, H, W)


class CRHead(nn.Module):
    """CR map from features at ``HR/2``: PixelShuffle(2) to HR, 1x1 conv to 3 channels, sigmoid into (0, 1)."""

    def __init__(self, in_channels: int):
        super().__init__()
        if in_channels % 4:
            raise ConfigError(
                f"the CR head pixel-shuffles {in_channels} channels by 2, which needs a multiple of 4; "
                "choose channels as a multiple of 4"
            )
        self.shuffle = nn.PixelShuffle(2)
        self.conv = nn.Conv2d(in_channels // 4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.conv(self.shuffle(x))  # (B, 3, H, W)
        # float32 sigmoid: in bf16 it rounds to exactly 1.0 for logits above ~6.2, leaving the open interval.
        return torch.sigmoid(at_least_float32(logits))
