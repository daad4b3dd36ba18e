"""``python -m lolisr_lib bench``: training throughput and ``enhance`` latency, reference vs fast mode.

    python -m lolisr_lib bench --preset tiny-x4 [--device auto|cpu|cuda] [--json OUT] [--sizes 128,256,625]
                               [--repeats N] [--quick] [--compile auto|on|off] [--bf16 auto|off]
                               [--host-memory auto|off] [--threads N] [--checkpoint CKPT]

Prints tables and writes every number as JSON (default ``runs/bench/PRESET-DEVICE.json``), atomically. Exit
status 1 when the fast mode's outputs do not agree with the reference mode's (see ``lolisr_lib/bench``).

    python -m lolisr_lib bench --loader --preset paper-x4 --data ROOT [--workers N] [--json OUT]
                               [--batches N] [--cold-batches N] [--batch-size N] [--patch-size N]

measures the training loader instead: batches and crops per second, from the PNGs (cold) and from the
decoded-image cache (warm), JSON keys ``cold_crops_per_s`` and ``crops_per_s`` (``lolisr_lib/bench/loader.py``;
default ``runs/bench/loader-PRESET.json``). ``data cache ROOT`` must have been run first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lolisr_lib.errors import UserError
from lolisr_lib.runtime.device import DEVICE_CHOICES


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. 128,256,625")
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one size, e.g. 128,256,625")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help="config preset to measure, e.g. tiny-x4 or paper-x4")
    parser.add_argument("--checkpoint", metavar="CKPT", help="measure these trained weights (and their config)")
    parser.add_argument("--pretrained", metavar="xS", help="measure a shipped model, x2 or x4 (data/pretrained/)")
    parser.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} | cuda:N (default auto)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="result file (default runs/bench/PRESET-DEVICE.json)")
    parser.add_argument("--sizes", type=_sizes, default=(128, 256, 625), metavar="A,B,...",
                        help="LR input sides for enhance (default 128,256,625)")
    parser.add_argument("--tile", type=int, default=256, help="LR tile side for the tiled run of the largest size "
                        "(default 256; 0 = no tiled run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the median is reported (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first (default 1)")
    parser.add_argument("--batch-size", type=int, help="training batch (default: the preset's)")
    parser.add_argument("--patch-size", type=int, help="training HR patch side (default: the preset's)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="torch.compile in fast mode: auto = on CUDA only (default)")
    parser.add_argument("--bf16", choices=("auto", "off"), default="auto",
                        help="bf16 autocast in fast mode: auto = where the device has native bf16 (default)")
    parser.add_argument("--host-memory", choices=("auto", "off"), default="auto",
                        help="keep freed host memory for reuse during the whole run, both modes (process-wide; "
                             "lolisr_lib/runtime/hostmem.py): auto = on CPU with glibc (default)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, batch 2, 2 repetitions: for CI")
    loader = parser.add_argument_group("loader benchmark (--loader)")
    loader.add_argument("--loader", action="store_true", help="measure the training loader, cold and warm, instead")
    loader.add_argument("--data", metavar="ROOT", help="RELLISUR-Dataset folder whose Train split is read")
    loader.add_argument("--workers", type=int, help="DataLoader workers (default: the preset's train.num_workers)")
    loader.add_argument("--batches", type=int, default=100, help="warm batches timed (default 100)")
    loader.add_argument("--cold-batches", type=int, default=4, help="cold batches timed (default 4)")


def run(args: argparse.Namespace) -> int:
    if args.loader:
        return _loader(args)
    if args.data or args.workers is not None:
        raise UserError("--data and --workers belong to the loader benchmark: add --loader")
    from lolisr_lib.bench import BenchOptions, format_report, run_bench, write_json
    from lolisr_lib.model.pretrained import checkpoint_argument

    args.checkpoint = checkpoint_argument(args.checkpoint, args.pretrained)
    if not args.preset and not args.checkpoint:
        raise UserError("bench needs --preset (e.g. --preset tiny-x4) or --checkpoint CKPT")
    options = BenchOptions(
        preset=args.preset, checkpoint=args.checkpoint, device=args.device, sizes=args.sizes,
        tile=args.tile or None, repeats=args.repeats, warmup=args.warmup, batch_size=args.batch_size,
        patch_size=args.patch_size, compile=args.compile, bf16=args.bf16,
        host_memory=args.host_memory, threads=args.threads, seed=args.seed, quick=args.quick,
    )
    result = run_bench(options, progress=lambda message: print(f"bench: {message}", file=sys.stderr, flush=True))
    print(format_report(result))
    name = f"{result['model']['preset']}-{result['environment']['device'].replace(':', '')}.json"
    path = write_json(result, args.json or Path("runs") / "bench" / name)
    print(f"\nwritten {path}")
    return 0 if result["agreement_passed"] else 1


def _loader(args: argparse.Namespace) -> int:
    from lolisr_lib.bench import write_json
    from lolisr_lib.bench.loader import LoaderBenchOptions, format_loader_report, run_loader_bench

    if not args.preset or not args.data:
        raise UserError("bench --loader needs --preset (e.g. paper-x4) and --data ROOT (a RELLISUR copy, cached with "
                        "python -m lolisr_lib data cache ROOT)")
    options = LoaderBenchOptions(
        preset=args.preset, data=args.data, workers=args.workers, batches=args.batches,
        cold_batches=args.cold_batches, batch_size=args.batch_size, patch_size=args.patch_size, device=args.device,
    )
    result = run_loader_bench(options, progress=lambda message: print(f"bench: {message}", file=sys.stderr,
                                                                      flush=True))
    print(format_loader_report(result))
    path = write_json(result, args.json or Path("runs") / "bench" / f"loader-{args.preset}.json")
    print(f"\nwritten {path}")
    return 0
