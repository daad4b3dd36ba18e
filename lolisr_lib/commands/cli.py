"""The command line: ``python -m lolisr_lib COMMAND ...``.

Each command lives in its own module under ``lolisr_lib.commands`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches. A :class:`~lolisr_lib.errors.UserError` becomes one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lolisr_lib.errors import UserError

# command name -> (module under lolisr_lib.commands, one-line help)
# Each helper module adds its own line here when its command exists.
COMMANDS = {
    "demo": ("demo", "execute the notebook collection on the bundled miniature"),
    "data": ("data", "build the miniature dataset or check a RELLISUR copy"),
    "evaluate": ("evaluate", "score a checkpoint or a classical baseline on a RELLISUR split (protocol A)"),
    "enhance": ("enhance", "brighten and upscale one 8-bit RGB image with a trained model"),
    "train": ("train", "train LoLiSRFlow or a learnable baseline"),
    "bench": ("bench", "measure training throughput and inference latency"),
}


def _load(name: str):
    return importlib.import_module(f"lolisr_lib.commands.{COMMANDS[name][0]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lolisr_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        _load(name).add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(_load(args.command).run(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
