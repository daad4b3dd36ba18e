"""The command line: ``python -m lolisr_lib COMMAND ...``.

Each command lives in its own module under ``lolisr_lib.commands`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches. A :class:`~lolisr_lib.errors.UserError` becomes one line on
stderr and exit status 2. A command whose parser has the default ``overrides`` (``train``) receives the
unknown ``--`` options there (``--FIELD=VALUE`` config overrides, too open-ended to declare); any other
unknown argument is an error, as with ``parse_args``.
"""

from __future__ import annotations

import argparse
import importlib
import re
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


# argparse reads a lone negative number as a value, but "-3,-4" as an unknown option. A comma-separated list
# of numbers right after a long option (evaluate --exposures -3,-4) is that option's value: joined to it with
# "=", it is read as one whatever it looks like.
NUMBER_LIST = re.compile(r"^-\d*\.?\d+(,\s*-?\d*\.?\d+)+$")


def attach_number_lists(argv: list[str]) -> list[str]:
    """``argv`` with every ``--option -3,-4`` pair written as ``--option=-3,-4``."""
    out: list[str] = []
    for arg in argv:
        if out and NUMBER_LIST.match(arg) and out[-1].startswith("--") and len(out[-1]) > 2 and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, except that unknown ``--`` options go to ``args.overrides`` where the
    command declares that field (see the module docstring)."""
    args, extras = parser.parse_known_args(attach_number_lists(sys.argv[1:] if argv is None else argv))
    takes_overrides = hasattr(args, "overrides")
    unknown = [a for a in extras if not (takes_overrides and a.startswith("--"))]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if takes_overrides:
        args.overrides = extras
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    try:
        return int(_load(args.command).run(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
