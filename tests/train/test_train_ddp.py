"""torchrun with two CPU processes (gloo): one set of files from rank 0, replicas that stay identical."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from train_helpers import REPO, child_env, small_overrides

from lolisr_lib.train import read_log

pytestmark = pytest.mark.slow

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]

RANK_DUMP = """
import os, sys, torch
from lolisr_lib.config import preset, with_overrides
from lolisr_lib.train import Trainer
root, out, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
trainer = Trainer(with_overrides(preset("tiny-x2"), overrides), data_root=root, out_dir=out, device="cpu",
                  progress=False)
trainer.run(3)
torch.save(trainer.model.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.weights"))
trainer.close()
"""


SHARDED_VAL = """
import json, os, sys
from lolisr_lib.config import preset, with_overrides
from lolisr_lib.train import Trainer
from lolisr_lib.train.validate import shard, validate
root, out, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
trainer = Trainer(with_overrides(preset("tiny-x2"), overrides), data_root=root, out_dir=out, device="cpu",
                  progress=False)
trainer.run(2)  # ends with a validation, sharded over the two processes
dataset, indices = trainer._val_data()
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
with open(os.path.join(out, f"share{rank}.json"), "w") as f:
    json.dump(shard(indices, rank, world), f)
if rank == 0:  # the same weights, every image scored by this one process
    whole = validate(trainer._inference_model(), dataset, indices, trainer.device, scale=2)
    with open(os.path.join(out, "whole.json"), "w") as f:
        json.dump(whole, f)
trainer.close()
"""


def torchrun(args: list[str]) -> None:
    proc = subprocess.run(TORCHRUN + args, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def test_torchrun_cli_writes_one_checkpoint_set(mini_root, tmp_path):
    out = tmp_path / "run"
    torchrun(["-m", "lolisr_lib", "train", "--preset", "tiny-x2", "--data", str(mini_root), "--out", str(out),
              "--device", "cpu", "--steps", "3", "--no-progress", *[f"--{o}" for o in small_overrides(4)]])
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt", "config.json", "last.pt", "log.csv", "log.jsonl", "prev.pt", "val.csv", "val.jsonl",
    ]  # no second set from rank 1, no temporary files left
    assert [r["step"] for r in read_log(out)] == [1, 2, 3]  # each step logged once
    assert len((out / "log.csv").read_text().splitlines()) == 4
    payload = torch.load(out / "last.pt", weights_only=True)
    assert payload["step"] == 3 and payload["world_size"] == 2 and len(payload["rng"]) == 2
    noise = [state["generators"]["noise"] for state in payload["rng"]]
    assert not torch.equal(noise[0], noise[1])  # each process draws its own dequantisation noise


def test_torchrun_replicas_agree_after_data_dependent_init(mini_root, tmp_path):
    script = tmp_path / "rank_dump.py"
    script.write_text(RANK_DUMP)
    torchrun([str(script), str(mini_root), str(tmp_path), *small_overrides(4)])
    rank0 = torch.load(tmp_path / "rank0.weights", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.weights", weights_only=True)
    assert any("actnorm" in key.lower() or "initialized" in key.lower() for key in rank0), list(rank0)[:20]
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"replicas differ in {key}"


def test_torchrun_validation_is_sharded_and_equals_one_process(mini_root, tmp_path):
    script = tmp_path / "sharded_val.py"
    script.write_text(SHARDED_VAL)
    torchrun([str(script), str(mini_root), str(tmp_path), *small_overrides(4), "val_images=4"])
    shares = [json.loads((tmp_path / f"share{r}.json").read_text()) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 2 and not set(shares[0]) & set(shares[1])  # each its own half
    logged = read_log(tmp_path, "val")[-1]
    whole = json.loads((tmp_path / "whole.json").read_text())
    assert logged["images"] == whole["images"] == 4
    for key in ("psnr", "ssim", "brightness_error", "brightness_bias"):
        assert logged[key] == pytest.approx(whole[key], rel=1e-9), key
