"""The checkpoint files of a training run: ``last.pt``, ``prev.pt``, ``best.pt`` in the run folder.

``last.pt`` is rewritten every ``checkpoint_every`` steps and at the end. Before it is replaced, the current
one becomes ``prev.pt`` (a hard link renamed into place, so ``last.pt`` exists at every moment; a copy where
the filesystem has no hard links). Each write is atomic (``checkpoint.write_checkpoint``), so a kill leaves
complete files; should ``last.pt`` still be unreadable (a disk that filled up, a partial copy), resuming
refuses it with a message naming it and falls back to ``prev.pt``. ``best.pt`` holds the state with the best
validation PSNR so far (on Val, never Test). All three are complete, resumable training checkpoints that
``models.load_model`` also reads.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import asdict
from pathlib import Path

from lolisr_lib.checkpoint import read_checkpoint, write_checkpoint
from lolisr_lib.config import Config, TrainConfig
from lolisr_lib.errors import CheckpointError, ConfigError
from lolisr_lib.train.schedule import lr_lambda

LAST, PREV, BEST = "last.pt", "prev.pt", "best.pt"


def save_last(out_dir: Path, config: Config, model_state: dict, **extra) -> Path:
    """Keep the current ``last.pt`` as ``prev.pt``, then write the new ``last.pt``; both steps atomic."""
    last = out_dir / LAST
    if last.is_file():
        tmp = out_dir / f".{PREV}.tmp-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        try:
            os.link(last, tmp)
        except OSError:
            shutil.copyfile(last, tmp)
        os.replace(tmp, out_dir / PREV)
    return write_checkpoint(last, config, model_state, **extra)


def save_best(out_dir: Path, config: Config, model_state: dict, **extra) -> Path:
    return write_checkpoint(out_dir / BEST, config, model_state, **extra)


def open_for_resume(out_dir: Path, map_location=None) -> tuple[Path, dict, str | None]:
    """The checkpoint to resume from: ``last.pt``, else ``prev.pt``; plus a note when it fell back.

    Raises :class:`CheckpointError` naming the folder when neither can be read.
    """
    last, prev = out_dir / LAST, out_dir / PREV
    if not last.is_file() and not prev.is_file():
        raise CheckpointError(
            f"cannot resume: {last} does not exist; train without resume first, or pass the run folder "
            "that holds last.pt"
        )
    try:
        return last, _training_payload(last, map_location), None
    except CheckpointError as err:
        if not prev.is_file():
            raise
        payload = _training_payload(prev, map_location)  # raises if prev.pt is damaged too
        return prev, payload, f"{err}; resuming from {prev} (step {payload['step']}) instead"


def _training_payload(path: Path, map_location) -> dict:
    payload = read_checkpoint(path, map_location)
    missing = [k for k in ("step", "optimizer", "scheduler", "rng", "data") if k not in payload]
    if missing:
        raise CheckpointError(
            f"{path} is a model file, not a training checkpoint (no {', '.join(missing)}); it cannot be resumed"
        )
    return payload


# Train fields that may change between a run and its resumption: they change what is logged, checked or
# saved, or how long the run goes on and how its learning rate decays from here (extending a finished run with
# further halvings), never the arithmetic of a step already taken.
RESUMABLE_CHANGES = {
    "name", "train.steps", "train.decay_at", "train.num_workers", "train.log_every", "train.val_every",
    "train.val_images", "train.val_crop", "train.checkpoint_every", "train.max_skipped_in_a_row",
}


def resume_config(requested: Config | None, stored: Config, path: Path, step: int = 0) -> Config:
    """The config to continue with: ``stored``, updated with the harmless changes of ``requested``.

    Any other difference (model, batch, learning rate, seed...) would make the continuation a different
    run, so it raises :class:`ConfigError` listing the fields. A new length or decay that gives any of the
    ``step`` steps already taken another learning rate is allowed but warned about: the finished run is then no
    longer what the new config gives from scratch.
    """
    if requested is None:
        return stored
    ours, theirs = _flat(asdict(requested)), _flat(asdict(stored))
    differing = sorted(k for k in ours if ours[k] != theirs.get(k))
    blocked = [k for k in differing if k not in RESUMABLE_CHANGES]
    if blocked:
        shown = ", ".join(f"{k}={theirs.get(k)!r} there, {ours[k]!r} here" for k in blocked[:4])
        raise ConfigError(
            f"cannot resume {path} with a different config ({shown}{', ...' if len(blocked) > 4 else ''}); "
            "resume with the config stored in the checkpoint or start a new out_dir"
        )
    _warn_if_the_past_schedule_changes(stored.train, requested.train, step, path)
    return requested


def _warn_if_the_past_schedule_changes(old: TrainConfig, new: TrainConfig, step: int, path: Path) -> None:
    before, after = lr_lambda(old), lr_lambda(new)
    changed = next((s for s in range(step) if before(s) != after(s)), None)
    if changed is not None:
        warnings.warn(f"resuming {path} at step {step} with train.steps={new.steps}, train.decay_at={new.decay_at}: "
                      f"step {changed} would have had learning-rate factor {after(changed):g}, not "
                      f"{before(changed):g}, so the run no longer matches this config started from scratch",
                      stacklevel=3)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = tuple(v) if isinstance(v, list) else v
    return out
