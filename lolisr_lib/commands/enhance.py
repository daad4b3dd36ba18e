"""``python -m lolisr_lib enhance``: brighten and upscale one photo with a trained model.

    python -m lolisr_lib enhance (--checkpoint CKPT | --pretrained x2) IN.png OUT.png [--temperature T] [--tile N] [--device ...]
                                 [--bf16 auto|off] [--ev EV]

``--ev`` gives the capture's exposure (stops below normal, e.g. -3; RELLISUR names it in every low-light file,
``00018-3.0.png``, and ``--ev name`` reads it from there): the output's global brightness then comes from the
exposure and the calibrated camera instead of the model's guess (``lolisr_lib/model/exposure_aware.py``).

Input rule: an **8-bit RGB** PNG or JPEG (Pillow mode ``RGB``, 8 bits per channel), the format of RELLISUR and
of ordinary photos. 16-bit, grayscale, palette, CMYK and images with transparency are refused with a message
saying how to convert them, rather than converted silently (dropping alpha or bits changes what the model
sees). The output is always a PNG (lossless), written atomically: a temporary file, then a rename.
"""

from __future__ import annotations

import argparse
import inspect
import math
import time
from pathlib import Path

import torch

from lolisr_lib.data.layout import parse_lllr_name
from lolisr_lib.errors import UserError
from lolisr_lib.image.io import check_png_path, read_rgb8, write_png
from lolisr_lib.model.exposure_aware import ExposureAware
from lolisr_lib.model.pretrained import checkpoint_argument
from lolisr_lib.runtime import fastpath, hostmem
from lolisr_lib.runtime.device import DEVICE_CHOICES
from lolisr_lib.runtime.tiling import tile_argument

TILE_OVERLAP = 16  # LR pixels shared by neighbouring tiles (a multiple of 8, as LoLiSRFlow's tiling needs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", metavar="CKPT", help="a model saved by `train` or `.save()`")
    which.add_argument("--pretrained", metavar="xS", help="a shipped model, x2 or x4 (data/pretrained/)")
    parser.add_argument("input", metavar="IN", help="8-bit RGB PNG or JPEG")
    parser.add_argument("output", metavar="OUT", help="where to write the result (.png)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="LoLiSRFlow sampling temperature; 0 = the deterministic prediction (default)")
    parser.add_argument("--tile", type=tile_argument, default="auto", metavar="N|auto|off",
                        help="process N x N LR tiles; auto (default): only when the image would not fit in memory")
    parser.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} | cuda:N (default auto)")
    parser.add_argument("--bf16", choices=("auto", "off"), default="auto",
                        help="bf16 autocast where the device computes bf16 natively (CUDA; CPUs with AVX-512 BF16 "
                             "or AMX): 1.5-1.8x faster on such a CPU, output within ~2e-3 of float32 "
                             "(benchmarks/README.md); off = float32 (default auto)")
    parser.add_argument("--ev", type=exposure_argument, metavar="EV|name",
                        help="the capture's exposure in stops below normal, e.g. -3, or `name` to read it from a "
                             "RELLISUR file name (00018-3.0.png): the output's brightness comes from it, not from a "
                             "guess")


def exposure_argument(text: str) -> float | str:
    """``--ev``: ``"-3"`` (or the magnitude, ``"3"``, as file names write it) to the exposure -3.0; ``"name"`` kept
    as it is (the exposure is read from the input's file name, :func:`exposure_of`)."""
    if text == "name":
        return text
    try:
        value = -abs(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an exposure; write stops below normal, e.g. -3") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite exposure; write e.g. -3")
    return value


def exposure_of(args: argparse.Namespace) -> float | None:
    """The exposure ``--ev`` asks for: its number, or with ``--ev name`` the one in the input's RELLISUR file name."""
    if args.ev != "name":
        return args.ev
    parsed = parse_lllr_name(Path(args.input).name)
    if parsed is None:
        raise UserError(f"--ev name reads a RELLISUR low-light file name such as 00018-3.0.png; "
                        f"{Path(args.input).name!r} is not one: give the exposure instead, e.g. --ev -3")
    return parsed[1]


def _enhance_options(model, args: argparse.Namespace) -> dict:
    """Keyword arguments for ``model.enhance``: temperature and tiling, where the model supports them."""
    accepted = inspect.signature(model.enhance).parameters
    options = {}
    if args.temperature:
        if "temperature" not in accepted:
            raise UserError(f"--temperature applies to LoLiSRFlow; {type(model).__name__} is deterministic")
        options["temperature"] = args.temperature
    if isinstance(args.tile, int):  # a tile side asked for (not auto or off): the model must be able to tile
        if "tile" not in accepted:
            raise UserError(f"--tile is not supported by {type(model).__name__}")
        if args.tile <= TILE_OVERLAP:
            raise UserError(f"--tile {args.tile} must be larger than the {TILE_OVERLAP}-pixel overlap, e.g. --tile 256")
    if "tile" in accepted:
        options.update(tile=args.tile, overlap=TILE_OVERLAP)
    return options


def run(args: argparse.Namespace) -> int:
    from lolisr_lib.model.build import load_model
    from lolisr_lib.runtime.device import resolve_device

    device = resolve_device(args.device)
    check_png_path(args.output)  # before the work, not after
    ev = exposure_of(args)  # likewise
    lq = read_rgb8(args.input)
    model = load_model(checkpoint_argument(args.checkpoint, args.pretrained), map_location=device).float().to(device)
    options = _enhance_options(model, args)
    # fast mode (lolisr_lib/runtime/fastpath.py): channels_last and cached 1x1 weights change nothing but speed;
    # bf16 (where native) rounds the networks' arithmetic; freed host memory is kept for reuse (hostmem.py)
    fastpath.prepare_for_inference(model)
    bf16 = args.bf16 == "auto" and fastpath.native_bf16(device)
    if ev is not None:  # the brightness from the exposure: one gain on the model's output
        model, options = ExposureAware(model), {**options, "ev": ev}
    start = time.perf_counter()
    with torch.no_grad(), fastpath.autocast(device, bf16), hostmem.freed_memory_kept(device.type == "cpu"):
        out = model.enhance(lq[None].to(device, memory_format=torch.channels_last), **options)[0]  # (3, s*h, s*w)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    path = write_png(args.output, out.float())
    (h, w), (H, W) = lq.shape[-2:], out.shape[-2:]
    brightness = "" if ev is None else f", brightness from {ev:+.1f} EV"
    print(f"{path}: {W}x{H} (x{model.scale} of {w}x{h}), {seconds:.2f} s on {device} "
          f"({'bf16' if bf16 else 'float32'}{brightness})")
    if ev is None and parse_lllr_name(Path(args.input).name) is not None:
        print("the file name gives the capture's exposure: --ev name takes the output's brightness from it")
    return 0
