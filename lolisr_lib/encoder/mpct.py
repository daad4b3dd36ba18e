"""MPCT: the multi-resolution parallel transformer that conditions LoLiSRFlow (arXiv 2402.18871).

The paper states the idea (a transformer encoder with parallel branches at several resolutions that
exchange information, giving one condition per flow level and the CR map); the details are ours (design
notes, docs/model.md section 3), from HRNet/MIRNet-v2-style parallel streams and Restormer-style blocks:

    lq -> 12 input features -> 3x3 stem (C0, LR) -> finest branch at HR/2 -> strided convs to HR/4, HR/8
       -> S stages of [N transformer blocks per branch, then cross-scale fusion]
       -> per level LayerNorm + 1x1 conv (conditions)      finest branch -> PixelShuffle(2) -> CR map (HR)

Branch ``l`` (level ``l = 1, 2, 3``) has ``2^(l-1) * C0`` channels and sits at exactly the resolution of flow
level ``l``'s condition, ``HR / 2^l``, so no head needs to resample. The finest branch is LR x2 for scale 4
(reached by sub-pixel upsampling of the stem), LR for scale 2 and LR/2 for scale 1.
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.encoder.blocks import TransformerBlock
from lolisr_lib.encoder.fusion import CrossScaleFusion, downsample, rescale
from lolisr_lib.encoder.heads import (
    LEVELS,
    CondHead,
    ConditionEncoder,
    CRHead,
    check_features,
    level_log2_factors,
    per_level,
)


class ParallelStage(nn.Module):
    """One MPCT stage: ``blocks`` transformer blocks on every branch, then cross-scale fusion."""

    def __init__(self, widths: tuple[int, ...], heads: tuple[int, ...], blocks: int, ffn_expansion: float):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*(TransformerBlock(width, n_heads, ffn_expansion) for _ in range(blocks)))
            for width, n_heads in zip(widths, heads)
        )
        self.fusion = CrossScaleFusion(widths)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fusion([branch(x) for branch, x in zip(self.branches, xs)])


class MPCTEncoder(ConditionEncoder):
    """``lq (B, 3, h, w)`` to ``(conds, cr_hat)``: three conditions, level 1 first, and the CR map at HR.

    ``conds[l-1]`` is ``(B, cond_channels[l-1], H / 2^l, W / 2^l)`` with ``H = scale * h``; ``cr_hat`` is
    ``(B, 3, H, W)`` in (0, 1). ``h`` and ``w`` must be multiples of 8 (the model reflect-pads to that).

    Arguments: ``channels`` C0 of the finest branch (doubling per branch; a multiple of 4 for the CR head's
    PixelShuffle), ``blocks`` transformer blocks per branch and stage, ``stages`` stages (each followed by
    fusion), ``cond_channels`` per level (an int for all), ``heads`` attention heads per branch,
    ``ffn_expansion`` hidden width of the gated feed-forward relative to the branch's channels, ``use_*``
    the input-feature switches of ``encoder_features``.
    """

    def __init__(
        self,
        scale: int,
        *,
        channels: int = 64,
        blocks: int = 2,
        stages: int = 3,
        cond_channels: int | tuple[int, ...] = 128,
        heads: int | tuple[int, ...] = (1, 2, 4),
        ffn_expansion: float = 2.66,
        use_log: bool = True,
        use_he: bool = True,
        use_cr: bool = True,
        use_noise: bool = True,
    ):
        super().__init__(scale, cond_channels, {"channels": channels, "blocks": blocks, "stages": stages},
                         use_log=use_log, use_he=use_he, use_cr=use_cr, use_noise=use_noise)
        widths = tuple(channels * 2**branch for branch in range(LEVELS))  # (C0, 2 C0, 4 C0), finest first
        self.stem = nn.Conv2d(self.features.channels, channels, 3, padding=1)
        self.to_finest = rescale(channels, channels, level_log2_factors(scale)[0])
        self.to_coarser = nn.ModuleList(downsample(widths[b], widths[b + 1], 1) for b in range(LEVELS - 1))
        n_heads = per_level(heads, "heads")
        self.stages = nn.ModuleList(ParallelStage(widths, n_heads, blocks, ffn_expansion) for _ in range(stages))
        self.cond_heads = nn.ModuleList(CondHead(w, c) for w, c in zip(widths, self.cond_channels))
        self.cr_head = CRHead(channels)

    def forward_features(self, features: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The same outputs from precomputed ``encoder_features(lq, ...)`` (B, F, h, w), e.g. one tile's crop
        of the whole image's features, so that the histogram equalisation sees global statistics."""
        check_features(features, self.features.channels)
        xs = [self.to_finest(self.stem(features))]  # [(B, C0, H/2, W/2)]
        for down in self.to_coarser:
            xs.append(down(xs[-1]))  # branch b: (B, 2^b C0, H / 2^(b+1), W / 2^(b+1))
        for stage in self.stages:
            xs = stage(xs)
        conds = [head(x) for head, x in zip(self.cond_heads, xs)]
        return conds, self.cr_head(xs[0])
