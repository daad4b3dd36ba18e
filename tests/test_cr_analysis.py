"""Measuring the colour-ratio map's invariance: loading a scene, per-EV and per-scale errors, binning, clipping."""

import numpy as np
import pytest

from lolisr_lib.data import DatasetError
from lolisr_lib.errors import UserError
from lolisr_lib.image.color import cr_map
from lolisr_lib.image.degrade import DegradeParams, degrade, downscale_target
from lolisr_lib.lessons import cr_analysis
from lolisr_lib.lessons.noise_analysis import simulate_noise_free


def _colourful(size=16, seed=0) -> np.ndarray:
    """A uint8 image with saturated colours and a smooth brightness ramp (no black, few clipped pixels)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.2, 0.9, size)[None, :, None]
    hue = rng.uniform(0.1, 1.0, size=(size, size, 3))
    return np.round(np.clip(ramp * hue, 0, 1) * 255).astype(np.uint8)


def _synthetic_scene(size=8) -> cr_analysis.SceneImages:
    """A scene whose x2 and x1 targets are linear-light downscales of x4, as in the miniature."""
    x4 = _colourful(4 * size)
    scene = cr_analysis.SceneImages(scene="00001", split="Test")
    scene.gt = {4: x4, 2: downscale_target(x4, 2), 1: downscale_target(x4, 4)}
    scene.lq = {ev: degrade(x4, 4, ev, seed=1) for ev in (-2.5, -3.5, -4.5)}
    return scene


def test_load_scene_reads_five_exposures_and_three_targets(mini_root):
    scene = cr_analysis.load_scene(mini_root)
    assert scene.split == "Test" and len(scene.scene) == 5
    assert len(scene.lq) == 5 and list(scene.lq) == sorted(scene.lq, reverse=True)  # brightest first
    h, w, _ = scene.gt[1].shape
    assert {s: img.shape for s, img in scene.gt.items()} == {1: (h, w, 3), 2: (2 * h, 2 * w, 3), 4: (4 * h, 4 * w, 3)}
    assert all(img.shape == (h, w, 3) and img.dtype == np.uint8 for img in scene.lq.values())
    same = cr_analysis.load_scene(mini_root, scene.scene)
    assert np.array_equal(same.gt[4], scene.gt[4])


def test_an_unknown_scene_names_the_available_ones(mini_root):
    first = cr_analysis.load_scene(mini_root).scene
    with pytest.raises(DatasetError, match=first):
        cr_analysis.load_scene(mini_root, "99999")


def test_cr_error_map_is_zero_for_a_multiplied_image_and_checks_shapes():
    img = _colourful() / 255.0
    assert cr_analysis.cr_error_map(0.5 * img, img).max() < 1e-3  # only the eps term differs
    assert cr_analysis.cr_error_map(np.clip(img - 0.1, 0, 1), img).mean() > 0.01  # an offset is not invariant
    with pytest.raises(UserError, match="same size"):
        cr_analysis.cr_error_map(img, img[:8])


def test_capture_without_noise_is_the_simulator_with_noise_switched_off():
    x4 = _colourful(32)
    quiet = simulate_noise_free(x4, 4, -3.0)
    almost_quiet = degrade(x4, 4, -3.0, DegradeParams(full_well=1e12, read_noise=0.0))
    assert quiet.shape == (8, 8, 3) and quiet.dtype == np.uint8
    assert np.abs(quiet.astype(int) - almost_quiet.astype(int)).max() <= 1
    noisy = degrade(x4, 4, -3.0)
    assert not np.array_equal(quiet, noisy)


def test_exposure_invariance_rows():
    scene = _synthetic_scene()
    rows = cr_analysis.exposure_invariance(scene, lit_level=16)
    assert [row["ev"] for row in rows] == [-2.5, -3.5, -4.5]
    for row in rows:
        assert 0 <= row["lit_fraction"] <= 1 and row["cr_error"] >= 0 and row["cr_error_no_noise"] >= 0
    assert rows[0]["mean_level"] > rows[-1]["mean_level"]
    assert np.isnan(cr_analysis.exposure_invariance(scene, lit_level=256)[0]["cr_error_lit"])  # no lit pixel


def test_scale_invariance_is_exact_up_to_rounding_for_linear_light_downscales():
    rows = cr_analysis.scale_invariance(_synthetic_scene())
    assert [row["scale"] for row in rows] == [2, 4]
    for row in rows:
        assert row["linear_light"] < 5e-3  # only 8-bit rounding separates them
        assert row["srgb_values"] > row["linear_light"]  # averaging sRGB numbers is not averaging light


def test_error_by_brightness_bins_every_pixel_once():
    img = _colourful(16)
    binned = cr_analysis.error_by_brightness([img, img], [img, img])
    assert binned["count"].sum() == 2 * 16 * 16
    filled = binned["count"] > 0
    assert np.all(binned["mean_error"][filled] == 0)  # identical images: no error
    assert np.all(np.isnan(binned["mean_error"][~filled]))
    black = np.zeros_like(img)
    dark = cr_analysis.error_by_brightness([black], [img])
    assert dark["count"][0] == 16 * 16  # level 0 is its own bin
    expected = np.abs(cr_map(img / 255.0)).mean()  # CR(black) = 0
    assert dark["mean_error"][0] == pytest.approx(expected)


def test_error_by_brightness_needs_pairs():
    with pytest.raises(UserError, match="reference"):
        cr_analysis.error_by_brightness([_colourful()], [])


def test_overexposure_is_exact_at_zero_and_biases_clipped_colours_towards_grey():
    img = _colourful(16)
    np.testing.assert_allclose(cr_analysis.overexpose(img, 0.0), img / 255.0, atol=1e-12)
    rows = cr_analysis.overexposure_bias(img, [0.0, 1.0, 2.0, 3.0])
    assert rows[0]["cr_error"] < 1e-12
    clipped = [row["clipped_fraction"] for row in rows]
    assert clipped == sorted(clipped) and clipped[-1] > 0.5
    assert rows[-1]["chroma_clipped"] < 0.9  # saturated pixels lose colour
    assert rows[-1]["cr_error_clipped"] > rows[1]["cr_error_clipped"] > 0


def test_channel_order_flips():
    img = _colourful(8)
    assert cr_analysis.channel_order_flips(img, img) == 0.0
    assert cr_analysis.channel_order_flips(img, np.sqrt(img / 255.0)) == 0.0  # one increasing curve for all
    reversed_channels = 255 - img  # decreasing: every strict order flips
    strict = (np.diff(np.sort(img.astype(int), axis=-1), axis=-1) > 0).any(axis=-1)
    assert cr_analysis.channel_order_flips(img, reversed_channels) == pytest.approx(strict.mean())


def test_grey_guess_error_is_zero_for_grey_and_positive_for_colour():
    assert cr_analysis.grey_guess_error(np.full((4, 4, 3), 120, np.uint8)) < 1e-3
    assert cr_analysis.grey_guess_error(_colourful()) > 0.02


def test_camera_budget_switches_the_effects_off_one_by_one():
    gt = _colourful(32)
    lq = degrade(gt, 2, -4.0, seed=3)
    rows = cr_analysis.camera_budget(lq, gt, 2, -4.0, seed=3)
    names = [row["capture"] for row in rows]
    assert names == ["target", "real", "simulated", "no noise", "no noise, neutral colour",
                     "no noise, neutral colour, linear rendering", "exact light, no rounding"]
    by_name = {row["capture"]: row for row in rows}
    assert by_name["target"]["cr_error"] == 0 and by_name["real"]["cr_error"] == by_name["simulated"]["cr_error"]
    assert by_name["no noise"]["cr_error"] < by_name["simulated"]["cr_error"]
    assert by_name["exact light, no rounding"]["cr_error"] < by_name["no noise, neutral colour"]["cr_error"]
    # the calibrated camera's dark frame has less red than the target (red gain < 1)
    assert by_name["no noise"]["cr_red"] < by_name["target"]["cr_red"]
    assert all(abs(row["cr_red"] + row["cr_green"] + row["cr_blue"] - 1) < 0.02 for row in rows[:2])
