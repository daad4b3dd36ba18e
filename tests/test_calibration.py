"""The simulator against the two real RELLISUR pairs: the calibration figures of ``lolisr_lib.image.degrade``, re-measured.

Targets (issue 12): degrading each real x2 target to its input's EV matches the real capture with the mean
within 20 %, the black-pixel fraction within 3 points and the oracle-gain PSNR within 1.5 dB.
"""

import numpy as np
import pytest

from lolisr_lib.image import calibration as cal
from lolisr_lib.image.degrade import DegradeParams

# The table in lolisr_lib/image/degrade.py's docstring (seed 0): scene -> (real, simulated) figures.
DOCUMENTED = {
    "00018": {"real": (19.50, 0.00, 24.10), "sim": (19.33, 0.00, 24.45)},
    "00736": {"real": (3.26, 7.44, 15.79), "sim": (3.23, 8.56, 15.34)},
}


@pytest.fixture(scope="module")
def rows():
    return cal.compare_capture()


def _figures(stats):
    return stats["mean"], stats["black"], stats["oracle_psnr"]


def test_both_real_pairs_are_bundled_with_their_attribution():
    pairs = cal.real_pairs()
    assert [(p.scene, p.ev) for p in pairs] == [("00018", -3.0), ("00736", -5.0)]
    for pair in pairs:
        assert pair.lq.shape == (625, 625, 3) and pair.gt.shape == (1250, 1250, 3)
    readme = (cal.REAL_ROOT.parent / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Aakerberg" in readme


@pytest.mark.parametrize("scene", ["00018", "00736"])
def test_simulated_capture_matches_the_real_one(rows, scene):
    row = next(r for r in rows if r["scene"] == scene)
    real, sim = row["real"], row["sim"]
    assert abs(sim["mean"] / real["mean"] - 1) < 0.20
    assert abs(sim["black"] - real["black"]) < 3.0
    assert abs(sim["oracle_psnr"] - real["oracle_psnr"]) < 1.5


@pytest.mark.parametrize("scene", ["00018", "00736"])
def test_documented_calibration_figures(rows, scene):
    row = next(r for r in rows if r["scene"] == scene)
    for kind in ("real", "sim"):
        assert _figures(row[kind]) == pytest.approx(DOCUMENTED[scene][kind], abs=0.01)


def test_the_old_toe_failed_the_calibration(rows):
    """The uncalibrated camera (toe at 0.6 % of white, gain 0.58, no tone curve) crushed real shadows."""
    old = DegradeParams(full_well=5000.0, iso_gain=0.58, black_point=0.006, tone_gamma=1.0, red_gain=1.0,
                        blue_gain=1.0)
    old_rows = cal.compare_capture(old)
    blacks = [r["sim"]["black"] - r["real"]["black"] for r in old_rows]
    assert min(blacks) > 20  # tens of points more black pixels than the real captures


def test_oracle_gain_matches_the_target_mean_in_linear_light():
    rng = np.random.default_rng(0)
    gt = rng.integers(40, 200, (16, 16, 3), dtype=np.uint8)
    lq = (gt[::2, ::2] // 4).astype(np.uint8)
    out = cal.oracle_gain(lq, gt)
    assert out.shape == gt.shape and out.dtype == np.uint8
    assert abs(out.mean() - gt.mean()) < 6


def test_calibration_table_lists_both_pairs(rows):
    table = cal.calibration_table(rows)
    assert "00018" in table and "00736" in table and table.count("| sim |") == 2
