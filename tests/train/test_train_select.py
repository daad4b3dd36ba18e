"""train.select_by: the Val score that chooses best.pt (PSNR by default; the exposure-aware PSNR or SSIM, which
do not follow the brightness guess)."""

from __future__ import annotations

import csv

import pytest
import torch
from train_helpers import make_standin, small_config

from lolisr_lib.errors import ConfigError
from lolisr_lib.train import train


# Scripted Val scores of the validations at steps 3, 6 and 9: each score peaks at another step.
SCRIPTED = [{"psnr": 10.0, "ssim": 0.7, "psnr_exposure": 20.0}, {"psnr": 12.0, "ssim": 0.5, "psnr_exposure": 19.0},
            {"psnr": 11.0, "ssim": 0.6, "psnr_exposure": 21.0}]
BEST_STEP = {"psnr": 6, "ssim": 3, "psnr_exposure": 9}


@pytest.mark.parametrize("score", sorted(BEST_STEP))
def test_best_checkpoint_is_the_validation_with_the_best_chosen_score(score, mini_root, tmp_path, monkeypatch):
    from lolisr_lib.train import loop

    scripted = iter(SCRIPTED)
    monkeypatch.setattr(loop, "summarise_scores", lambda rows: {**next(scripted), "brightness_error": 0.0,
                                                                "brightness_bias": 0.0, "images": len(rows)})
    config = small_config(9, f"select_by={score}")
    result = train(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False,
                   model=make_standin(config))
    rows = list(csv.DictReader((tmp_path / "val.csv").open()))
    assert [int(r["step"]) for r in rows] == [3, 6, 9]
    assert torch.load(result.best_checkpoint, weights_only=True)["step"] == BEST_STEP[score]
    assert result.best_psnr == SCRIPTED[BEST_STEP[score] // 3 - 1]["psnr"]  # best_psnr stays best.pt's Val PSNR


def test_unknown_selection_score_is_refused(mini_root, tmp_path):
    config = small_config(2, "select_by=loss")
    with pytest.raises(ConfigError, match="psnr, psnr_exposure, ssim"):
        train(config, data_root=mini_root, out_dir=tmp_path, device="cpu", progress=False,
              model=make_standin(config))
