"""``python -m lolisr_lib demo``: build the miniature, then execute the notebook collection into build/."""

from __future__ import annotations

from pathlib import Path

from lolisr_lib.commands.notebook_runner import REPO, parameter_value, run_collection


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, default=REPO / "build", help="build folder (default: build/)")
    parser.add_argument("--only", nargs="*", help="run only notebooks whose names start with these prefixes")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (passed to the notebooks)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a value of the notebooks' parameters cell, as papermill's -p (repeatable; "
                             "e.g. --only 08 -p PRESET paper-x4 -p STEPS 100000)")


def run(args) -> int:
    from lolisr_lib.data import check_dataset, default_root

    root = default_root()
    print(f"miniature dataset: {root}")
    print(check_dataset(root).format())
    parameters = {name: parameter_value(value) for name, value in args.parameter}
    runs = run_collection(args.out, only=args.only, device=args.device, parameters=parameters)
    total = sum(r.seconds for r in runs)
    print(f"\nexecuted {len(runs)} notebooks in {total:.0f} s into {args.out / 'notebooks'}")
    for r in runs:
        print(f"  {r.name:45s} {r.seconds:6.1f} s")
    results = sorted(args.out.glob("*/results*.md"))
    for path in results:
        print(f"results table: {path}")
    print(f"figures: {args.out}/<notebook>/*.png")
    return 0
