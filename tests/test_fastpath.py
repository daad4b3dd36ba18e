"""The fast path: channels-last end to end, the 1x1 weight cache switch, bf16 numerics."""

import copy

import pytest
import torch

from lolisr_lib.bench.modes import Mode, bench_model, image_agreement
from lolisr_lib.config import preset
from lolisr_lib.flow import ConditionalFlow, InvConv1x1, is_channels_last, squeeze, unsqueeze
from lolisr_lib.runtime import fastpath

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model():
    return bench_model(preset("tiny-x2"), CPU, seed=0)


def test_squeeze_keeps_channels_last_and_the_same_values():
    x = torch.randn(2, 3, 8, 12)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    y = squeeze(x_cl, times=2)
    assert is_channels_last(y)
    assert torch.equal(y, squeeze(x, times=2))
    assert is_channels_last(unsqueeze(y, times=2)) and torch.equal(unsqueeze(y, times=2), x)


def test_flow_follows_its_conditions_layout():
    torch.manual_seed(0)
    flow = ConditionalFlow(3, levels=2, steps=1, cond_channels=4, hidden=8).eval()
    x = torch.rand(1, 3, 16, 16)
    cond = [torch.randn(1, 4, 8, 8), torch.randn(1, 4, 4, 4)]
    with torch.no_grad():
        z_ref = flow(x, cond)[0][-1]
        flow_cl = copy.deepcopy(flow).to(memory_format=torch.channels_last)
        cond_cl = [c.contiguous(memory_format=torch.channels_last) for c in cond]
        latents, _, _ = flow_cl(x, cond_cl)
        x_back, _ = flow_cl.inverse(latents, cond_cl)
    assert is_channels_last(latents[-1]) and is_channels_last(x_back)
    torch.testing.assert_close(latents[-1], z_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=1e-5)


def _caches(model):
    return [len(m._cache) for m in model.modules() if isinstance(m, InvConv1x1)]


def test_weight_cache_switch_keeps_the_reference_uncached(model):
    reference = copy.deepcopy(model)
    assert fastpath.use_fast_flow(reference, False) > len(_caches(reference)) > 0
    lq = torch.rand(1, 3, 16, 16)
    out = reference.enhance(lq)
    assert set(_caches(reference)) == {0}  # nothing cached at inference
    fastpath.use_fast_flow(reference, True)
    torch.testing.assert_close(reference.enhance(lq), out)
    assert set(_caches(reference)) == {1}  # W^-1, the only weight enhance uses


def test_prepare_for_inference_matches_the_reference(model):
    lq = torch.rand(1, 3, 20, 28) * 0.3
    reference = model.enhance(lq)
    fast = fastpath.prepare_for_inference(copy.deepcopy(model))
    assert fast.encoder.stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert set(_caches(fast)) == {2}  # filled before the first call
    out = fast.enhance(lq)
    assert out.shape == reference.shape
    assert (out - reference).abs().max() < 1e-4


def test_bf16_autocast_keeps_psnr_above_40_db(model):
    # CPU autocast emulates the CUDA fast mode's numerics: bf16 networks, float32 flow data path.
    lq = torch.rand(1, 3, 24, 24) * 0.3
    reference = model.enhance(lq)
    fast = fastpath.prepare_for_inference(copy.deepcopy(model))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast.enhance(lq)
    assert image_agreement(reference, out, Mode("fast", True, True, True, False, ""))["psnr_db"] > 40


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # importing torch._dynamo warns about torch.jit
def test_compile_inference_is_undone_by_drop_compiled(model):
    fast = copy.deepcopy(model)
    fastpath.compile_inference(fast)
    assert "_generate" in vars(fast)
    fastpath.drop_compiled(fast)
    assert "_generate" not in vars(fast)
    lq = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(fast.enhance(lq), model.enhance(lq))


def test_autocast_uses_bf16_on_a_cpu_only_where_it_is_native(monkeypatch):
    conv = lambda: torch.nn.functional.conv2d(torch.rand(1, 2, 4, 4), torch.rand(2, 2, 1, 1))  # noqa: E731
    with fastpath.autocast(CPU):
        y = conv()
    assert y.dtype == (torch.bfloat16 if fastpath.native_bf16(CPU) else torch.float32)
    monkeypatch.setattr(fastpath, "native_bf16", lambda device: False)  # a CPU without AVX-512 BF16 / AMX
    with fastpath.autocast(CPU):
        assert conv().dtype == torch.float32
    with fastpath.autocast(CPU, enabled=False):
        assert conv().dtype == torch.float32
