"""A compact residual CNN encoder: the alternative to MPCT in the encoder ablation of LoLiSRFlow.

SRFlow (Lugmayr et al., ECCV 2020) and LLFlow (Wang et al., AAAI 2022) condition their flows on a plain
convolutional trunk at LR (RRDB blocks); LoLiSRFlow (arXiv 2402.18871) replaces it by a transformer. To
measure what the transformer buys, this encoder keeps the same contract with a single-resolution trunk,
written from the EDSR idea (Lim et al., CVPRW 2017: conv-act-conv residual blocks, no batch norm, a global
skip):

    lq -> input features -> 3x3 stem (C, LR) -> x + body(x) -> resample to HR/2, HR/4, HR/8
       -> per level LayerNorm + 1x1 conv (conditions)      HR/2 features -> PixelShuffle(2) -> CR map (HR)
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.encoder.fusion import rescale
from lolisr_lib.encoder.heads import CondHead, ConditionEncoder, CRHead, check_features, level_log2_factors


class ResidualBlock(nn.Module):
    """``x + res_scale * conv3x3(act(conv3x3(x)))``, shape-preserving ``(B, C, H, W)``, no normalisation.

    The CNN encoder uses LeakyReLU(0.2) and ``res_scale = 1``; the CNN baselines use EDSR's block: ReLU
    (``negative_slope = 0``) and ``res_scale = 0.1``, which keeps deep stacks of un-normalised blocks stable
    early in training. Batch norm is left out: it hurts image regression (EDSR).
    """

    def __init__(self, channels: int, *, negative_slope: float = 0.2, res_scale: float = 1.0):
        super().__init__()
        # the convolution before the activation does not need its output for backward: ReLU may work in place
        act = nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU(inplace=True)
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            act,
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class ResidualCNNEncoder(ConditionEncoder):
    """``lq (B, 3, h, w)`` to ``(conds, cr_hat)`` with the same shapes as ``MPCTEncoder``.

    Arguments: ``channels`` trunk width (a multiple of 4 for the CR head's PixelShuffle), ``blocks`` residual
    blocks at LR, ``cond_channels`` per level (an int for all), ``use_*`` the input-feature switches.
    """

    def __init__(
        self,
        scale: int,
        *,
        channels: int = 64,
        blocks: int = 8,
        cond_channels: int | tuple[int, ...] = 128,
        use_log: bool = True,
        use_he: bool = True,
        use_cr: bool = True,
        use_noise: bool = True,
    ):
        super().__init__(scale, cond_channels, {"channels": channels, "blocks": blocks}, use_log=use_log,
                         use_he=use_he, use_cr=use_cr, use_noise=use_noise)
        self.stem = nn.Conv2d(self.features.channels, channels, 3, padding=1)
        self.body = nn.Sequential(
            *(ResidualBlock(channels) for _ in range(blocks)), nn.Conv2d(channels, channels, 3, padding=1)
        )
        self.to_levels = nn.ModuleList(rescale(channels, channels, f) for f in level_log2_factors(scale))
        self.cond_heads = nn.ModuleList(CondHead(channels, c) for c in self.cond_channels)
        self.cr_head = CRHead(channels)

    def forward_features(self, features: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The same outputs from precomputed ``encoder_features(lq, ...)`` (B, F, h, w), e.g. one tile's crop."""
        check_features(features, self.features.channels)
        x = self.stem(features)  # (B, C, h, w)
        x = x + self.body(x)  # global skip: the trunk learns a correction of the stem features
        levels = [to_level(x) for to_level in self.to_levels]  # level l: (B, C, H / 2^l, W / 2^l)
        conds = [head(level) for head, level in zip(self.cond_heads, levels)]
        return conds, self.cr_head(levels[0])
