"""Tiled inference takes over by itself when an image would not fit (runtime/tiling.py, LoLiSRFlow.enhance)."""

from __future__ import annotations

import pytest
import torch

from lolisr_lib.config import preset, with_overrides
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate import evaluate
from lolisr_lib.model import LoLiSRFlow
from lolisr_lib.runtime.tiling import MEMORY_ENV, USABLE_FRACTION, choose_tile, tile_argument


def test_choose_tile_one_pass_when_it_fits():
    assert choose_tile("auto", (64, 64), 2, bytes_per_hr_pixel=1000, budget=10**9) is None
    assert choose_tile("auto", (64, 64), 2, bytes_per_hr_pixel=None, budget=10**9) is None  # no estimate
    assert choose_tile("auto", (64, 64), 2, bytes_per_hr_pixel=1000, budget=None) is None  # no budget
    assert choose_tile(None, (4096, 4096), 4, 1000, 10) is None and choose_tile("off", (4096, 4096), 4, 1000, 10) is None
    assert choose_tile(96, (64, 64), 2, 1000, 10**9) == 96  # forced


def test_choose_tile_picks_the_largest_tile_that_fits():
    per_pixel, budget, scale = 1300.0, 400 * 2**20, 4
    tile = choose_tile("auto", (632, 632), scale, per_pixel, budget)
    assert tile is not None and tile % 8 == 0
    assert per_pixel * (scale * tile) ** 2 <= USABLE_FRACTION * budget  # it fits
    assert per_pixel * (scale * (tile + 8)) ** 2 > USABLE_FRACTION * budget  # and is the largest that does


def test_choose_tile_refuses_what_cannot_fit_and_bad_values():
    with pytest.raises(UserError, match="MiB"):
        choose_tile("auto", (632, 632), 4, 1300.0, 2**20)
    for bad in (0, -8, True, "big"):
        with pytest.raises(UserError, match="tile"):
            choose_tile(bad, (64, 64), 2, 1.0, 1)
    assert tile_argument("auto") == "auto" and tile_argument("off") is None and tile_argument("256") == 256
    with pytest.raises(UserError, match="--tile"):
        tile_argument("huge")


def _model() -> LoLiSRFlow:
    config = with_overrides(preset("tiny-x2"), ["flow.steps=1", "flow.hidden=8", "encoder.channels=8",
                                                "cond_channels=8", "encoder.stages=1"])
    torch.manual_seed(0)
    model = LoLiSRFlow(config)
    model(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 32, 32))  # ActNorm's data-dependent initialisation
    for p in model.parameters():  # off the identity start, so tiling has something to disagree about
        p.data.add_(0.01 * torch.randn_like(p))
    return model.eval()


def test_enhance_tiles_automatically_under_a_small_budget(monkeypatch):
    model = _model()
    lq = torch.rand(1, 3, 64, 64)
    calls = []
    tiled = model._enhance_tiled
    monkeypatch.setattr(model, "_enhance_tiled", lambda *a: calls.append(a[2]) or tiled(*a))
    with torch.no_grad():
        whole = model.enhance(lq)  # the machine's memory: one pass
        assert calls == []
        budget = int(model.inference_bytes_per_hr_pixel() * (2 * 40) ** 2 / USABLE_FRACTION)  # room for 40 px
        monkeypatch.setenv(MEMORY_ENV, str(budget))
        auto = model.enhance(lq)
        assert calls == [40]  # tiled, with the largest tile that fits
        assert torch.equal(auto, model.enhance(lq, tile=40))  # the same as asking for it
        assert torch.equal(whole, model.enhance(lq, tile="off"))  # forcing one pass still works
    mse = ((auto - whole) ** 2).mean()
    assert 10 * torch.log10(1 / mse) > 40  # the tiled-inference tolerance of tests/test_model.py


def test_evaluate_tiles_automatically_and_agrees(monkeypatch, mini_default_root):
    model = _model()
    whole = evaluate(model, mini_default_root, "Val", 2, limit=1, tile="off")
    monkeypatch.setenv(MEMORY_ENV, str(int(model.inference_bytes_per_hr_pixel() * 96**2 / USABLE_FRACTION)))
    auto = evaluate(model, mini_default_root, "Val", 2, limit=1)
    assert auto.summary["psnr"] == pytest.approx(whole.summary["psnr"], abs=0.05)
