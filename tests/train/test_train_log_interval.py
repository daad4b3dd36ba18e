"""Loss logging reads the device once per log line: rows are interval means, and they survive a resume."""

from __future__ import annotations

import pytest
import torch
from train_helpers import make_standin, small_config

from lolisr_lib.train import read_log, train


def test_rows_are_means_over_the_interval(mini_root, tmp_path):
    every = small_config(6)
    train(every, data_root=mini_root, out_dir=tmp_path / "every", device="cpu", progress=False,
          model=make_standin(every))
    grouped = small_config(6, "log_every=3")
    train(grouped, data_root=mini_root, out_dir=tmp_path / "grouped", device="cpu", progress=False,
          model=make_standin(grouped))
    per_step = [r["loss"] for r in read_log(tmp_path / "every")]
    rows = read_log(tmp_path / "grouped")
    assert [r["step"] for r in rows] == [3, 6]
    assert [r["loss"] for r in rows] == pytest.approx([sum(per_step[:3]) / 3, sum(per_step[3:]) / 3], rel=1e-6)


def test_interval_in_progress_is_checkpointed(mini_root, tmp_path):
    # checkpoints every 2 steps, log lines every 3: the resumed run must finish the interval it was in
    config = small_config(6, "log_every=3")
    a, b = tmp_path / "a", tmp_path / "b"
    train(config, data_root=mini_root, out_dir=a, device="cpu", progress=False, model=make_standin(config))
    train(config, data_root=mini_root, out_dir=b, device="cpu", steps=2, progress=False, model=make_standin(config))
    assert torch.load(b / "last.pt", weights_only=True)["log_interval"]["count"] == 2
    train(config, data_root=mini_root, out_dir=b, device="cpu", resume=True, progress=False,
          model=make_standin(config))
    assert [r["loss"] for r in read_log(b)] == pytest.approx([r["loss"] for r in read_log(a)], rel=1e-9)
