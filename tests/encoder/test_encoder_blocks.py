"""Encoder blocks: LayerNorm over channels, channel attention (C x C map, linear in pixels), gated FFN, fusion."""

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from lolisr_lib.encoder import ChannelAttention, GatedFeedForward, LayerNorm2d, TransformerBlock
from lolisr_lib.encoder.blocks import attend_channels
from lolisr_lib.encoder.fusion import CrossScaleFusion, Upsample
from lolisr_lib.errors import ConfigError


class _RecordShapes(TorchFunctionMode):
    """Records (function name, output shape) of every torch function called inside the context."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple) else (out,):
            if isinstance(t, torch.Tensor):
                self.calls.append((getattr(func, "__name__", str(func)), tuple(t.shape)))
        return out


def _perturbed(module, seed=0):
    """The module with every parameter randomised, so no test passes thanks to an identity init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if p.ndim == 1 else 0.0))
    return module


def test_layernorm2d_normalises_each_pixel_over_channels():
    x = torch.randn(2, 8, 5, 6) * 4 + 3
    y = LayerNorm2d(8)(x)
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(2, 5, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=1, unbiased=False), torch.ones(2, 5, 6), atol=1e-3, rtol=0)
    # per pixel: changing one pixel leaves every other pixel's output as it was
    x2 = x.clone()
    x2[0, :, 2, 3] += 10
    changed = (LayerNorm2d(8)(x2) - y).abs().amax(dim=1) > 0
    assert changed.sum() == 1 and changed[0, 2, 3]


def test_layernorm2d_applies_its_affine_per_channel_and_keeps_bf16():
    norm = LayerNorm2d(4)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        norm.bias.copy_(torch.tensor([0.0, 1.0, 0.0, -1.0]))
    x = torch.randn(1, 4, 3, 3)
    plain = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + 1e-6)
    torch.testing.assert_close(norm(x), plain * norm.weight[:, None, None] + norm.bias[:, None, None])
    assert norm(x.bfloat16()).dtype == torch.bfloat16


@pytest.mark.parametrize("channels, heads", [(8, 1), (8, 2), (16, 4)])
def test_channel_attention_keeps_shape_and_matches_the_equations(channels, heads):
    attn = _perturbed(ChannelAttention(channels, heads))
    x = torch.randn(2, channels, 6, 10)
    y = attn(x)
    assert y.shape == x.shape
    # reference written from the equations, one head at a time
    q, k, v = attn.qkv_dw(attn.qkv(x)).flatten(2).chunk(3, dim=1)  # each (B, C, N)
    c = channels // heads
    outs = []
    for h in range(heads):
        qh, kh = (F.normalize(t[:, h * c : (h + 1) * c], dim=-1) for t in (q, k))
        vh = v[:, h * c : (h + 1) * c]
        outs.append(torch.softmax(attn.temperature[h] * qh @ kh.transpose(1, 2), dim=-1) @ vh)
    expected = attn.project(torch.cat(outs, dim=1).reshape(x.shape))
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-4)


def test_attention_map_is_c_by_c_and_no_intermediate_grows_with_pixels_squared():
    B, C, heads, H, W = 1, 8, 2, 32, 32
    attn = ChannelAttention(C, heads)
    with _RecordShapes() as rec:
        attn(torch.randn(B, C, H, W))
    softmaxes = [shape for name, shape in rec.calls if name == "softmax"]
    assert softmaxes == [(B, heads, C // heads, C // heads)]
    largest = max(torch.Size(shape).numel() for _, shape in rec.calls)
    assert largest <= 3 * B * C * H * W  # the Q/K/V tensor; an N x N map would be 1024 * 1024


def test_attend_channels_equals_sdpa_with_the_temperature_folded_into_q():
    q, k, v = torch.randn(3, 2, 4, 8, 50).unbind(0)  # each (B, heads, c, N)
    temperature = torch.tensor([0.5, 1.0, 3.0, 10.0]).reshape(4, 1, 1)  # (heads, 1, 1)
    sdpa = F.scaled_dot_product_attention(
        F.normalize(q, dim=-1) * temperature, F.normalize(k, dim=-1), v, scale=1.0
    )
    torch.testing.assert_close(attend_channels(q, k, v, temperature), sdpa, atol=1e-5, rtol=1e-5)


def test_temperature_is_learned():
    attn = ChannelAttention(8, 2)
    attn(torch.randn(1, 8, 4, 4)).square().sum().backward()
    assert attn.temperature.grad.shape == (2, 1, 1) and attn.temperature.grad.abs().min() > 0


def test_heads_must_divide_channels():
    with pytest.raises(ConfigError, match="heads=3"):
        ChannelAttention(8, 3)


@pytest.mark.parametrize("channels, expansion", [(8, 2.66), (16, 1.0)])
def test_gated_ffn_shapes(channels, expansion):
    ffn = GatedFeedForward(channels, expansion)
    hidden = int(channels * expansion)
    assert ffn.project_in.out_channels == 2 * hidden and ffn.dw.groups == 2 * hidden
    assert ffn.project_out.in_channels == hidden
    x = torch.randn(2, channels, 5, 7)
    assert ffn(x).shape == x.shape


def test_gated_ffn_is_gelu_of_one_half_times_the_other():
    ffn = _perturbed(GatedFeedForward(4, 2.0))
    x = torch.randn(1, 4, 3, 3)
    x1, x2 = ffn.dw(ffn.project_in(x)).chunk(2, dim=1)
    torch.testing.assert_close(ffn(x), ffn.project_out(F.gelu(x1) * x2))


def test_transformer_block_is_residual():
    block = _perturbed(TransformerBlock(8, 2, 2.0))
    x = torch.randn(1, 8, 6, 6)
    assert block(x).shape == x.shape and not torch.allclose(block(x), x)
    with torch.no_grad():
        block.attn.project.weight.zero_()
        block.ffn.project_out.weight.zero_()
    torch.testing.assert_close(block(x), x)


def test_transformer_block_is_memory_format_agnostic():
    block = _perturbed(TransformerBlock(8, 2, 2.66))
    x = torch.randn(2, 8, 8, 12)
    expected = block(x)
    got = block.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_fusion_adds_every_other_branch_resized():
    fusion = _perturbed(CrossScaleFusion((4, 8, 16)))
    xs = [torch.randn(1, 4, 16, 8), torch.randn(1, 8, 8, 4), torch.randn(1, 16, 4, 2)]
    ys = fusion(xs)
    assert [y.shape for y in ys] == [x.shape for x in xs]
    torch.testing.assert_close(ys[1], xs[1] + fusion.resize[0][1](xs[0]) + fusion.resize[2][1](xs[2]))
    # branch 0 (finest) is reached from branch 2 by a 4x upsampling, branch 2 from branch 0 by two strided convs
    assert fusion.resize[2][0](xs[2]).shape == (1, 4, 16, 8)
    assert sum(isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) for m in fusion.resize[0][2].modules()) == 2


def test_upsample_conv_first_equals_the_conv_after_bilinear():
    up = _perturbed(Upsample(4, 6, steps=2))
    x = torch.randn(2, 4, 5, 3)
    after = up.conv(F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False))
    torch.testing.assert_close(up(x), after, atol=1e-5, rtol=1e-5)
