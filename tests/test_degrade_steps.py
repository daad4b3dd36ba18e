"""The simulator step by step: the same draws as ``degrade``, every intermediate image kept."""

import numpy as np
import pytest
import skimage.data

from lolisr_lib.errors import UserError
from lolisr_lib.image.degrade import DegradeParams, degrade
from lolisr_lib.lessons.degrade_steps import degrade_steps

PHOTO = skimage.data.chelsea()[:64, :96]


@pytest.mark.parametrize("scale, ev, seed", [(1, -2.0, 0), (2, -3.5, 7), (4, -5.0, 123)])
def test_last_step_is_degrade_bit_for_bit(scale, ev, seed):
    params = DegradeParams(read_noise=6.0, black_point=0.01)
    steps = degrade_steps(PHOTO, scale, ev, params, seed)
    assert np.array_equal(steps[-1].image, degrade(PHOTO, scale, ev, params, seed))


def test_every_step_is_kept_with_its_size_and_white():
    steps = degrade_steps(PHOTO, 4, -3.0)
    assert len(steps) == 12 and steps[0].image is PHOTO
    assert [s.name.split()[0] for s in steps[9:11]] == ["tone", "camera"]
    assert [s.image.shape for s in steps[:3]] == [(64, 96, 3)] * 3
    assert all(s.image.shape == (16, 24, 3) for s in steps[3:])
    electrons = [s for s in steps if s.white == DegradeParams().full_well]
    assert len(electrons) == 2 and electrons[0].image.min() >= 0  # Poisson counts are never negative
    assert steps[-1].image.dtype == np.uint8 and not steps[-1].linear and steps[1].linear


@pytest.mark.parametrize("scale, ev", [(3, -3.0), (0, -3.0), (2, 1.0), (2, float("nan"))])
def test_bad_arguments_are_user_errors(scale, ev):
    with pytest.raises(UserError):
        degrade_steps(PHOTO, scale, ev)
