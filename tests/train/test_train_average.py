"""The weight average (train.ema_decay, lolisr_lib/train/average.py): its maths, resume, and what is shipped."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from train_helpers import assert_same_state, make_standin, small_config

from lolisr_lib.checkpoint import inference_weights
from lolisr_lib.model.build import load_model
from lolisr_lib.train import train
from lolisr_lib.train.average import WeightAverage


def test_average_is_the_bias_corrected_exponential_mean():
    decay = 0.9
    model = nn.Linear(2, 1, bias=False)
    average = None
    seen = []
    for k in range(6):
        with torch.no_grad():
            model.weight.fill_(float(k * k))
        seen.append(float(k * k))
        if average is None:
            average = WeightAverage(model, decay)
        average.update(model)
    t = len(seen)
    expected = sum((1 - decay) * decay ** (t - 1 - k) * w for k, w in enumerate(seen)) / (1 - decay**t)
    assert average.model.weight[0, 0].item() == pytest.approx(expected, rel=1e-6)
    assert average.model.weight[0, 0].item() != pytest.approx(seen[-1])  # it really lags the last weights


def test_first_update_copies_and_average_does_not_train():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, 0.99)
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update(model)
    assert torch.equal(average.model.weight, model.weight)
    assert not any(p.requires_grad for p in average.model.parameters())


@pytest.mark.parametrize("decay", [1.0, -0.5])
def test_bad_decay_is_refused(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        WeightAverage(nn.Linear(1, 1), decay)


def test_run_with_average_resumes_exactly_and_ships_the_average(mini_root, tmp_path):
    config = small_config(6, "ema_decay=0.9")
    a, b = tmp_path / "a", tmp_path / "b"
    train(config, data_root=mini_root, out_dir=a, device="cpu", progress=False, model=make_standin(config))
    train(config, data_root=mini_root, out_dir=b, device="cpu", steps=3, progress=False, model=make_standin(config))
    train(config, data_root=mini_root, out_dir=b, device="cpu", resume=True, progress=False,
          model=make_standin(config))
    assert_same_state(a / "last.pt", b / "last.pt")
    payload_a = torch.load(a / "last.pt", weights_only=True)
    payload_b = torch.load(b / "last.pt", weights_only=True)
    assert payload_a["ema"]["updates"] == 6
    for name, tensor in payload_a["ema"]["weights"].items():
        assert torch.equal(tensor, payload_b["ema"]["weights"][name]), name
    # the average differs from the raw weights, and it is what inference reads
    raw, averaged = payload_a["model"], inference_weights(payload_a)
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)


def test_lolisrflow_checkpoint_loads_the_average(mini_root, tmp_path):
    config = small_config(4, "ema_decay=0.5")
    train(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False)
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    model = load_model(tmp_path / "last.pt")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, payload["ema"]["weights"][name]), name
    without = small_config(4)
    train(without, data_root=mini_root, out_dir=tmp_path / "plain", device="cpu", progress=False)
    assert "ema" not in torch.load(tmp_path / "plain" / "last.pt", weights_only=True)
