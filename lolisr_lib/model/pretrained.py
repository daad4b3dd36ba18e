"""The trained models shipped with the collection: ``data/pretrained/lolisrflow-x{2,4}.pt``, and the two CNN
baselines that LoLiSRFlow is compared with in notebook 09, ``joint-cnn-x{2,4}.pt`` and
``sequential-cnn-x{2,4}.pt``.

All were trained by this library's own ``train`` command: the flows on the ``wide-ema-long-x2`` and
``wide-ema-long-x4`` presets (``SHIPPED_PRESETS``), the CNNs on ``small-x2`` / ``small-x4`` with ``--arch joint-cnn`` /
``--arch sequential-cnn``; all on pairs simulated from the photographs scikit-image and
matplotlib ship (never on real RELLISUR images); the model card ``data/pretrained/README.md`` gives the data, the
commands, the wall time and the measured figures.

A shipped file holds the config and the weights only (no optimiser state), stored in float16 to stay under
10 MiB; :func:`load` returns a float32 model, which scores within 0.05 dB of the float32 weights
(``tests/test_pretrained.py``). :func:`export` makes such a file from a training checkpoint.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from torch import nn

from lolisr_lib.checkpoint import checkpoint_config, inference_weights, read_checkpoint, write_checkpoint
from lolisr_lib.errors import CheckpointError, UserError

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "data" / "pretrained"
SHIPPED_SCALES = (2, 4)
SHIPPED_ARCHS = ("lolisrflow", "joint-cnn", "sequential-cnn")  # the model and the baselines it is compared with
SHIPPED_PRESETS = {2: "wide-ema-long-x2", 4: "wide-ema-long-x4"}  # the preset each shipped LoLiSRFlow file was trained with


def parse_scale(text: str | int) -> int:
    """``"x2"``, ``"2"`` or ``2`` to 2; anything else is a :class:`UserError` listing the shipped scales."""
    value = str(text).strip().lower().removeprefix("x")
    if value not in {str(s) for s in SHIPPED_SCALES}:
        raise UserError(f"--pretrained {text!r}: the shipped models are {', '.join(f'x{s}' for s in SHIPPED_SCALES)}")
    return int(value)


def path(scale: str | int, arch: str = "lolisrflow") -> Path:
    """The file of the shipped x``scale`` model of ``arch`` (it may not exist in a partial checkout)."""
    if arch not in SHIPPED_ARCHS:
        raise UserError(f"no shipped {arch!r} model; the shipped architectures are {', '.join(SHIPPED_ARCHS)}")
    return PRETRAINED_DIR / f"{arch}-x{parse_scale(scale)}.pt"


def shipped_file(scale: str | int, arch: str = "lolisrflow") -> Path:
    """:func:`path`, checked: a missing file is a :class:`CheckpointError` saying how to get it back."""
    file = path(scale, arch)
    if not file.is_file():
        raise CheckpointError(f"{file} is missing; it ships with the repository (data/pretrained/). Restore it with "
                              f"git, or train it again with the command in data/pretrained/README.md")
    return file


def load(scale: str | int, map_location=None, arch: str = "lolisrflow") -> nn.Module:
    """The shipped x``scale`` model (LoLiSRFlow, or ``arch="joint-cnn"`` / ``"sequential-cnn"``), float32, in eval
    mode."""
    from lolisr_lib.model.build import load_model

    return load_model(shipped_file(scale, arch), map_location).float()


def export(checkpoint: str | Path, out: str | Path, *, half: bool = True, name: str | None = None) -> Path:
    """Write the config and weights of a training ``checkpoint`` to ``out``, floats as float16 when ``half``; a
    ``name`` replaces the config's (a run given overrides keeps the name of the preset it started from)."""
    return _export_payload(read_checkpoint(checkpoint, map_location="cpu"), checkpoint, out, half=half, name=name)


def _export_payload(payload: dict, checkpoint: str | Path, out: str | Path, *, half: bool, name: str | None) -> Path:
    """:func:`export` of a checkpoint already read (``ship`` reads its run's checkpoint once, for all its uses)."""
    config = checkpoint_config(payload, checkpoint)
    config = config if name is None else replace(config, name=name)
    state = {
        name: (tensor.half() if half and tensor.is_floating_point() else tensor)
        for name, tensor in inference_weights(payload).items()
    }
    return write_checkpoint(out, config, state, step=int(payload.get("step", 0)))


def checkpoint_argument(checkpoint: str | None, pretrained: str | None) -> str | Path | None:
    """The checkpoint path a command was given, with ``--pretrained x2`` as a shorthand for the shipped file."""
    if pretrained is None:
        return checkpoint
    if checkpoint is not None:
        raise UserError("give --checkpoint or --pretrained, not both")
    return shipped_file(pretrained)


def ship(run_dir: str | Path, scale: int, *, checkpoint: str = "best.pt") -> dict:
    """Make the shipped x``scale`` model from a finished ``train`` run: the float16 file, its training log, and
    ``metrics-x{scale}.json`` (the model card's figures, :func:`lolisr_lib.evaluate.card.measure_card`, plus the
    float32 checkpoint's Test PSNR, to show what float16 storage costs). Returns the figures."""
    import shutil

    from lolisr_lib.evaluate import evaluate
    from lolisr_lib.evaluate.card import measure_card, write_card
    from lolisr_lib.model.build import model_from_payload

    run_dir = Path(run_dir)
    source = run_dir / checkpoint
    payload = read_checkpoint(source, map_location="cpu")  # read once: the preset check, the export, float32
    name = _check_shipped_preset(payload, source, scale)
    out = _export_payload(payload, source, path(scale), half=True, name=name)
    card = measure_card(load(scale), scale)
    full = model_from_payload(payload, source, "cpu").float()
    card["float32_psnr"] = evaluate(full, _mini_root(), "Test", scale).summary["psnr"]
    card["checkpoint_step"] = int(payload.get("step", 0))
    card["file_bytes"] = out.stat().st_size
    for name in ("log.csv", "val.csv"):
        shutil.copyfile(run_dir / name, PRETRAINED_DIR / f"lolisrflow-x{scale}-{name}")
    write_card(card, PRETRAINED_DIR / f"metrics-x{scale}.json")
    return card


def _mini_root():
    from lolisr_lib.data import default_root

    return default_root()


def _check_shipped_preset(payload: dict, checkpoint: Path, scale: int) -> str:
    """The name of the preset a shipped x``scale`` file must come from; a run of anything else is refused, so that
    the model card's one command (``train --preset NAME``) reproduces what ships."""
    from lolisr_lib.config import preset

    name = SHIPPED_PRESETS[parse_scale(scale)]
    config = checkpoint_config(payload, checkpoint)
    if replace(config, name=name) != preset(name):
        raise UserError(f"{checkpoint}: its run was not trained with the {name} preset (config {config.name!r} "
                        f"differs), so `train --preset {name}` would not reproduce it; ship a {name} run, or "
                        f"change SHIPPED_PRESETS in lolisr_lib/model/pretrained.py with the model card")
    return name


def parse_model_arguments(parser):
    """Add a checkpoint argument and ``--pretrained x2|x4`` to a benchmark's ``argparse`` parser, parse the command
    line and load the one model it names; returns ``(args, model)``. Giving both or neither is a usage error."""
    from lolisr_lib.model.build import load_model

    parser.add_argument("checkpoint", nargs="?", help="a model file or a run's best.pt")
    parser.add_argument("--pretrained", choices=[f"x{s}" for s in sorted(SHIPPED_PRESETS)],
                        help="a shipped model instead of a checkpoint")
    args = parser.parse_args()
    if (args.checkpoint is None) == (args.pretrained is None):
        parser.error("give a checkpoint or --pretrained x2|x4")
    return args, (load(args.pretrained) if args.pretrained else load_model(args.checkpoint))
