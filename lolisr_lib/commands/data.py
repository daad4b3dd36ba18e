"""``python -m lolisr_lib data``: build the miniature RELLISUR, or check a copy of the real one.

``data make-mini [--out DIR] [--lr-size N] [--seed S] [--duplicates]`` writes ``DIR/RELLISUR-Dataset``
(default: the one :func:`lolisr_lib.data.default_root` uses). ``data check ROOT [--deep]`` prints counts per
split, scale and EV and every problem found; exit status 0 when the copy is sound, 1 when not, 2 when ROOT
does not exist.
"""

from __future__ import annotations

import time
from pathlib import Path


def add_arguments(parser) -> None:
    from lolisr_lib.data.mini import DEFAULT_LR_SIZE, DEFAULT_SEED

    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    mini = sub.add_parser("make-mini", help="build the miniature dataset from scikit-image's photographs")
    mini.add_argument("--out", type=Path, help="folder to hold RELLISUR-Dataset/ (default: data/mini)")
    mini.add_argument("--lr-size", type=int, default=DEFAULT_LR_SIZE, help="LLLR side (default: %(default)s)")
    mini.add_argument("--seed", type=int, default=DEFAULT_SEED, help="crops and noise (default: %(default)s)")
    mini.add_argument("--duplicates", action="store_true", help="also write NLHR-Duplicates/ copies")
    check = sub.add_parser("check", help="check a RELLISUR copy: counts, missing, misnamed, mis-sized files")
    check.add_argument("root", type=Path, help="the RELLISUR-Dataset folder (or its parent)")
    check.add_argument("--deep", action="store_true", help="also decode every image (slow on the full dataset)")


def run(args) -> int:
    from lolisr_lib.data import check_dataset, make_mini_rellisur
    from lolisr_lib.data.mini import candidate_homes

    if args.action == "check":
        report = check_dataset(args.root, deep=args.deep)
        print(report.format())
        return 0 if report.ok else 1
    start = time.perf_counter()
    out = args.out if args.out is not None else candidate_homes()[0]
    root = make_mini_rellisur(out, lr_size=args.lr_size, seed=args.seed, duplicates=args.duplicates)
    files = [path for path in root.rglob("*.png")]
    size = sum(path.stat().st_size for path in files)
    print(f"built {root} in {time.perf_counter() - start:.1f} s: {len(files)} PNG files, {size / 1e6:.1f} MB")
    return 0
