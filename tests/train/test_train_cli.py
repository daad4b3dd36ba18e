"""``python -m lolisr_lib train``: files written, config overrides, one-line errors with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_helpers import small_overrides

from lolisr_lib.checkpoint import checkpoint_config, read_checkpoint
from lolisr_lib.commands.cli import build_parser, main, parse
from lolisr_lib.train import read_log


def cli_args(mini_root, out, *extra: str, steps: int = 2) -> list[str]:
    return ["train", "--preset", "tiny-x2", "--data", str(mini_root), "--out", str(out), "--device", "cpu",
            "--steps", str(steps), "--no-progress", *[f"--{o}" for o in small_overrides(4)], *extra]


def test_train_writes_checkpoint_logs_and_config(mini_root, tmp_path, capsys):
    assert main(cli_args(mini_root, tmp_path, "--lr=1e-3", "--train.batch_size=3")) == 0
    assert "last checkpoint:" in capsys.readouterr().out
    for name in ("last.pt", "best.pt", "config.json", "log.csv", "log.jsonl", "val.csv"):
        assert (tmp_path / name).is_file(), name
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["train"]["lr"] == 1e-3 and stored["train"]["batch_size"] == 3
    assert stored["model"]["flow"]["steps"] == 1
    assert checkpoint_config(read_checkpoint(tmp_path / "last.pt")).train.batch_size == 3
    assert (tmp_path / "log.csv").read_text().splitlines()[0].startswith("step,loss,")
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2]


def test_resume_without_preset_uses_the_stored_config(mini_root, tmp_path):
    assert main(cli_args(mini_root, tmp_path)) == 0
    resume = ["train", "--out", str(tmp_path), "--data", str(mini_root), "--resume", "--steps", "3", "--device", "cpu",
              "--no-progress"]
    assert main(resume) == 0
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 3


def test_arch_shortcut_trains_a_baseline(mini_root, tmp_path):
    pytest.importorskip("lolisr_lib.baselines.cnn")
    assert main(cli_args(mini_root, tmp_path, "--arch", "joint-cnn", "--baseline.channels=8", "--baseline.blocks=1",
                         steps=1)) == 0
    assert checkpoint_config(read_checkpoint(tmp_path / "last.pt")).model.arch == "joint-cnn"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--preset", "tiny-x3"], "unknown preset 'tiny-x3'"),
        (["--train.nosuch=1"], "no config field 'train.nosuch'"),
        (["--lr=fast"], "cannot read 'fast' as float"),
        (["--frobnicate"], "--frobnicate: unknown option"),
        (["--data", "/nonexistent/RELLISUR"], "/nonexistent/RELLISUR"),
        (["--device", "tpu"], "--device 'tpu'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(mini_root, tmp_path, capsys, change, message):
    args = cli_args(mini_root, tmp_path)
    if change[0] in args:  # replace the value of an option already there
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "last.pt").exists()


def test_preset_is_required_for_a_new_run(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "--preset is required" in capsys.readouterr().err


def test_training_on_simulated_pairs_validates_on_the_data_roots_val_split(mini_root, tmp_path):
    args = cli_args(mini_root, tmp_path, "--train.data=simulated", "--train.sim_items=8", "--train.sim_scene_size=64")
    assert main(args) == 0
    rows = read_log(tmp_path)
    assert [r["step"] for r in rows] == [1, 2] and all(np.isfinite(r["loss"]) for r in rows)
    val = (tmp_path / "val.csv").read_text().splitlines()
    assert val[0].startswith("step,psnr,ssim,brightness_error,brightness_bias")


def test_unknown_training_data_kind_is_a_config_error(mini_root, tmp_path, capsys):
    assert main(cli_args(mini_root, tmp_path, "--train.data=photos")) == 2
    assert "train.data='photos'" in capsys.readouterr().err


def test_unknown_double_dash_options_are_handed_over_as_overrides(tmp_path):
    args = parse(build_parser(), ["train", "--preset", "tiny-x2", "--train.steps=10", "--out", str(tmp_path),
                                  "--lr=1e-4", "--steps", "5", "--exposures", "-3,-4", "--gamma=-1", "--frobnicate"])
    assert (args.preset, args.steps, args.out) == ("tiny-x2", 5, tmp_path)
    assert args.overrides == ["--train.steps=10", "--lr=1e-4", "--exposures=-3,-4", "--gamma=-1", "--frobnicate"]
    # no abbreviations: "--pre=..." is a config override (an unknown field), not --preset
    assert parse(build_parser(), ["train", "--out", str(tmp_path), "--pre=x"]).overrides == ["--pre=x"]
    assert parse(build_parser(), ["train", "--out", str(tmp_path)]).overrides == []


@pytest.mark.parametrize("extra", [["stray"], ["-x"], ["--train.steps", "10"]])
def test_other_unknown_arguments_are_argparse_errors(tmp_path, capsys, extra):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--preset", "tiny-x2", "--out", str(tmp_path), *extra])
    assert exit_info.value.code == 2
    assert f"unrecognized arguments: {extra[-1]}" in capsys.readouterr().err


def test_a_negative_channel_pedestal_is_refused_by_name(mini_root, tmp_path, capsys):
    args = cli_args(mini_root, tmp_path, "--train.data=simulated", "--train.sim_channel_pedestal=-0.001")
    assert main(args) == 2
    assert "channel_pedestal" in capsys.readouterr().err
