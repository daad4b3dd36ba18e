"""Tiled inference: run an image-to-image function on overlapping tiles and blend them.

For images too large to enhance in one pass. Tiles are cut on the low-resolution input at positions that are
multiples of ``align`` (so every tile keeps the model's divisibility), processed independently, and blended at
high resolution with weights that ramp linearly across each overlap, so seams are invisible. Global image
statistics (the histogram-equalised input) should be computed on the whole image and passed in cropped, which
is why ``fn`` receives the tile's window as well as the tile.

Tiling takes over by itself when an image would not fit (:func:`choose_tile`): a model states the memory
it needs per output pixel (an estimate, e.g. ``LoLiSRFlow.inference_bytes_per_hr_pixel``), the device states
what it has free (:func:`available_memory`), and the largest tile that fits in half of it is used. ``tile``
arguments accept ``"auto"`` (that rule), ``None`` or ``"off"`` (never tile) or a tile side in LR pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from lolisr_lib.errors import UserError


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side ``tile`` covering ``[0, size)`` with at least ``overlap`` shared pixels."""
    if tile >= size:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool, device, dtype) -> torch.Tensor:
    """1-D blending weights: linear ramps over the overlaps, except at the image border."""
    w = torch.ones(length, device=device, dtype=dtype)
    if overlap > 0:
        ramp = (torch.arange(overlap, device=device, dtype=dtype) + 0.5) / overlap
        if not at_start:
            w[:overlap] = ramp
        if not at_end:
            w[-overlap:] = ramp.flip(0)
    return w


def tiled_apply(
    fn: Callable[[torch.Tensor, tuple[int, int, int, int]], torch.Tensor],
    lq: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    align: int = 8,
) -> torch.Tensor:
    """Apply ``fn(lq_tile, (top, left, height, width)) -> (B, C, scale*h, scale*w)`` tile by tile and blend.

    ``lq`` is ``(B, C, H, W)`` with ``H`` and ``W`` multiples of ``align``; ``tile`` and ``overlap`` are LR
    pixels and must be multiples of ``align`` too (so tile positions are).
    """
    B, _, H, W = lq.shape
    for name, value in (("tile", tile), ("overlap", overlap)):
        if value % align:
            raise UserError(f"{name}={value} must be a multiple of {align} (LR pixels)")
    if tile <= overlap:
        raise UserError(f"tile={tile} must be larger than overlap={overlap}")
    out = weight = None
    rows, cols = tile_starts(H, tile, overlap), tile_starts(W, tile, overlap)
    for top in rows:
        for left in cols:
            h, w = min(tile, H), min(tile, W)
            window = (top, left, h, w)
            result = fn(lq[..., top : top + h, left : left + w], window)  # (B, C', s*h, s*w)
            if out is None:
                out = lq.new_zeros(B, result.shape[1], scale * H, scale * W, dtype=result.dtype)
                weight = lq.new_zeros(1, 1, scale * H, scale * W, dtype=result.dtype)
            wy = _ramp(scale * h, scale * overlap, top == 0, top + h == H, lq.device, result.dtype)
            wx = _ramp(scale * w, scale * overlap, left == 0, left + w == W, lq.device, result.dtype)
            blend = wy[:, None] * wx[None, :]  # (s*h, s*w)
            ys, xs = slice(scale * top, scale * (top + h)), slice(scale * left, scale * (left + w))
            out[..., ys, xs] += result * blend
            weight[..., ys, xs] += blend
    return out / weight


MEMORY_ENV = "LOLISR_MEMORY_BUDGET"  # bytes that inference may use, overriding the device's free memory
USABLE_FRACTION = 0.5  # of the free memory: room for the estimate's error and for everything else running


def available_memory(device: torch.device) -> int | None:
    """Bytes free for inference on ``device``: ``LOLISR_MEMORY_BUDGET`` when set, else the free GPU memory
    (CUDA) or the kernel's MemAvailable (Linux); None when unknown."""
    if os.environ.get(MEMORY_ENV):
        try:
            return int(float(os.environ[MEMORY_ENV]))
        except ValueError:
            raise UserError(f"{MEMORY_ENV}={os.environ[MEMORY_ENV]!r} must be a number of bytes") from None
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def choose_tile(tile, lr_shape: tuple[int, int], scale: int, bytes_per_hr_pixel: float | None,
                budget: int | None, *, overlap: int = 16, align: int = 8) -> int | None:
    """The tile side (LR pixels) to use for an LR image of ``lr_shape``, or None for one pass.

    ``tile``: ``"auto"``, ``None`` / ``"off"``, or an int (used as given). In auto mode one pass is used when
    its estimate (``bytes_per_hr_pixel`` times the output pixels) fits in ``USABLE_FRACTION`` of ``budget``,
    or when either is unknown; otherwise the largest multiple of ``align`` whose tile fits.
    """
    if tile is None or tile == "off":
        return None
    if tile != "auto":
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
            raise UserError(f"tile={tile!r}: use 'auto', 'off' or a tile side in LR pixels (a multiple of {align})")
        return tile
    if not bytes_per_hr_pixel or not budget:
        return None
    usable = USABLE_FRACTION * budget
    h, w = lr_shape
    if bytes_per_hr_pixel * (scale * h) * (scale * w) <= usable:
        return None
    side = int((usable / bytes_per_hr_pixel) ** 0.5 / scale) // align * align
    smallest = overlap + align
    if side < smallest:
        raise UserError(f"even a {smallest} px tile needs about {bytes_per_hr_pixel * (scale * smallest) ** 2 / 2**20:.0f} "
                        f"MiB, more than the {usable / 2**20:.0f} MiB usable here; free memory or use a smaller model")
    return side


def tile_argument(text: str):
    """``--tile`` on the command line: ``auto``, ``off`` (None) or a tile side in LR pixels."""
    if text in ("auto", "off"):
        return None if text == "off" else "auto"
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--tile {text!r}: use auto, off or a tile side in LR pixels such as 256") from None
