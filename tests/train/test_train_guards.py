"""Guards of the training loop: NaN/Inf steps, damaged checkpoints, config mistakes, optimiser and schedule."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from train_helpers import assert_same_state, assert_same_weights, make_standin, small_config

from lolisr_lib.checkpoint import read_checkpoint
from lolisr_lib.errors import CheckpointError, ConfigError, UserError
from lolisr_lib.runtime import fastpath
from lolisr_lib.train import Trainer, TrainingDiverged, lr_factor, make_optimizer, make_scheduler, read_log, train
from lolisr_lib.train.validate import val_crop, val_indices, validate


def run(config, out, mini_root, **kwargs):
    model = kwargs.pop("model", None) or make_standin(config)
    return train(config, data_root=mini_root, out_dir=out, device="cpu", progress=False, model=model, **kwargs)


@pytest.mark.parametrize("kind", ["nan_loss_calls", "nan_grad_calls"])
def test_non_finite_step_is_skipped_counted_and_leaves_weights(mini_root, tmp_path, kind):
    config = small_config(5, "checkpoint_every=1")
    result = run(config, tmp_path, mini_root, steps=3, model=make_standin(config, **{kind: {3}}))
    assert result.skipped_steps == 1
    before, after = read_checkpoint(tmp_path / "prev.pt"), read_checkpoint(tmp_path / "last.pt")
    assert (before["step"], after["step"]) == (2, 3)
    assert_same_weights(before, after)
    row = read_log(tmp_path)[2]
    assert row["step"] == 3 and row["skipped_steps"] == 1
    assert math.isnan(row["loss"] if kind == "nan_loss_calls" else row["grad_norm"])
    resumed = run(config, tmp_path, mini_root, resume=True)  # later steps train again
    assert resumed.skipped_steps == 1
    final = read_checkpoint(tmp_path / "last.pt")
    assert not torch.equal(final["model"]["body.weight"], after["model"]["body.weight"])


def test_many_consecutive_bad_steps_abort(mini_root, tmp_path):
    config = small_config(8, "max_skipped_in_a_row=3")
    with pytest.raises(TrainingDiverged, match="3 consecutive steps up to step 4 .*diverged"):
        run(config, tmp_path, mini_root, model=make_standin(config, nan_loss_calls={2, 3, 4}))
    last_row = read_log(tmp_path)[-1]
    assert (last_row["step"], last_row["skipped_steps"]) == (4, 3)  # the last bad step is logged before the abort


def test_truncated_last_checkpoint_is_refused_and_prev_resumes(mini_root, tmp_path, capsys):
    config = small_config(6)
    run(config, tmp_path / "a", mini_root)
    b = tmp_path / "b"
    run(config, b, mini_root, steps=4)
    data = (b / "last.pt").read_bytes()
    (b / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"last\.pt is not a readable checkpoint"):
        read_checkpoint(b / "last.pt")
    capsys.readouterr()
    result = run(config, b, mini_root, resume=True)
    assert result.resumed_from == b / "prev.pt" and result.step == 6
    err = capsys.readouterr().err
    assert "last.pt is not a readable checkpoint" in err and "prev.pt (step 2)" in err
    assert_same_state(tmp_path / "a" / "last.pt", b / "last.pt")
    assert [r["step"] for r in read_log(b)] == [1, 2, 3, 4, 5, 6]


def test_resume_without_a_checkpoint_starts_over_and_fresh_runs_never_overwrite(mini_root, tmp_path):
    config = small_config(2)
    with pytest.warns(UserWarning, match="holds no checkpoint"):
        assert run(config, tmp_path, mini_root, resume=True).step == 2
    (tmp_path / "last.pt").unlink()
    (tmp_path / "prev.pt").unlink(missing_ok=True)
    run(config, tmp_path, mini_root)
    with pytest.raises(UserError, match=r"last\.pt already exists"):
        run(config, tmp_path, mini_root)
    assert run(config, tmp_path, mini_root, resume="auto").step == 2  # continues (here: nothing left to do)


def test_resume_refuses_a_different_config(mini_root, tmp_path):
    run(small_config(4), tmp_path, mini_root, steps=2)
    with pytest.raises(ConfigError, match=r"train\.lr=0\.0005 there, 0\.001 here"):
        run(small_config(4, "lr=1e-3"), tmp_path, mini_root, resume=True)
    assert run(small_config(4, "log_every=2"), tmp_path, mini_root, resume=True).step == 4


def test_a_finished_run_extends_with_further_halvings(mini_root, tmp_path):
    # how the shipped models were continued: more steps, the same learning rate up to here, then lower
    run(small_config(4, "decay_at=0.5"), tmp_path, mini_root)
    longer = small_config(8, "decay_at=0.25,0.75")  # the old halving at step 2 kept, a new one at step 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the steps already taken keep their learning rate: nothing to warn about
        assert run(longer, tmp_path, mini_root, resume=True).step == 8
    base = longer.train.lr
    assert [row["lr"] / base for row in read_log(tmp_path)] == pytest.approx(
        [0.5, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25])
    with pytest.raises(ConfigError, match=r"train\.warmup_steps=2 there, 3 here"):
        run(small_config(10, "decay_at=0.25,0.75", "warmup_steps=3"), tmp_path, mini_root, resume=True)


def test_a_resumption_that_rewrites_past_learning_rates_warns(mini_root, tmp_path):
    run(small_config(4, "decay_at=0.5"), tmp_path, mini_root, steps=3)  # halved from step 2
    with pytest.warns(UserWarning, match="step 2 would have had learning-rate factor 1, not 0.5"):
        run(small_config(16, "decay_at=0.5"), tmp_path, mini_root, resume=True, steps=4)  # halved from step 8


def test_steps_beyond_the_schedule_are_refused(mini_root, tmp_path):
    with pytest.raises(ConfigError, match="outside 0..train.steps=4"):
        run(small_config(4), tmp_path, mini_root, steps=5)


def test_bf16_without_native_support_warns_and_trains_in_float32(mini_root, tmp_path, monkeypatch):
    monkeypatch.setattr(fastpath, "native_bf16", lambda device: False)  # e.g. a CPU without AVX-512 BF16
    config = small_config(2, "bf16=true")
    with pytest.warns(UserWarning, match="bf16 is ignored on cpu: it has no native bf16"):
        trainer = Trainer(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False,
                          model=make_standin(config))
    assert trainer.bf16 is False


@pytest.mark.skipif(not fastpath.native_bf16(torch.device("cpu")), reason="needs a CPU with native bf16")
def test_bf16_on_a_cpu_with_native_bf16_trains_under_autocast(mini_root, tmp_path):
    config = small_config(2, "bf16=true")
    trainer = Trainer(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False,
                      model=make_standin(config))
    assert trainer.bf16 is True
    trainer.run(steps=2)
    losses = [row["loss"] for row in read_log(tmp_path)]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)


def test_the_trained_model_is_channels_last(mini_root, tmp_path):
    config = small_config(2)
    trainer = Trainer(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False,
                      model=make_standin(config))
    convs = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)


def test_adam_betas_are_applied(mini_root, tmp_path):
    config = small_config(2, "betas=0.8,0.95", "weight_decay=0.01")
    trainer = Trainer(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False,
                      model=make_standin(config))
    group = trainer.optimizer.param_groups[0]
    assert group["betas"] == (0.8, 0.95) and group["weight_decay"] == 0.01 and group["lr"] == 0.5 * 5e-4
    trainer.run()
    trainer.close()
    assert tuple(read_checkpoint(tmp_path / "last.pt")["optimizer"]["param_groups"][0]["betas"]) == (0.8, 0.95)


@pytest.mark.parametrize(
    ("step", "factor"),
    [(0, 0.1), (4, 0.5), (9, 1.0), (49, 1.0), (50, 0.5), (74, 0.5), (75, 0.25), (90, 0.125), (95, 0.0625),
     (99, 0.0625)],
)
def test_lr_factor_warms_up_then_halves(step, factor):
    assert lr_factor(step, total_steps=100, warmup_steps=10, decay_at=(0.5, 0.75, 0.9, 0.95)) == factor


def test_scheduler_follows_lr_factor_through_the_optimizer():
    config = small_config(20, "warmup_steps=4", "decay_at=0.5", "lr=1e-2")
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(2))], config.train)
    scheduler = make_scheduler(optimizer, config.train)
    lrs = []
    for _ in range(20):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2])
    assert lrs[9] == pytest.approx(1e-2) and lrs[10] == pytest.approx(5e-3) and lrs[19] == pytest.approx(5e-3)


def test_validation_picks_spread_images_and_crops_aligned_pairs():
    assert val_indices(20, 0) == list(range(20)) and val_indices(20, 50) == list(range(20))
    assert val_indices(20, 3) == [0, 10, 19]
    lq = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).reshape(2, 3, 10, 10)
    gt = lq.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)  # (2, 3, 20, 20): each LR pixel as 2x2
    small_lq, small_gt = val_crop(lq, gt, 8, 2)
    assert small_lq.shape[-2:] == (4, 4) and small_gt.shape[-2:] == (8, 8)
    assert torch.equal(small_gt[..., ::2, ::2], small_lq) and torch.equal(small_lq, lq[..., 3:7, 3:7])
    with pytest.raises(ConfigError, match="val_crop=7 must be a multiple of the scale 2"):
        val_crop(lq, gt, 7, 2)


def test_validate_scores_centre_crops_in_eval_mode(mini_root):
    from lolisr_lib.data import RellisurDataset

    config = small_config(1)
    model = make_standin(config)
    seen = []
    plain_enhance = model.enhance
    model.enhance = lambda lq: seen.append((tuple(lq.shape), model.training)) or plain_enhance(lq)
    scores = validate(model, RellisurDataset(mini_root, "Val", 2), [0, 5], torch.device("cpu"), scale=2, crop=16)
    assert seen == [((1, 3, 8, 8), False)] * 2 and model.training  # cropped, scored in eval, back to train
    assert scores["images"] == 2 and -1 <= scores["ssim"] <= 1 and math.isfinite(scores["psnr"])
    assert math.isfinite(scores["psnr_exposure"]) and scores["psnr_exposure"] != scores["psnr"]


def test_psnr_exposure_is_the_psnr_once_the_brightness_comes_from_the_exposure():
    from lolisr_lib.image.color import linear_to_srgb, srgb_to_linear
    from lolisr_lib.image.degrade import degrade
    from lolisr_lib.train.validate import psnr_with_exposure_brightness

    rng = torch.Generator().manual_seed(0)
    gt = 0.25 + 0.5 * torch.rand(1, 3, 16, 16, generator=rng)
    lq = torch.from_numpy(degrade((gt[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8"), 2, -3.0))
    lq = lq.permute(2, 0, 1)[None].float() / 255
    too_dark = linear_to_srgb(srgb_to_linear(gt) / 4)  # the right picture, two stops too dark
    assert psnr_with_exposure_brightness(too_dark, lq, gt, -3.0) > 30  # the exposure restores the brightness
    assert math.isnan(psnr_with_exposure_brightness(too_dark, lq, gt, None))  # no exposure known: not a number


def test_resume_with_more_steps_follows_the_new_schedule(mini_root, tmp_path):
    short = small_config(8, "warmup_steps=2", "decay_at=[0.5]")
    run(short, tmp_path, mini_root, steps=4)
    longer = small_config(16, "warmup_steps=2", "decay_at=[0.5]")
    run(longer, tmp_path, mini_root, resume=True, steps=6)
    rows = read_log(tmp_path)
    t = longer.train
    for row in rows[4:]:  # every resumed step uses the 16-step schedule, the first one included
        expected = t.lr * lr_factor(row["step"] - 1, total_steps=16, warmup_steps=2, decay_at=(0.5,))
        assert row["lr"] == pytest.approx(expected), row
    assert rows[4]["lr"] == pytest.approx(t.lr)  # the 8-step schedule would have halved it at step 5
