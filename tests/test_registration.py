"""Homography registration of a wide view to its target: the synthetic pair, the estimate, the error."""

import numpy as np
import pytest
from skimage.data import astronaut
from skimage.transform import ProjectiveTransform

from lolisr_lib.errors import UserError
from lolisr_lib.lessons import registration as rg

SCENE = astronaut()  # 512 x 512, textured
SIDE = 192


def _psnr(a, b, margin=4):
    inner = (slice(margin, -margin), slice(margin, -margin))
    return 10 * np.log10(1.0 / np.mean((a[inner] - b[inner]) ** 2))


def test_wide_view_and_its_true_transform():
    pair = rg.wide_view(SCENE, SIDE, field=1.4, angle_deg=3.0, shift=(8.0, -5.0))
    assert pair.target.shape == pair.view.shape == (SIDE, SIDE, 3)
    assert np.array_equal(pair.target, SCENE[160:352, 160:352] / 255.0)  # the centre crop
    # the true transform undoes the view: resampled back, it is the target up to interpolation
    assert _psnr(rg.align(pair.view, pair.true, SIDE), pair.target) > 28
    assert rg.corner_error(pair.true, pair.true, SIDE) < 1e-9
    nominal_error = rg.corner_error(pair.nominal, pair.true, SIDE)
    assert nominal_error > 5, "shift and rotation must move the corners by several pixels"


def test_nominal_transform_is_exact_without_shift_rotation_or_keystone():
    pair = rg.wide_view(SCENE, SIDE, field=1.5, angle_deg=0.0, shift=(0.0, 0.0), keystone=0.0)
    assert rg.corner_error(pair.nominal, pair.true, SIDE) < 1e-9


@pytest.mark.parametrize("detector, seed, tolerance", [("sift", 0, 1.5), ("sift", 1, 1.5), ("orb", 0, 4.0)])
def test_estimate_recovers_the_homography(detector, seed, tolerance):
    pair = rg.wide_view(SCENE, SIDE, field=1.4)
    reg = rg.estimate_homography(pair.target, pair.view, detector=detector, keypoints=600, seed=seed)
    assert isinstance(reg.transform, ProjectiveTransform) and reg.inliers >= 20
    assert reg.inlier_mask.sum() == reg.inliers and reg.target_points.shape == (reg.matches, 2)
    after, before = rg.corner_error(reg.transform, pair.true, SIDE), rg.corner_error(pair.nominal, pair.true, SIDE)
    assert after < tolerance and after < before / 4
    assert _psnr(rg.align(pair.view, reg.transform, SIDE), pair.target) > _psnr(
        rg.align(pair.view, pair.nominal, SIDE), pair.target) + 5


def test_bad_inputs_are_user_errors():
    with pytest.raises(UserError, match="outside"):
        rg.wide_view(SCENE, 400, field=1.6)
    with pytest.raises(UserError, match="field"):
        rg.wide_view(SCENE, SIDE, field=0.5)
    with pytest.raises(UserError, match="shape"):
        rg.wide_view(SCENE[..., 0], SIDE)
    flat = np.full((64, 64, 3), 0.5)
    for detector in ("sift", "orb"):
        with pytest.raises(UserError, match="matches"):
            rg.estimate_homography(flat, flat, detector=detector)
    with pytest.raises(UserError, match="detector"):
        rg.estimate_homography(SCENE, SCENE, detector="surf")
