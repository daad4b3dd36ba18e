"""Tiled inference: run an image-to-image function on overlapping tiles and blend them.

For images too large to enhance in one pass. Tiles are cut on the low-resolution input at positions that are
multiples of ``align`` (so every tile keeps the model's divisibility), processed independently, and blended at
high resolution with weights that ramp linearly across each overlap, so seams are invisible. Global image
statistics (the histogram-equalised input) should be computed on the whole image and passed in cropped, which
is why ``fn`` receives the tile's window as well as the tile.
"""

from __future__ import annotations

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
