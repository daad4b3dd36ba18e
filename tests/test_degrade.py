"""The low-light, low-resolution simulator: determinism, RELLISUR-like brightness, physics of each step."""

from dataclasses import replace

import numpy as np
import pytest
import skimage.data
from hypothesis import given, settings
from hypothesis import strategies as st

from lolisr_lib.errors import UserError
from lolisr_lib.image import degrade as dg

# The normally exposed photographs of the calibration in lolisr_lib/image/degrade.py, cropped to multiples of 4.
PHOTOS = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(),
          skimage.data.stereo_motorcycle()[0]]
PHOTOS = [p[: p.shape[0] // 4 * 4, : p.shape[1] // 4 * 4] for p in PHOTOS]
DOCUMENTED_MEANS = {-3.0: 25.0, -5.0: 3.0}  # the module docstring's table


def _mean_at(ev: float) -> float:
    return float(np.mean([dg.degrade(photo, 4, ev, seed=0).mean() for photo in PHOTOS]))


def test_output_shape_and_dtype():
    hr = skimage.data.astronaut()[:64, :96]
    lq = dg.degrade(hr, 4, -3.0)
    assert lq.shape == (16, 24, 3) and lq.dtype == np.uint8


def test_same_seed_same_output_other_seed_other_noise():
    hr = skimage.data.chelsea()[:64, :64]
    a, b, c = (dg.degrade(hr, 2, -4.0, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ev=st.floats(-6.0, 0.0), scale=st.sampled_from([1, 2, 4]))
def test_degrade_is_deterministic_given_a_seed(seed, ev, scale):
    hr = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.array_equal(dg.degrade(hr, scale, ev, seed=seed), dg.degrade(hr, scale, ev, seed=seed))


@pytest.mark.parametrize("ev, low, high", [(-3.0, 15.0, 30.0), (-5.0, 1.5, 5.0)])
def test_brightness_matches_rellisur(ev, low, high):
    """RELLISUR: about 20 at -3 EV down to about 3 at -5 EV; the docstring quotes the measured figures."""
    mean = _mean_at(ev)
    assert low < mean < high
    assert mean == pytest.approx(DOCUMENTED_MEANS[ev], abs=0.5)


def test_brightness_falls_with_ev():
    means = [_mean_at(ev) for ev in (-2.0, -3.0, -4.0, -5.0)]
    assert all(a > b for a, b in zip(means, means[1:]))


def test_relative_noise_rises_as_ev_falls():
    """Shot and read noise: std / mean of the electrons is sqrt(mu + read^2) / mu, larger for less light."""
    params, rng = dg.DegradeParams(), np.random.default_rng(0)
    flat = np.full((64, 64, 3), 0.18)
    ratios = []
    for ev in (-2.0, -3.0, -4.0, -5.0):
        photo_electrons = dg.shot_noise(dg.expose(flat, ev), params.full_well, rng)
        electrons = dg.read_noise(photo_electrons, params.read_noise, rng)
        mu = 0.18 * 2**ev * params.full_well
        ratios.append(electrons.std() / electrons.mean())
        assert ratios[-1] == pytest.approx(np.sqrt(mu + params.read_noise**2) / mu, rel=0.05)
    assert all(a < b for a, b in zip(ratios, ratios[1:]))


def test_output_noise_relative_to_signal_rises_as_ev_falls():
    """The same flat grey card at several EVs, brightened back: the spread relative to the level grows."""
    card = np.full((128, 128, 3), 150, np.uint8)
    spreads = []
    for ev in (-2.0, -3.0, -4.0):
        linear = dg.to_linear(dg.degrade(card, 2, ev, seed=1))
        spreads.append(linear.std() / linear.mean())
    assert all(a < b for a, b in zip(spreads, spreads[1:]))


def test_iso_gain_scales_signal_and_read_noise_alike():
    electrons = dg.read_noise(np.full(20000, 50.0), 4.0, np.random.default_rng(0))
    low, high = dg.iso_amplify(electrons, 1.0, 5000.0), dg.iso_amplify(electrons, 4.0, 5000.0)
    assert high.mean() == pytest.approx(4 * low.mean())
    assert high.std() == pytest.approx(4 * low.std())


def test_area_downsample_averages_blocks():
    x = np.arange(4 * 6 * 3, dtype=float).reshape(4, 6, 3)
    y = dg.area_downsample(x, 2)
    assert y.shape == (2, 3, 3)
    assert y[0, 0, 0] == pytest.approx(np.mean(x[:2, :2, 0]))
    assert y.mean() == pytest.approx(x.mean())


def test_blur_keeps_a_flat_image_and_zero_sigma_is_identity():
    flat = np.full((16, 16, 3), 0.3)
    assert np.allclose(dg.optical_blur(flat, 1.5), 0.3)
    x = np.random.default_rng(0).random((8, 8, 3))
    assert dg.optical_blur(x, 0.0) is x


def test_clip_and_camera_response():
    assert np.array_equal(dg.clip_white(np.array([-0.1, 0.5, 1.7])), [0.0, 0.5, 1.0])
    out = dg.camera_response(np.array([0.0, 0.006, 1.0]), black_point=0.006)
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] == pytest.approx(1.0)


def test_downscale_target_keeps_flat_colour():
    gt = np.zeros((8, 8, 3), np.uint8) + np.array([10, 128, 250], np.uint8)
    small = dg.downscale_target(gt, 4)
    assert small.shape == (2, 2, 3) and small.dtype == np.uint8
    assert np.array_equal(small[0, 0], [10, 128, 250])


@pytest.mark.parametrize(
    "hr, scale, ev, words",
    [
        (np.zeros((10, 12, 3), np.uint8), 4, -3.0, "not divisible by scale 4"),
        (np.zeros((8, 8, 3), np.uint8), 2, 1.0, "ev must be"),
        (np.zeros((8, 8, 3), np.uint8), 2, float("nan"), "ev must be"),
        (np.zeros((8, 8), np.uint8), 2, -3.0, "shape (H, W, 3)"),
        (np.zeros((8, 8, 4), np.uint8), 2, -3.0, "shape (H, W, 3)"),
        (np.full((8, 8, 3), 2.0), 2, -3.0, "values in [0, 1]"),
        (np.zeros((8, 8, 3), np.uint8), 0, -3.0, "scale must be"),
    ],
)
def test_bad_input_is_a_clear_user_error(hr, scale, ev, words):
    with pytest.raises(UserError) as info:
        dg.degrade(hr, scale, ev)
    assert words in str(info.value)


def test_per_ev_fields_interpolate_between_the_calibration_evs_and_hold_outside():
    params = dg.DegradeParams(tone_gamma=(1.2, 1.6), black_point=0.001)
    assert params.at(-3.0).tone_gamma == pytest.approx(1.2)
    assert params.at(-5.0).tone_gamma == pytest.approx(1.6)
    assert params.at(-4.0).tone_gamma == pytest.approx(1.4)
    assert params.at(-2.0).tone_gamma == pytest.approx(1.2)  # held above -3 EV
    assert params.at(-6.0).tone_gamma == pytest.approx(1.6)  # and below -5 EV
    assert params.at(-4.2).black_point == 0.001  # a plain float is the same at every EV


def test_tone_curve_and_pedestal_keep_shadows_that_a_toe_would_crush():
    dn = np.array([0.0, 1e-4, 1e-3, 0.5, 1.0])
    assert np.allclose(dg.tone_curve(dn, 1.0), dn)
    assert np.allclose(dg.tone_curve(dn, 2.0), dn**2)
    lifted = dg.camera_response(dn, black_point=-0.001)
    assert (lifted[:3] > 0).all() and lifted[-1] == pytest.approx(1.0)


def test_channel_gains_tint_the_capture():
    grey = np.full((32, 32, 3), 128, np.uint8)
    quiet = dg.DegradeParams(full_well=1e9, read_noise=0.0, red_gain=0.5, blue_gain=1.0, blur_sigma=0.0)
    lq = dg.degrade(grey, 2, -2.0, quiet).astype(float)
    assert lq[..., 0].mean() < lq[..., 1].mean() - 5  # half the red light
    assert lq[..., 2].mean() == pytest.approx(lq[..., 1].mean(), abs=0.5)


def test_jittered_cameras_spread_around_the_calibrated_one():
    base, rng = dg.DegradeParams(), np.random.default_rng(0)
    assert base.jittered(rng, 0.0) == base
    cams = [base.jittered(rng).at(-4.0) for _ in range(200)]
    gammas = np.array([c.tone_gamma for c in cams])
    wells = np.array([c.full_well for c in cams])
    assert abs(gammas.mean() - base.at(-4.0).tone_gamma) < 0.03 and gammas.std() > 0.05
    assert 0.5 * base.full_well <= wells.min() and wells.max() <= 2.0 * base.full_well
    assert all(c.tone_gamma > 1.0 for c in cams)


@pytest.mark.parametrize("ev", [-3.0, -4.0, -5.0])
def test_camera_readings_undo_the_rendering(ev):
    import torch

    cam = dg.DegradeParams().at(ev)
    dn = np.linspace(0.002, 1.0, 200)
    rendered = dg.camera_response(dg.tone_curve(dn, cam.tone_gamma), cam.black_point)
    linear = dg.srgb_to_linear(rendered)
    np.testing.assert_allclose(dg.camera_readings(linear, cam), dn, rtol=1e-9)
    back = dg.camera_readings(torch.from_numpy(linear), cam)  # the same on torch tensors
    np.testing.assert_allclose(back.numpy(), dn, rtol=1e-9)
    assert dg.camera_readings(np.zeros(3), cam).tolist() == [0.0, 0.0, 0.0]  # code 0 reads 0


def test_per_channel_black_offsets_lift_only_their_channel():
    grey = np.full((32, 32, 3), 2, np.uint8)  # a deep shadow
    quiet = dg.DegradeParams(full_well=1e9, read_noise=0.0, blur_sigma=0.0, red_gain=1.0, blue_gain=1.0,
                             black_point=0.0)
    neutral = dg.degrade(grey, 2, -3.0, quiet).astype(float)
    green = dg.degrade(grey, 2, -3.0, replace(quiet, black_offsets=(0.0, -0.0005, 0.0))).astype(float)
    assert np.array_equal(neutral[..., [0, 2]], green[..., [0, 2]])
    assert green[..., 1].mean() > neutral[..., 1].mean() + 1.0  # half a thousandth of white: a code value or two


def test_jittered_cameras_draw_channel_pedestals_only_when_asked():
    base = dg.DegradeParams()
    a, b = base.jittered(np.random.default_rng(3)), base.jittered(np.random.default_rng(3), channel_pedestal=0.0)
    assert a == b and a.black_offsets == (0.0, 0.0, 0.0)
    cams = [base.jittered(np.random.default_rng(k), channel_pedestal=0.0005) for k in range(50)]
    offsets = np.array([c.black_offsets for c in cams])
    assert np.abs(offsets).max() <= 0.0005 and offsets.std(axis=0).min() > 0.0002
    assert all(replace(c, black_offsets=(0.0, 0.0, 0.0)) == a_k for c, a_k in
               zip(cams, [base.jittered(np.random.default_rng(k)) for k in range(50)]))  # the rest as before
    with pytest.raises(UserError, match="channel_pedestal"):
        base.jittered(np.random.default_rng(0), channel_pedestal=-1.0)


def test_camera_readings_refuse_per_channel_offsets():
    cam = replace(dg.DegradeParams(), black_offsets=(0.0, -0.0005, 0.0)).at(-3.0)
    with pytest.raises(UserError, match="per-channel"):
        dg.camera_readings(np.full(4, 0.01), cam)


def test_shifting_black_points_matches_a_camera_with_those_offsets():
    hr = skimage.data.astronaut()[:128, :128]
    quiet = dg.DegradeParams(full_well=1e9, read_noise=0.0, black_point=0.0)
    offsets = (0.0, -0.0004, 0.0002)
    shifted = dg.shift_black_points(dg.degrade(hr, 2, -4.0, quiet), offsets).astype(int)
    direct = dg.degrade(hr, 2, -4.0, replace(quiet, black_offsets=offsets)).astype(int)
    assert np.abs(shifted - direct).max() <= 1  # equal but for the rounding of the first 8 bits
    assert dg.shift_black_points(direct.astype(np.uint8), (0.0, 0.0, 0.0)).tolist() == direct.tolist()
    with pytest.raises(UserError, match="offsets"):
        dg.shift_black_points(direct.astype(np.uint8), (0.0, 0.1))
