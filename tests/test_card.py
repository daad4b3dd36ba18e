"""Model-card figures: the tables, and one pair through the three methods."""

import pytest
import torch

from lolisr_lib.config import preset
from lolisr_lib.evaluate.card import ablation_table, card_tables, compare_methods, per_scene
from lolisr_lib.model import LoLiSRFlow


def _summary(psnr):
    return {"psnr": psnr, "ssim": 0.5, "n": 2, "per_ev": {"-3.0": {"psnr": psnr, "ssim": 0.5, "n": 1},
                                                          "-4.0": {"psnr": psnr - 1, "ssim": 0.4, "n": 1}}}


def test_card_tables_show_every_method_overall_per_ev_and_on_real_pairs():
    card = {"scale": 2, "mini": {k: _summary(p) for k, p in (("model", 20.0), ("he-bicubic", 14.0),
                                                                ("oracle-gain", 19.0))},
            "real": {k: {"00018-3.0": {"psnr": p, "ssim": 0.6}, "00736-5.0": {"psnr": p - 2, "ssim": 0.5}}
                     for k, p in (("model", 18.0), ("he-bicubic", 14.5), ("oracle-gain", 24.0))}}
    text = card_tables(card)
    assert "| LoLiSRFlow (shipped) | 20.00 / 0.500 | 20.00 | 19.00 |" in text
    assert "| HE + bicubic | 14.50 / 0.600 | 12.50 / 0.500 | 13.50 |" in text
    assert "-3.0 EV" in text and "00736-5.0" in text


def test_card_tables_put_other_models_between_the_model_and_the_baselines():
    card = {"scale": 4, "mini": {k: _summary(p) for k, p in (("model", 20.0), ("joint CNN", 19.5),
                                                                ("he-bicubic", 14.0), ("oracle-gain", 19.0))}}
    lines = card_tables(card, model_label="LoLiSRFlow").splitlines()
    rows = [line.split(" | ")[0] for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["| LoLiSRFlow", "| joint CNN", "| HE + bicubic", "| oracle gain (reads gt mean)"]
    assert "| joint CNN | 19.50 / 0.500 | 19.50 | 18.50 |" in lines


def test_per_scene_averages_each_scene_over_its_exposures_in_the_rows_order():
    rows = [{"scene": scene, "ev": ev, "psnr": p, "ssim": q} for scene, ev, p, q in (
        ("00607", -3.0, 20.0, 0.6), ("00057", -3.0, 18.0, 0.5), ("00607", -4.0, 17.0, 0.4))]
    scenes = per_scene(rows)
    assert list(scenes) == ["00607", "00057"]
    assert scenes["00607"] == pytest.approx({"psnr": 18.5, "ssim": 0.5, "n": 2})
    assert scenes["00057"] == pytest.approx({"psnr": 18.0, "ssim": 0.5, "n": 1})


def test_ablation_table_reports_the_largest_dip():
    val = [{"step": s, "psnr": p, "brightness_error": abs(b), "brightness_bias": b}
           for s, p, b in ((100, 15.0, 9.0), (200, 18.0, -4.0), (300, 16.5, 4.0))]
    text = ablation_table({"paper loss": {"val": val, "test_psnr": 17.0, "real_psnr": {"a": 16.0}}})
    assert "| paper loss | 15.00 -> 16.50 (18.00) | 1.50 dB | 4.0 | 4.0 | 17.00 | 16.00 |" in text


def test_compare_methods_scores_three_outputs_of_the_target_size():
    torch.manual_seed(0)
    model = LoLiSRFlow(preset("tiny-x2")).eval()
    lq, gt = torch.rand(3, 16, 16) * 0.1, torch.rand(3, 32, 32)
    outputs, scores = compare_methods(model, lq, gt, label="flow")
    assert list(outputs) == ["HE + bicubic", "oracle gain (reads gt mean)", "flow"]
    assert all(out.shape == gt.shape for out in outputs.values())
    assert all(0 < p < 100 and -1 <= s <= 1 for p, s in scores.values())


def test_compare_methods_with_the_exposure_adds_the_model_with_its_brightness_from_the_ev():
    from lolisr_lib.image.color import srgb_to_linear
    from lolisr_lib.image.exposure import scene_linear_mean

    torch.manual_seed(0)
    model = LoLiSRFlow(preset("tiny-x2")).eval()
    lq, gt = torch.rand(3, 16, 16) * 0.1, torch.rand(3, 32, 32)
    outputs, scores = compare_methods(model, lq, gt, label="flow", ev=-3.0)
    assert list(outputs)[-1] == "flow, brightness from the EV" and len(scores) == 4
    aware = srgb_to_linear(outputs["flow, brightness from the EV"].double()).mean()
    torch.testing.assert_close(aware, scene_linear_mean(lq[None], -3.0)[0], rtol=1e-3, atol=0)


def test_largest_dip_is_the_largest_fall_between_successive_validations():
    from lolisr_lib.evaluate.card import largest_dip

    assert largest_dip([20.0, 21.0, 19.5, 22.0, 21.8]) == pytest.approx(1.5)
    assert largest_dip([18.0, 19.0, 20.0]) == 0.0 and largest_dip([20.0]) == 0.0
