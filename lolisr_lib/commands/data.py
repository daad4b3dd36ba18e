"""``python -m lolisr_lib data``: build the miniature RELLISUR, check a copy of the real one, or cache it.

``data make-mini [--out DIR] [--lr-size N] [--seed S] [--duplicates]`` writes ``DIR/RELLISUR-Dataset``
(default: the one :func:`lolisr_lib.data.default_root` uses). ``data check ROOT [--deep]`` prints counts per
split, scale and EV, every problem found and how complete the cache is; exit status 0 when the copy is
sound, 1 when not, 2 when ROOT does not exist. ``data cache ROOT [--out DIR] [--scales 4]`` decodes every image
into the cache that the loader reads (:mod:`lolisr_lib.data.cache`); interrupted, it resumes when run again.
"""

from __future__ import annotations

import argparse
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
    cache = sub.add_parser("cache", help="decode every image into a memory-mappable cache the loader reads")
    cache.add_argument("root", type=Path, help="the RELLISUR-Dataset folder (or its parent)")
    cache.add_argument("--out", type=Path, help="cache folder (default: $LOLISR_DATA_CACHE, else "
                       "RELLISUR-Dataset-cache beside the dataset; elsewhere, set LOLISR_DATA_CACHE=DIR for the "
                       "loader to find it)")
    cache.add_argument("--scales", type=_scales, default=(1, 2, 4), metavar="S,S",
                       help="target scales to cache, e.g. 4 (default 1,2,4; the inputs are cached once for all)")


def _scales(text: str) -> tuple[int, ...]:
    try:
        scales = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        scales = ()
    if not scales or any(scale not in (1, 2, 4) for scale in scales):
        raise argparse.ArgumentTypeError(f"{text!r}: give scales among 1, 2, 4, comma-separated, e.g. 4 or 2,4")
    return scales


def run(args) -> int:
    from lolisr_lib.data import check_dataset, make_mini_rellisur
    from lolisr_lib.data.mini import candidate_homes

    if args.action == "check":
        report = check_dataset(args.root, deep=args.deep)
        print(report.format())
        return 0 if report.ok else 1
    if args.action == "cache":
        return _cache(args)
    start = time.perf_counter()
    out = args.out if args.out is not None else candidate_homes()[0]
    root = make_mini_rellisur(out, lr_size=args.lr_size, seed=args.seed, duplicates=args.duplicates)
    files = [path for path in root.rglob("*.png")]
    size = sum(path.stat().st_size for path in files)
    print(f"built {root} in {time.perf_counter() - start:.1f} s: {len(files)} PNG files, {size / 1e6:.1f} MB")
    return 0


def _cache(args) -> int:
    from lolisr_lib.data.cache import CACHE_ENV, build_cache, default_cache_dir
    from lolisr_lib.data.layout import resolve_root

    try:
        build = build_cache(args.root, args.out, scales=args.scales)
    except KeyboardInterrupt:
        print("interrupted: every image cached so far is kept; run the same command again to finish")
        return 130
    print(f"cached {build.images} images of x{', x'.join(map(str, args.scales))} in {build.cache_dir} "
          f"({build.written} decoded now, {build.images - build.written} already there; "
          f"{build.array_bytes / 1e9:.2f} GB) in {build.seconds:.1f} s")
    if build.problems:
        print(f"note: {len(build.problems)} problem(s) in the copy, their files skipped (the first: "
              f"{build.problems[0]}); python -m lolisr_lib data check {args.root} lists them")
    if build.cache_dir != default_cache_dir(resolve_root(args.root)):
        print(f"the loader finds this cache when {CACHE_ENV}={build.cache_dir} is set")
    return 0
