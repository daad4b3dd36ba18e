"""A run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run (lolisr_lib.train)."""

from __future__ import annotations

import sys

import pytest
import torch
from train_helpers import (
    HERE,
    assert_same_state,
    kill_after_checkpoint,
    make_standin,
    small_config,
    small_overrides,
)

from lolisr_lib.train import read_log, train
from lolisr_lib.train.batches import EpochBatchSampler

STEPS = 12  # 9 batches per epoch: the runs cross an epoch boundary

STANDIN_CHILD = """
import sys
sys.path.insert(0, {here!r})
import train_helpers as helpers
from lolisr_lib.train import train
config = helpers.small_config({steps})
train(config, data_root={root!r}, out_dir={out!r}, device="cpu", progress=False,
      model=helpers.make_standin(config, sleep=0.2))
"""


def assert_same_runs(a, b) -> None:
    assert_same_state(a / "last.pt", b / "last.pt")
    assert_same_state(a / "best.pt", b / "best.pt")
    rows_a, rows_b = read_log(a), read_log(b)
    assert [r["step"] for r in rows_b] == list(range(1, STEPS + 1))  # no step lost or logged twice
    assert [r["loss"] for r in rows_b] == [r["loss"] for r in rows_a]
    assert read_log(b, "val") == read_log(a, "val")
    assert len((b / "log.csv").read_text().splitlines()) == STEPS + 1


def test_standin_killed_and_resumed_matches_uninterrupted(mini_root, tmp_path):
    config = small_config(STEPS)
    a, b = tmp_path / "a", tmp_path / "b"
    result = train(config, data_root=mini_root, out_dir=a, device="cpu", progress=False,
                   model=make_standin(config))
    assert result.step == STEPS and result.resumed_from is None
    script = STANDIN_CHILD.format(here=str(HERE), steps=STEPS, root=str(mini_root), out=str(b))
    killed_at = kill_after_checkpoint([sys.executable, "-c", script], b, min_step=2)
    assert 2 <= killed_at < STEPS
    resumed = train(config, data_root=mini_root, out_dir=b, device="cpu", resume=True, progress=False,
                    model=make_standin(config))
    assert resumed.step == STEPS and resumed.resumed_from == b / "last.pt"
    assert_same_runs(a, b)
    payload = torch.load(b / "last.pt", weights_only=True)
    assert payload["data"] == {"epoch": 1, "batch": 3, "items": 18}  # 12 steps: an epoch of 9 batches + 3
    assert set(payload["rng"][0]) == {"torch", "cuda", "numpy", "python", "generators"}


def test_lolisrflow_killed_via_cli_and_resumed_matches_uninterrupted(mini_root, tmp_path):
    config = small_config(STEPS)
    a, b = tmp_path / "a", tmp_path / "b"
    train(config, data_root=mini_root, out_dir=a, device="cpu", progress=False)
    cmd = [sys.executable, "-m", "lolisr_lib", "train", "--preset", "tiny-x2", "--data", str(mini_root),
           "--out", str(b), "--device", "cpu", "--no-progress", *[f"--{o}" for o in small_overrides(STEPS)]]
    killed_at = kill_after_checkpoint(cmd, b, min_step=2)
    assert 2 <= killed_at < STEPS
    resumed = train(None, data_root=mini_root, out_dir=b, device="cpu", resume=True, progress=False)
    assert resumed.step == STEPS
    assert_same_runs(a, b)


@pytest.mark.parametrize("workers", [0, 2])
def test_stop_and_resume_is_exact_whatever_the_workers(mini_root, tmp_path, workers):
    config = small_config(6)
    a, b = tmp_path / "a", tmp_path / "b"
    train(config, data_root=mini_root, out_dir=a, device="cpu", progress=False, model=make_standin(config))
    changed = small_config(6, f"num_workers={workers}")
    train(changed, data_root=mini_root, out_dir=b, device="cpu", steps=3, progress=False,
          model=make_standin(config))
    train(changed, data_root=mini_root, out_dir=b, device="cpu", resume=True, progress=False,
          model=make_standin(config))
    assert_same_state(a / "last.pt", b / "last.pt")


def test_batch_order_is_a_function_of_seed_and_epoch_shared_by_ranks():
    def batches(batch_size, epoch, start=0, rank=0, world_size=1, seed=0):
        return list(EpochBatchSampler(18, batch_size, seed=seed, epoch=epoch, start=start, rank=rank,
                                      world_size=world_size))

    whole = batches(4, epoch=1)
    assert len(whole) == 4 and len({i for b in whole for i in b}) == 16  # drop_last, no repeats
    assert batches(4, epoch=1) == whole and batches(4, epoch=2) != whole and batches(4, 1, seed=1) != whole
    assert batches(4, epoch=1, start=3) == whole[3:]  # a resumed epoch continues where it stopped
    ranks = [batches(2, epoch=1, rank=r, world_size=2) for r in (0, 1)]
    assert [a + b for a, b in zip(*ranks)] == whole  # two processes share out exactly the same global batches


def test_resume_before_the_first_checkpoint_starts_over_and_truncates_stale_logs(mini_root, tmp_path):
    """A run killed before its first checkpoint left config.json and a few log rows, but no last.pt."""
    from lolisr_lib.commands.cli import main

    config = small_config(4, "train.checkpoint_every=100", "train.val_every=0")
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(config.to_json())
    (out / "log.jsonl").write_text('{"step": 1, "loss": 99.0}\n{"step": 2, "loss": 98.0}\n')
    (out / "log.csv").write_text("step,loss\n1,99.0\n2,98.0\n")
    with pytest.warns(UserWarning, match="starts over from step 0"):
        code = main(["train", "--out", str(out), "--data", str(mini_root), "--resume", "--device", "cpu",
                     "--no-progress"])
    assert code == 0
    rows = read_log(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(r["loss"] < 90 for r in rows)  # stale rows gone
    assert (out / "last.pt").is_file()
    fresh = tmp_path / "fresh"
    train(config, data_root=mini_root, out_dir=fresh, device="cpu", progress=False)
    assert_same_state(out / "last.pt", fresh / "last.pt")  # exactly the run it would have been


def test_resume_without_checkpoint_or_config_names_the_folder(tmp_path, capsys):
    from lolisr_lib.commands.cli import main

    assert main(["train", "--out", str(tmp_path), "--resume", "--device", "cpu"]) == 2
    assert f"cannot resume {tmp_path}" in capsys.readouterr().err
