"""Channel vs spatial attention cost: the toy spatial attention, the counted costs and the slope fit."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lolisr_lib.encoder.blocks import attend_channels
from lolisr_lib.errors import UserError
from lolisr_lib.lessons.attention_cost import (
    attention_flops,
    attention_map_bytes,
    loglog_slope,
    measure_attention_cost,
    time_attention,
    toy_spatial_attention,
)


def _qkv(c=4, n=9, heads=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, heads, c, n, generator=g, dtype=torch.float64) for _ in range(3))


def test_toy_spatial_attention_matches_a_loop_over_query_pixels():
    q, k, v = _qkv()
    out = toy_spatial_attention(q, k, v)
    c, n = q.shape[-2:]
    for h in range(q.shape[1]):
        for i in range(n):
            weights = torch.softmax(q[0, h, :, i] @ k[0, h] / math.sqrt(c), dim=0)  # (N,) over key pixels
            assert torch.allclose(out[0, h, :, i], v[0, h] @ weights)


def test_channel_attention_is_spatial_attention_on_transposed_tensors():
    q, k, v = _qkv(c=6, n=20)
    tau = torch.tensor([0.5, 2.0], dtype=torch.float64).view(2, 1, 1)
    qn, kn = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    swapped = toy_spatial_attention(qn.transpose(-2, -1), kn.transpose(-2, -1), v.transpose(-2, -1), scale=tau)
    assert torch.allclose(attend_channels(q, k, v, tau), swapped.transpose(-2, -1))


@pytest.mark.parametrize("kind, flops_slope, map_slope", [("channel", 1, 0), ("spatial", 2, 2)])
def test_counted_costs_follow_their_power_laws(kind, flops_slope, map_slope):
    pixels = [64, 256, 1024, 4096]
    assert loglog_slope(pixels, [attention_flops(kind, 16, n) for n in pixels]) == pytest.approx(flops_slope)
    map_bytes = [attention_map_bytes(kind, 16, n) for n in pixels]
    assert loglog_slope(pixels, map_bytes) == pytest.approx(map_slope, abs=1e-9)


def test_counted_costs_at_one_size():
    assert attention_flops("channel", 16, 100, heads=2) == 2 * 4 * 16 * 16 * 100
    assert attention_flops("spatial", 16, 100) == 4 * 100 * 100 * 16
    assert attention_map_bytes("spatial", 16, 100) == 100 * 100 * 4
    assert attention_map_bytes("channel", 16, 10**6, heads=3) == 3 * 16 * 16 * 4


def test_measurement_has_one_positive_time_per_size():
    cost = measure_attention_cost("spatial", [4, 8], channels=4, repeats=1)
    assert cost.pixels.tolist() == [16, 64] and np.all(cost.seconds > 0)
    assert cost.slope("flops") == pytest.approx(2) and cost.slope("map_bytes", min_pixels=16) == pytest.approx(2)
    assert time_attention("channel", 4, 64, repeats=1) > 0


def test_timing_runs_on_one_thread_and_gives_the_threads_back(monkeypatch):
    seen = []
    original = torch.Tensor.softmax

    def probe(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "softmax", probe)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # so that a timing that kept the caller's threads would be seen
    try:
        time_attention("spatial", 4, 64, repeats=2)
        assert torch.get_num_threads() == 2  # the caller's setting given back
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}  # measured on one thread: the slope is the algorithm's, not the load's


def test_loglog_slope_recovers_an_exponent():
    x = np.array([1.0, 10.0, 100.0])
    assert loglog_slope(x, 3 * x**1.5) == pytest.approx(1.5)


@pytest.mark.parametrize("call", [
    lambda: attention_flops("local", 4, 4),
    lambda: attention_map_bytes("spatial", 0, 4),
    lambda: loglog_slope([1, 1], [1, 2]),
    lambda: loglog_slope([1, 2], [0, 1]),
])
def test_bad_arguments_are_user_errors(call):
    with pytest.raises(UserError):
        call()
