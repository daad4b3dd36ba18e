"""What attention costs as the image grows: channel ("transposed") attention against spatial attention.

LoLiSRFlow (arXiv 2402.18871) conditions its flow on a transformer encoder whose finest branch works at LR
(x2) or LR x2 (x4) resolution. Spatial self-attention (Vaswani et al. 2017; ViT, Dosovitskiy et al. 2021)
treats every pixel as a token, so its attention map is ``N x N`` for ``N`` pixels: memory and time grow like
``N^2``. The channel attention of Restormer (Zamir et al., CVPR 2022), which our encoder uses
(``encoder/blocks.py``), swaps the roles: channels are the tokens and pixels the features, so the map is
``c x c`` per head and the two matrix products cost ``~4 c^2 N`` operations, linear in ``N``.

- :func:`toy_spatial_attention`: the pixel-token attention, in the same ``(B, heads, c, N)`` layout as the
  library's :func:`~lolisr_lib.encoder.blocks.attend_channels`, for comparison only (the encoder never
  uses it);
- :func:`attention_flops`, :func:`attention_map_bytes`: the counted cost of one attention core;
- :func:`time_attention`, :func:`measure_attention_cost`: the measured time (best of a few repeats);
- :func:`loglog_slope`: the exponent ``p`` of ``cost ~ N^p``, fitted on a log-log scale.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from lolisr_lib.encoder.blocks import attend_channels
from lolisr_lib.errors import UserError

KINDS = ("channel", "spatial")  # channel: Restormer's transposed attention (ours); spatial: pixels as tokens


def toy_spatial_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None
                          ) -> torch.Tensor:
    """Spatial self-attention ``v softmax(scale * q^T k)^T`` with the ``N`` pixels as tokens.

    q, k, v: ``(B, heads, c, N)``, the layout of ``attend_channels`` (``c`` channels per head, ``N`` pixels);
    ``scale`` defaults to ``1 / sqrt(c)`` (scaled dot-product attention). Returns ``(B, heads, c, N)``.
    The attention map is ``(B, heads, N, N)``: 4 bytes times ``N^2`` per head, 6.7 GB for a 128 x 128 patch.
    """
    scale = 1.0 / math.sqrt(q.shape[-2]) if scale is None else scale
    logits = (q.transpose(-2, -1) @ k) * scale  # (B, heads, N, N): entry (i, j) = query pixel i . key pixel j
    return v @ logits.softmax(dim=-1).transpose(-2, -1)  # (B, heads, c, N)


def _check(kind: str, channels: int, pixels: int) -> None:
    if kind not in KINDS:
        raise UserError(f"attention kind {kind!r} is unknown; choose one of {KINDS}")
    if channels < 1 or pixels < 1:
        raise UserError(f"channels={channels} and pixels={pixels} must be positive")


def attention_flops(kind: str, channels: int, pixels: int, heads: int = 1) -> float:
    """Floating-point operations of the two matrix products of one attention core (softmax not counted).

    ``channels`` per head. Channel: ``(c x N)(N x c)`` then ``(c x c)(c x N)``, ``2 * 2 c^2 N``. Spatial:
    ``(N x c)(c x N)`` then ``(c x N)(N x N)``, ``2 * 2 N^2 c``. A multiply-add counts as two operations.
    """
    _check(kind, channels, pixels)
    c, n = channels, pixels
    per_head = 4 * c * c * n if kind == "channel" else 4 * n * n * c
    return float(heads * per_head)


def attention_map_bytes(kind: str, channels: int, pixels: int, heads: int = 1, bytes_per_value: int = 4) -> int:
    """Bytes of the attention map of one image: ``heads * c^2`` (channel) or ``heads * N^2`` (spatial) values."""
    _check(kind, channels, pixels)
    side = channels if kind == "channel" else pixels
    return heads * side * side * bytes_per_value


def _core(kind: str):
    if kind == "channel":
        return lambda q, k, v: attend_channels(q, k, v, torch.ones(q.shape[1], 1, 1, device=q.device))
    return toy_spatial_attention


def time_attention(kind: str, channels: int, pixels: int, *, heads: int = 1, repeats: int = 5,
                   device: torch.device | str = "cpu", seed: int = 0) -> float:
    """Seconds of one attention core on random ``(1, heads, channels, pixels)`` inputs, best of ``repeats``.

    On the CPU this is the CPU time of one thread (``time.process_time`` with PyTorch held to one thread for
    the measurement): other processes competing for the cores do not inflate it, and neither do worker threads
    spinning at a barrier while a busy machine keeps one of them waiting (with two threads under load that
    flattened the measured slopes to nonsense). The growth with ``N`` is a property of the algorithm, which one
    thread shows. On CUDA it is wall time between synchronisations. The minimum over repeats is the least
    disturbed measurement.
    """
    _check(kind, channels, pixels)
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    q, k, v = (torch.randn(1, heads, channels, pixels, generator=generator, device=device) for _ in range(3))
    fn = _core(kind)
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    best = math.inf
    try:
        with torch.no_grad():
            fn(q, k, v)  # warm-up: first calls allocate and pick kernels
            for _ in range(repeats):
                _sync(device)
                start = clock()
                fn(q, k, v)
                _sync(device)
                best = min(best, clock() - start)
    finally:
        torch.set_num_threads(threads)
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class AttentionCost:
    """Cost of one attention kind at several image sizes (arrays aligned with ``pixels``)."""

    kind: str  # "channel" or "spatial"
    channels: int  # channels per head
    pixels: np.ndarray  # N, pixels per image
    seconds: np.ndarray  # measured, best of the repeats
    flops: np.ndarray  # counted, attention_flops
    map_bytes: np.ndarray  # counted, attention_map_bytes

    def slope(self, quantity: str = "seconds", min_pixels: int = 0) -> float:
        """Exponent ``p`` of ``quantity ~ pixels^p`` over the sizes with at least ``min_pixels`` pixels."""
        keep = self.pixels >= min_pixels
        return loglog_slope(self.pixels[keep], getattr(self, quantity)[keep])


def measure_attention_cost(kind: str, sides, channels: int = 16, *, heads: int = 1, repeats: int = 5,
                           device: torch.device | str = "cpu") -> AttentionCost:
    """Time and count the attention core on square images of the given ``sides`` (pixels per side)."""
    pixels = np.array([int(s) * int(s) for s in sides])
    seconds = np.array([time_attention(kind, channels, int(n), heads=heads, repeats=repeats, device=device)
                        for n in pixels])
    flops = np.array([attention_flops(kind, channels, int(n), heads) for n in pixels])
    map_bytes = np.array([attention_map_bytes(kind, channels, int(n), heads) for n in pixels], dtype=np.float64)
    return AttentionCost(kind, channels, pixels, seconds, flops, map_bytes)


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the ``p`` of ``y ~ x^p``. Needs two distinct x."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or len(np.unique(x)) < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise UserError("loglog_slope needs matching arrays of positive values with at least two distinct x")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
