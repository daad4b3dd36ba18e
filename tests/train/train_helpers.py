"""Helpers of the training tests: small configs, a stand-in model, killing a child run, comparing checkpoints.

The miniature dataset fixture ``mini_root`` comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lolisr_lib.config import preset, with_overrides

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# A LoLiSRFlow small enough for a few CPU steps per second, with every random path on: augmentation,
# dequantisation noise and the CR-prior coin (rho > 0).
TINY_FLOW = ["flow.steps=1", "flow.hidden=8", "encoder.channels=8", "cond_channels=8", "encoder.stages=1",
             "rho=0.5", "dequantize=true"]


def small_overrides(steps: int = 8) -> list[str]:
    """tiny-x2 on 32-pixel HR patches, batch 2, one exposure (18 images: 9 batches per epoch)."""
    return [
        f"train.steps={steps}", "batch_size=2", "patch_size=32", "warmup_steps=2", "checkpoint_every=2",
        "val_every=3", "val_images=2", "log_every=1", "num_workers=0", "augment=true", "exposures=-3.0",
        *TINY_FLOW,
    ]


def small_config(steps: int = 8, *extra: str):
    return with_overrides(preset("tiny-x2"), small_overrides(steps) + list(extra))


class StandIn(nn.Module):
    """A one-convolution model with the trainer's interface that draws from every random generator.

    ``sleep``: seconds per forward (so a child process can be killed mid-run); ``nan_loss_calls`` /
    ``nan_grad_calls``: forward calls (1-based) whose loss / gradient are made NaN.
    """

    def __init__(self, config, *, sleep: float = 0.0, nan_loss_calls=(), nan_grad_calls=()):
        super().__init__()
        self.config = config
        s = config.model.scale
        self.body = nn.Conv2d(3, 3 * s * s, 3, padding=1)
        self.up = nn.PixelShuffle(s)
        self.sleep, self.nan_loss_calls, self.nan_grad_calls = sleep, set(nan_loss_calls), set(nan_grad_calls)
        self.calls = 0

    def forward(self, lq, gt, generator=None):
        self.calls += 1
        time.sleep(self.sleep)
        sr = self.up(self.body(lq))  # (B, 3, s*h, s*w)
        l1 = (sr - gt).abs().mean()
        # every generator the trainer saves feeds the loss, so a badly restored one changes the weights
        draw = (torch.rand((), generator=generator) + torch.rand(()) + float(np.random.rand()) + random.random())
        loss = l1 + 1e-2 * draw * sr.mean()
        if self.calls in self.nan_loss_calls:
            loss = loss * float("nan")
        if self.calls in self.nan_grad_calls:
            self.body.weight.register_hook(lambda g: torch.full_like(g, float("nan")))
        return {"loss": loss, "l1": l1, "sr": sr.detach()}

    @torch.no_grad()
    def enhance(self, lq):
        return self.up(self.body(lq)).clamp(0, 1)


def make_standin(config, **kwargs) -> StandIn:
    torch.manual_seed(0)  # the same initial weights in every process
    return StandIn(config, **kwargs)


def child_env() -> dict:
    """Environment of child processes: same thread count as this one (CPU results depend on it), no bars."""
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()), TQDM_DISABLE="1", PYTHONPATH=str(REPO))
    env.pop("WORLD_SIZE", None)
    return env


def kill_after_checkpoint(cmd: list[str], out_dir: Path, *, min_step: int, timeout: float = 60) -> int:
    """Start ``cmd``, SIGKILL it once ``out_dir/last.pt`` holds step >= ``min_step``; the step it held."""
    from lolisr_lib.checkpoint import read_checkpoint

    proc = subprocess.Popen(cmd, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            last = out_dir / "last.pt"
            if last.is_file() and read_checkpoint(last)["step"] >= min_step:
                proc.kill()  # SIGKILL: no cleanup, no final checkpoint
                break
            time.sleep(0.01)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read().decode(errors="replace")
    assert proc.returncode == -9, f"the child was not killed mid-run (rc {proc.returncode}):\n{output[-3000:]}"
    return read_checkpoint(out_dir / "last.pt")["step"]


def assert_same_state(path_a: Path, path_b: Path) -> None:
    """The same step and data position, bit-identical weights and Adam state in two training checkpoints."""
    a, b = torch.load(path_a, weights_only=True), torch.load(path_b, weights_only=True)
    assert a["step"] == b["step"] and a["data"] == b["data"]
    assert_same_weights(a, b)


def assert_same_weights(a: dict, b: dict) -> None:
    """Bit-identical weights and Adam state in two checkpoint dicts."""
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), f"weights differ in {key}"
    for index, state in a["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][index][key]), f"Adam {key} differs for {index}"
