"""``python -m lolisr_lib evaluate``: score a checkpoint or a classical baseline on a RELLISUR split.

    python -m lolisr_lib evaluate (--checkpoint CKPT | --pretrained x2 | --baseline NAME) [--data ROOT] --split Test --scale 2
        --out results.csv [--protocol test-crop | --crop 624 --y-channel] [--exposures -3,-4] [--limit N]
        [--device auto|cpu|cuda] [--lpips-weights FILE] [--exposure-aware]

Without ``--data`` the bundled miniature is used. Prints the protocol, overall and per-EV means, and where the
per-image CSV went. Learned baselines (joint-cnn, sequential-cnn) are trained with ``train`` and come as
checkpoints; ``--baseline`` takes the classical ones. ``--exposure-aware`` gives a trained model's output the
brightness that each capture's exposure (the EV in its file name) and the calibrated camera imply, instead of the
model's guess (``lolisr_lib/model/exposure_aware.py``).
"""

from __future__ import annotations

import argparse
import time

from lolisr_lib.baselines import CLASSICAL_BASELINES, make_baseline
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate import PROTOCOLS
from lolisr_lib.model.exposure_aware import ExposureAware
from lolisr_lib.model.pretrained import checkpoint_argument
from lolisr_lib.runtime import hostmem
from lolisr_lib.runtime.device import DEVICE_CHOICES
from lolisr_lib.runtime.tiling import tile_argument


def parse_exposures(text: str) -> tuple[float, ...]:
    """``"-3,-4"`` (or magnitudes as in file names, ``"3,4"``) to EVs ``(-3.0, -4.0)``."""
    try:
        values = tuple(-abs(float(v)) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--exposures {text!r}: write comma-separated EVs, e.g. -3,-4 or -2.5") from None
    if not values:
        raise UserError("--exposures is empty; write comma-separated EVs, e.g. -3,-4")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--checkpoint", metavar="CKPT", help="a model saved by `train` or `.save()`")
    what.add_argument("--pretrained", metavar="xS", help="a shipped model, x2 or x4 (data/pretrained/)")
    what.add_argument("--baseline", metavar="NAME", help=f"a classical baseline: {', '.join(CLASSICAL_BASELINES)}; "
                      "exposure-gain-bicubic (a gain from the file's EV); or the oracle-gain reference (reads the "
                      "target's mean)")
    parser.add_argument("--data", metavar="ROOT", help="RELLISUR-Dataset folder (default: the bundled miniature)")
    parser.add_argument("--split", default="Test", help="Train, Val or Test (default Test)")
    parser.add_argument("--scale", type=int, default=2, choices=(1, 2, 4), help="super-resolution factor")
    parser.add_argument("--out", metavar="CSV", help="write per-image results here (scene, ev, psnr, ...)")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), help="a named protocol, which fixes --crop and the "
                        "colour: test-crop is the published protocol A on Test_crop (centred 624 px LR crops, RGB); "
                        "full is this library's default on full images (docs/data.md, section 7)")
    parser.add_argument("--crop", type=int, metavar="N", help="centre-crop the LR input to N x N (e.g. 624)")
    parser.add_argument("--y-channel", action="store_true", help="score BT.601 luma instead of RGB")
    # "--exposures -3,-4" reaches here as "--exposures=-3,-4" (cli.attach_number_lists)
    parser.add_argument("--exposures", metavar="EVS", help="only these EVs, e.g. -3,-4")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    parser.add_argument("--tile", type=tile_argument, default="auto", metavar="N|auto|off",
                        help="LR tile side for LoLiSRFlow; auto (default): tile only images that would not fit in "
                             "memory; off: never")
    parser.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} | cuda:N (default auto)")
    parser.add_argument("--lpips-weights", metavar="FILE", help="local LPIPS-alex weights; without them n/a")
    parser.add_argument("--exposure-aware", action="store_true",
                        help="a trained model's output brightness from each capture's exposure (the file name's EV) "
                             "and the calibrated camera, instead of the model's guess")


def run(args: argparse.Namespace) -> int:
    from lolisr_lib.data import default_root
    from lolisr_lib.evaluate import evaluate
    from lolisr_lib.model.build import load_model
    from lolisr_lib.runtime.device import resolve_device

    device = resolve_device(args.device)
    exposures = parse_exposures(args.exposures) if args.exposures is not None else None
    if args.baseline is not None:
        if args.exposure_aware:
            raise UserError("--exposure-aware applies to a trained model (--checkpoint or --pretrained); for a "
                            "baseline whose brightness comes from the exposure, use --baseline exposure-gain-bicubic")
        model, name = make_baseline(args.baseline, args.scale), args.baseline
    else:
        checkpoint = checkpoint_argument(args.checkpoint, args.pretrained)
        model = load_model(checkpoint, map_location=device, expected_scale=args.scale).float()
        name = str(checkpoint)
        if args.exposure_aware:
            model, name = ExposureAware(model), f"{name}, brightness from the exposure"
    root = args.data if args.data is not None else default_root()
    start = time.perf_counter()
    # Scores are computed in plain float32 (no bf16, no layout change), so tables reproduce exactly; keeping
    # freed host memory only changes where large tensors are allocated (lolisr_lib/runtime/hostmem.py).
    with hostmem.freed_memory_kept(device.type == "cpu"):
        result = evaluate(
            model, root, args.split, args.scale, crop=args.crop, y_channel=args.y_channel, exposures=exposures,
            limit=args.limit, device=device, lpips_weights=args.lpips_weights, out_csv=args.out,
            protocol=args.protocol, tile=args.tile,
        )
    print(f"{name} on {root} ({args.split}, x{args.scale}), {time.perf_counter() - start:.1f} s")
    print(result.format())
    if args.out:
        print(f"per-image results: {args.out}")
    return 0
