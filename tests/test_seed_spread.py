"""benchmarks/seed_spread_summary.py: the step each seed's best.pt was chosen at, and the spread over seeds."""

import importlib.util
import json
from pathlib import Path

import pytest

from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.card import EXPOSURE_ROW as EXPOSURE

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "seed_spread_summary.py"


def _script():
    spec = importlib.util.spec_from_file_location("seed_spread_summary", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _card(plain: float, exposure: float, he: float) -> dict:
    per_ev = lambda psnr: {"-3.0": {"psnr": psnr, "ssim": 0.5, "n": 1}, "-5.0": {"psnr": psnr - 1, "ssim": 0.4, "n": 1}}
    row = lambda psnr: {"psnr": psnr, "ssim": psnr / 40, "n": 2, "per_ev": per_ev(psnr)}
    return {"scale": 2, "mini": {"model": row(plain), EXPOSURE: row(exposure), "he-bicubic": row(he)},
            "real": {"model": {"00018-3.0": {"psnr": plain, "ssim": 0.7}},
                     EXPOSURE: {"00018-3.0": {"psnr": exposure, "ssim": 0.7}}}}


def _run(folder: Path, seed: int, select_by: str, psnr: list[float], ssim: list[float], best: float, last: float):
    run = folder / f"seed{seed}"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"name": "small-x2", "train": {"select_by": select_by, "seed": seed}}))
    rows = [{"step": 250 * (i + 1), "psnr": p, "ssim": s, "brightness_error": 1.0, "psnr_exposure": p + 1}
            for i, (p, s) in enumerate(zip(psnr, ssim))]
    (run / "val.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"step": 99')  # a cut line
    (folder / f"seed{seed}-best.json").write_text(json.dumps(_card(best, best + 2, 13.0)))
    (folder / f"seed{seed}-last.json").write_text(json.dumps(_card(last, last + 2, 13.0)))


def test_summary_finds_each_seeds_choice_and_the_spread(tmp_path):
    _run(tmp_path, 1, "psnr", [20, 23, 21, 22], [0.5, 0.6, 0.62, 0.61], best=19.0, last=18.0)  # PSNR peaks at 500
    _run(tmp_path, 2, "ssim", [20, 23, 21, 22], [0.5, 0.6, 0.62, 0.61], best=21.0, last=20.0)  # SSIM at 750
    summary = _script().summarise(tmp_path)
    one, two = summary["seeds"]["1"], summary["seeds"]["2"]
    assert (one["best_step"], two["best_step"]) == (500, 750)
    assert one["largest_val_dip_after_500"] == pytest.approx(2.0)  # 23 -> 21
    assert one["best"]["least_margin_over_he"] == pytest.approx(6.0)
    assert one["best"]["real"] == {"00018-3.0": 19.0} and one["best"]["real_exposure"] == {"00018-3.0": 21.0}
    spread = summary["spread"]["best plain psnr"]
    assert (spread["mean"], spread["min"], spread["max"]) == (20.0, 19.0, 21.0)
    assert spread["sd"] == pytest.approx(2 ** 0.5)
    assert summary["spread"]["last exposure psnr"]["mean"] == 21.0
    assert "| 2 | 750 |" in _script().markdown(summary)


def test_summary_names_what_is_missing(tmp_path):
    with pytest.raises(UserError, match="no seedN/ run folders"):
        _script().summarise(tmp_path)
    _run(tmp_path, 1, "psnr", [20, 21], [0.5, 0.6], best=19.0, last=18.0)
    (tmp_path / "seed1-last.json").unlink()
    with pytest.raises(UserError, match="seed1-last.json is missing"):
        _script().summarise(tmp_path)
