"""``python -m lolisr_lib train``: train LoLiSRFlow or a learnable baseline (see :mod:`lolisr_lib.train`).

Examples::

    python -m lolisr_lib train --preset tiny-x2 --out runs/tiny
    python -m lolisr_lib train --out runs/tiny --resume
    python -m lolisr_lib train --preset tiny-x2 --arch joint-cnn --out runs/cnn --train.batch_size=4 --lr=1e-3
    torchrun --nproc_per_node=4 -m lolisr_lib train --preset paper-x2 --data RELLISUR-Dataset --out runs/x2

Any ``--FIELD=VALUE`` not listed below overrides a config field (``lolisr_lib.config.with_overrides``: a dotted
path, the section optional when the name is unique). ``--steps N`` stops at global step N without changing
the schedule; ``--train.steps=N`` changes the run's length (and so the schedule).
"""

from __future__ import annotations

import os
from pathlib import Path

from lolisr_lib.errors import ConfigError
from lolisr_lib.runtime.device import DEVICE_CHOICES


def add_arguments(parser) -> None:
    parser.add_argument("--preset", help="config preset, e.g. tiny-x2 or paper-x4 (default with --resume: the "
                        "config stored in the run's checkpoint)")
    parser.add_argument("--data", type=Path, default=None, help="RELLISUR root (default: the bundled miniature)")
    parser.add_argument("--out", type=Path, required=True, help="run folder for checkpoints and logs")
    parser.add_argument("--steps", type=int, default=None, help="stop at this global step (default: train.steps)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    parser.add_argument("--device", default="auto", help=f"{', '.join(DEVICE_CHOICES)} or cuda:N")
    parser.add_argument("--arch", help="shortcut for --model.arch=ARCH (lolisrflow, joint-cnn, sequential-cnn)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.epilog = "Any other --FIELD=VALUE overrides a config field, e.g. --train.batch_size=4 --lr=1e-3."
    parser.allow_abbrev = False  # "--seed=1" is a config override, never an abbreviation of an option here
    parser.set_defaults(overrides=[])  # cli.py puts the unknown "--FIELD=VALUE" options here


def run(args) -> int:
    from lolisr_lib.config import preset, with_overrides
    from lolisr_lib.train import train

    for item in args.overrides:
        if "=" not in item:
            raise ConfigError(f"{item}: unknown option; config overrides take the form --FIELD=VALUE "
                              "(e.g. --train.batch_size=4)")
    overrides = ([f"model.arch={args.arch}"] if args.arch else []) + args.overrides
    config = with_overrides(preset(args.preset) if args.preset else _stored_config(args), overrides)
    result = train(config, data_root=args.data, out_dir=args.out, device=args.device,
                   resume=args.resume, steps=args.steps, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        chosen_by = config.train.select_by
        why = "" if chosen_by == "psnr" else f", chosen by Val {chosen_by}"
        best = (f"{result.best_checkpoint} (Val PSNR {result.best_psnr:.2f} dB{why})" if result.best_checkpoint
                else "none")
        print(f"step {result.step} in {result.seconds:.1f} s, {result.skipped_steps} skipped steps\n"
              f"last checkpoint: {result.last_checkpoint}\nbest checkpoint: {best}\n"
              f"logs: {args.out / 'log.csv'}, {args.out / 'val.csv'}")
    return 0


def _stored_config(args):
    """With ``--resume`` and no ``--preset``: the config of the run being continued."""
    if not args.resume:
        raise ConfigError("--preset is required (e.g. --preset tiny-x2) unless --resume continues a run")
    from lolisr_lib.checkpoint import checkpoint_config
    from lolisr_lib.config import Config
    from lolisr_lib.train.run_folder import LAST, PREV, open_for_resume

    if not any((args.out / name).is_file() for name in (LAST, PREV)):
        # stopped before its first checkpoint: the config it was started with is in config.json
        stored = args.out / "config.json"
        if not stored.is_file():
            raise ConfigError(f"cannot resume {args.out}: it holds no checkpoint and no config.json; start the run "
                              "with --preset")
        return Config.from_json(stored.read_text())
    path, payload, _ = open_for_resume(args.out, map_location="cpu")
    return checkpoint_config(payload, path)
