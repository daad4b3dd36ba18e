"""Cross-scale fusion between the parallel branches of the MPCT encoder (LoLiSRFlow, arXiv 2402.18871).

The paper's encoder exchanges information between its resolutions; we use the HRNet-style exchange (Wang et
al., TPAMI 2020), written from its description: branch ``j`` (at ``1/2^j`` of the finest resolution) becomes

    y_j = x_j + sum_{i != j} R_ij(x_i)

where ``R_ij`` resizes branch ``i`` to branch ``j``'s resolution and channels: a 1x1 conv and bilinear
upsampling when ``i`` is coarser, ``i - j`` strided 3x3 convs (stride 2 each) when ``i`` is finer.
``rescale`` is the learned resampling from LR to a branch (or condition) grid, shared by both encoders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Upsample(nn.Module):
    """1x1 conv to the target channels, then bilinear upsampling by ``2**steps``.

    The conv runs before the upsampling: both are linear and bilinear interpolation preserves constants, so
    the order gives the same map (bias included) at ``4**steps`` times fewer multiply-adds.
    """

    def __init__(self, in_channels: int, out_channels: int, steps: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)
        self.factor = 2**steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=self.factor, mode="bilinear", align_corners=False)


def downsample(in_channels: int, out_channels: int, steps: int) -> nn.Sequential:
    """``steps`` strided 3x3 convs (each halves H and W), GELU between; channels change at the last one."""
    layers: list[nn.Module] = []
    for step in range(steps):
        last = step == steps - 1
        layers.append(nn.Conv2d(in_channels, out_channels if last else in_channels, 3, stride=2, padding=1))
        if not last:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class CrossScaleFusion(nn.Module):
    """Every branch adds every other branch resized to its resolution; branch ``j`` is at ``1/2^j`` scale."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        n = len(channels)
        # resize[i][j] maps branch i to branch j; the diagonal is unused (an identity placeholder keeps the
        # indexing plain).
        self.resize = nn.ModuleList(
            nn.ModuleList(_resizer(channels[i], channels[j], i - j) for j in range(n)) for i in range(n)
        )

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(xs)
        return [xs[j] + sum(self.resize[i][j](xs[i]) for i in range(n) if i != j) for j in range(n)]


def _resizer(in_channels: int, out_channels: int, coarser_by: int) -> nn.Module:
    """The map from a source branch to a target branch; the source is ``coarser_by`` levels coarser (> 0:
    upsample) or ``-coarser_by`` levels finer (< 0: downsample) than the target."""
    if coarser_by > 0:
        return Upsample(in_channels, out_channels, coarser_by)
    if coarser_by < 0:
        return downsample(in_channels, out_channels, -coarser_by)
    return nn.Identity()


def pixel_shuffle_up(in_channels: int, out_channels: int, steps: int) -> nn.Sequential:
    """``steps`` times a 3x3 conv to ``4 * out_channels`` then PixelShuffle(2) (sub-pixel upsampling), GELU between.

    Used where features leave LR for a finer grid (the x4 encoder's HR/2 branch): unlike bilinear, the
    sub-pixel conv can put new detail into the four sub-positions of each LR pixel.
    """
    layers: list[nn.Module] = []
    for step in range(steps):
        width = in_channels if step == 0 else out_channels
        if step:
            layers.append(nn.GELU())
        layers += [nn.Conv2d(width, 4 * out_channels, 3, padding=1), nn.PixelShuffle(2)]
    return nn.Sequential(*layers)


def rescale(in_channels: int, out_channels: int, log2_factor: int) -> nn.Module:
    """Features to ``2**log2_factor`` times their resolution: sub-pixel up, strided-conv down, or unchanged.

    At factor 1 it is the identity when the channels already match, else a 1x1 conv.
    """
    if log2_factor > 0:
        return pixel_shuffle_up(in_channels, out_channels, log2_factor)
    if log2_factor < 0:
        return downsample(in_channels, out_channels, -log2_factor)
    return nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)
