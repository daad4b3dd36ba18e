"""Build or load any model of the package by its config: LoLiSRFlow or a learned baseline.

Every model is an ``nn.Module`` with ``forward(lq, gt) -> dict`` (at least ``loss``; the trainer logs every
scalar entry) and ``enhance(lq) -> (B, 3, scale*h, scale*w)`` in [0, 1]; it keeps its :class:`Config` in
``.config`` so that checkpoints carry it.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from lolisr_lib.baselines import LEARNED_BASELINES
from lolisr_lib.checkpoint import checkpoint_config, expect_scale, read_checkpoint, restore
from lolisr_lib.config import Config
from lolisr_lib.errors import ConfigError
from lolisr_lib.model.lolisrflow import LoLiSRFlow


def _registry() -> dict:
    return {"lolisrflow": LoLiSRFlow, **LEARNED_BASELINES}


def build_model(config: Config) -> nn.Module:
    """A freshly initialised model for ``config.model.arch``."""
    registry = _registry()
    arch = config.model.arch
    if arch not in registry:
        raise ConfigError(f"unknown model.arch {arch!r}; choose one of {', '.join(sorted(registry))}")
    return registry[arch](config)


def load_model(path: str | Path, map_location=None, *, expected_scale: int | None = None) -> nn.Module:
    """The model stored in a checkpoint (``save`` or a training checkpoint), in eval mode."""
    return model_from_payload(read_checkpoint(path, map_location), path, map_location, expected_scale=expected_scale)


def model_from_payload(payload: dict, path: str | Path, map_location=None, *,
                       expected_scale: int | None = None) -> nn.Module:
    """:func:`load_model` of a checkpoint already read (``path`` names it in errors), in eval mode."""
    config = checkpoint_config(payload, path)
    expect_scale(config, expected_scale, path)
    return restore(build_model(config), payload, path, map_location)
