"""Checkpoint files: one format for trained models and resumable training state.

A checkpoint is a dict saved with ``torch.save`` and read back with ``torch.load(..., weights_only=True)``
(tensors, numbers, strings, lists and dicts only: no pickled code). It always holds:

- ``format``: ``"lolisr-checkpoint-v1"``;
- ``config``: the :class:`~lolisr_lib.config.Config` as a JSON string (``Config.to_json()``), so the model can
  be rebuilt from the file alone;
- ``model``: the model's ``state_dict``.

Training checkpoints add optimiser, scheduler, step, RNG states and data position. Writes are atomic (a
temporary file in the same folder, then ``os.replace``) so that a run killed at any moment leaves either the
previous file or the new one, never half a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from lolisr_lib.config import Config, config_from_dict
from lolisr_lib.errors import CheckpointError
from lolisr_lib.runtime.files import atomic_write

CHECKPOINT_FORMAT = "lolisr-checkpoint-v1"


def write_checkpoint(path: str | Path, config: Config, model_state: dict, **extra) -> Path:
    """Write a checkpoint atomically; ``extra`` entries (optimiser state, step, ...) are stored alongside."""
    payload = {"format": CHECKPOINT_FORMAT, "config": config.to_json(), "model": model_state, **extra}
    # durable: the bytes must be on disk before the rename makes them the checkpoint
    return atomic_write(path, lambda file: torch.save(payload, file), durable=True)


def read_checkpoint(path: str | Path, map_location=None) -> dict:
    """Load a checkpoint dict; a missing, truncated or foreign file raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist; pass the .pt file written by `train` or `save`")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, zipfile errors...
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt: {type(err).__name__}); "
            "use an earlier checkpoint or retrain"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a lolisr checkpoint (no '{CHECKPOINT_FORMAT}' marker)")
    for key in ("config", "model"):
        if key not in payload:
            raise CheckpointError(f"{path} has no '{key}' entry; the file is damaged")
    return payload


def inference_weights(payload: dict) -> dict:
    """The weights to run a checkpoint with: the weight average when training kept one (it is the model that
    was validated, ``train/average.py``), else the trained weights themselves."""
    average = payload.get("ema")
    return average["weights"] if average else payload["model"]


def checkpoint_config(payload: dict, path: str | Path = "checkpoint") -> Config:
    """The :class:`Config` stored in a checkpoint dict."""
    try:
        return config_from_dict(json.loads(payload["config"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: the stored config cannot be read ({err})") from None


def expect_scale(config: Config, expected_scale: int | None, path: str | Path) -> None:
    """Refuse a checkpoint made for another scale than the caller needs (``None``: any scale)."""
    if expected_scale is not None and config.model.scale != expected_scale:
        raise CheckpointError(
            f"{path} holds a x{config.model.scale} model ({config.name}); this needs x{expected_scale}"
        )


def restore(model: nn.Module, payload: dict, path: str | Path, map_location=None) -> nn.Module:
    """Load a checkpoint's inference weights into the freshly built ``model``; return it in eval mode."""
    try:
        model.load_state_dict(inference_weights(payload))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path}: the weights do not fit the config stored with them ({first})") from None
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)  # load_state_dict copies into the CPU-built parameters: move them too
    return model.eval()
