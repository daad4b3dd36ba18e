"""The shadows' colour measures: hand-computed cases, bad input, and the real pairs' figures that
docs/simulator.md (section 3) and notebook 01 quote."""

import numpy as np
import pytest
import torch

from lolisr_lib.errors import UserError
from lolisr_lib.image.calibration import real_pairs, simulate_pair
from lolisr_lib.image.shadows import darkest, green_cast, shadow_green_excess


def test_green_excess_reads_only_the_darkest_pixels():
    capture = np.full((10, 10, 3), 200, dtype=np.uint8)
    capture[:3] = (4, 7, 5)  # the darkest 30 %: green 3 over red, 2 over blue
    assert shadow_green_excess(capture, 0.3) == pytest.approx((3.0, 2.0))
    assert darkest(capture.astype(float).mean(-1), 0.3).sum() == 30


def test_green_cast_is_the_output_minus_the_target_in_code_values():
    target = torch.rand(3, 16, 16)
    assert green_cast(target, target) == 0.0
    greener = target.clone()
    greener[1] += 2 / 255
    assert green_cast(greener, target) == pytest.approx(2.0, abs=1e-4)
    greener[:, target.mean(0) > target.mean(0).quantile(0.25)] += 1.0  # outside the darkest quarter: not read
    assert green_cast(greener, target) == pytest.approx(2.0, abs=1e-4)


@pytest.mark.parametrize("call", [
    lambda: shadow_green_excess(np.zeros((4, 4), dtype=np.uint8)),
    lambda: shadow_green_excess(np.zeros((4, 4, 3), dtype=np.uint8), fraction=0),
    lambda: green_cast(torch.zeros(3, 4, 4), torch.zeros(3, 4, 5)),
])
def test_bad_input_is_a_user_error(call):
    with pytest.raises(UserError):
        call()


def test_real_shadows_are_greener_than_the_calibrated_cameras():
    """docs/simulator.md section 3: darkest 30 %, real 00018 +2.32 / +1.21, 00736 +1.00 / +1.37 code values of
    green over red / blue; the calibrated camera's captures of the same targets at most +0.55."""
    expected = {"00018": (2.32, 1.21), "00736": (1.00, 1.37)}
    for pair in real_pairs():
        assert shadow_green_excess(pair.lq) == pytest.approx(expected[pair.scene], abs=0.01)
        assert max(shadow_green_excess(simulate_pair(pair, seed=0))) < 0.6
