"""Transformer blocks of the MPCT encoder: channel ("transposed") self-attention and a gated feed-forward.

LoLiSRFlow (arXiv 2402.18871) conditions its flow on a multi-resolution parallel transformer; the paper gives
the idea, not the block. We use the efficient design that Restormer (Zamir et al., CVPR 2022) introduced for
image restoration, written here from its equations:

    attention:     X' = X + W_p V softmax(tau * K^T Q)          (attention map C x C, cost linear in pixels)
    feed-forward:  X' = X + W_o (gelu(W_1 X) * (W_2 X))          (W_1, W_2: 1x1 conv then depthwise 3x3 conv)

each after a LayerNorm over channels. Full spatial attention at the finest branch (up to 160 x 160 pixels)
would need a 25600 x 25600 map; attending across channels instead gives a (C/heads) x (C/heads) map per head.

Mixed precision: the LayerNorm and the attention core (L2 normalisation, logits, softmax, weighted sum) run
in float32 even under bf16 autocast, because the logits are cosines summed over thousands of pixels and the
normalisation statistics are sums of squares; both lose too much in bf16's 8-bit mantissa. They are cheap
next to the convolutions, which stay in the autocast dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lolisr_lib.errors import ConfigError


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of every pixel: ``y = (x - mean_c x) / sqrt(var_c x + eps) * w + b``."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.layer_norm normalises trailing dims, so move channels last: (B, C, H, W) -> (B, H, W, C). For a
        # channels_last input this permute is free (the memory already is B, H, W, C).
        y = at_least_float32(x.permute(0, 2, 3, 1))  # (B, H, W, C)
        y = F.layer_norm(y, (y.shape[-1],), at_least_float32(self.weight), at_least_float32(self.bias), self.eps)
        return y.permute(0, 3, 1, 2).to(x.dtype)  # (B, C, H, W)


def at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32, or kept in float64: numerically delicate ops run in float32 under bf16 autocast
    without throwing away the precision of a float64 model (used by the float64 Jacobian tests)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def _check_divisible(channels: int, heads: int) -> None:
    if heads < 1 or channels % heads:
        raise ConfigError(
            f"attention heads={heads} must be a positive divisor of the branch's channels={channels}; "
            "choose channels as a multiple of the head count"
        )


def attend_channels(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """Transposed attention core: ``softmax(tau * q_hat k_hat^T) v`` with rows L2-normalised over pixels.

    q, k, v: ``(B, heads, c, N)`` with ``c`` channels per head (the tokens) and ``N`` pixels (the features);
    temperature: ``(heads, 1, 1)``. Returns ``(B, heads, c, N)`` in float32 (float64 for a float64 input).

    Written as an explicit matmul + softmax rather than ``F.scaled_dot_product_attention`` (which fits too:
    channels as tokens, pixels as features, tau folded into q, ``scale=1.0``). Measured on CPU (torch 2.13,
    2 threads, c = 16..64, N = 400..25600, batch 1..16, best of 20): the explicit form was 2-15% faster
    forward and within +-10% with the backward pass (either way), so the readable form wins; SDPA's fused
    kernels are tuned for many tokens and short features, the opposite of this layout.
    """
    with torch.autocast(device_type=q.device.type, enabled=False):
        q = F.normalize(at_least_float32(q), dim=-1)
        k = F.normalize(at_least_float32(k), dim=-1)
        logits = (q @ k.transpose(-2, -1)) * at_least_float32(temperature)  # (B, heads, c, c): cost c*c*N, linear in N
        return logits.softmax(dim=-1) @ at_least_float32(v)  # (B, heads, c, N)


class ChannelAttention(nn.Module):
    """Multi-head channel self-attention with 1x1 + depthwise 3x3 Q/K/V and a learned temperature per head."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        _check_divisible(channels, heads)
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=False)
        # Depthwise 3x3 gives each query/key/value channel a local spatial context before the global
        # channel mixing, which is what the attention itself lacks.
        self.qkv_dw = nn.Conv2d(3 * channels, 3 * channels, 3, padding=1, groups=3 * channels, bias=False)
        self.project = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv_dw(self.qkv(x))  # (B, 3C, H, W)
        # reshape, not view: the input may be channels_last, where a view across C and H*W is impossible.
        qkv = qkv.reshape(B, 3, self.heads, C // self.heads, H * W)  # (B, 3, heads, c, N)
        q, k, v = qkv.unbind(dim=1)  # each (B, heads, c, N)
        out = attend_channels(q, k, v, self.temperature).to(x.dtype)
        return self.project(out.reshape(B, C, H, W))  # (B, C, H, W)


class GatedFeedForward(nn.Module):
    """Gated depthwise-conv feed-forward: ``W_o (gelu(x1) * x2)`` with ``(x1, x2) = dw3x3(W_in x)``."""

    def __init__(self, channels: int, expansion: float):
        super().__init__()
        hidden = int(channels * expansion)
        if hidden < 1:
            raise ConfigError(f"ffn_expansion={expansion} leaves no hidden channels; use a value of at least 1")
        self.project_in = nn.Conv2d(channels, 2 * hidden, 1, bias=False)
        self.dw = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=False)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dw(self.project_in(x)).chunk(2, dim=1)  # each (B, hidden, H, W)
        return self.project_out(F.gelu(x1) * x2)  # (B, C, H, W)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + Attn(LN(x))``, then ``x + FFN(LN(x))``; shape-preserving ``(B, C, H, W)``."""

    def __init__(self, channels: int, heads: int, ffn_expansion: float):
        super().__init__()
        self.norm1 = LayerNorm2d(channels)
        self.attn = ChannelAttention(channels, heads)
        self.norm2 = LayerNorm2d(channels)
        self.ffn = GatedFeedForward(channels, ffn_expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))
