"""The scene's brightness from the capture and its exposure, and the methods built on it."""

import numpy as np
import pytest
import torch
from torch import nn

from lolisr_lib.baselines import make_baseline
from lolisr_lib.commands.cli import main
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate import evaluate
from lolisr_lib.image.calibration import real_pairs
from lolisr_lib.image.color import linear_to_srgb, srgb_to_linear
from lolisr_lib.image.degrade import DegradeParams, degrade
from lolisr_lib.image.exposure import (
    clipped_mean,
    scale_to_linear_mean,
    scene_linear_mean,
    unclip_dark_readings,
)
from lolisr_lib.model.exposure_aware import ExposureAware

NOISELESS = DegradeParams(full_well=1e9, read_noise=0.0)  # the calibrated camera without its noise


def scene(seed=0, size=64) -> np.ndarray:
    """A smooth, colourful, normally exposed uint8 scene (mean code value about 110)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [0.5 + 0.35 * np.sin(2 * np.pi * (f * x + g * y) + p) for f, g, p in rng.uniform(0.5, 2, (3, 3))]
    return (np.stack(channels, -1) * 255).round().astype(np.uint8)


def as_batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].double() / 255


def linear_mean(img: np.ndarray) -> float:
    return float(srgb_to_linear(as_batch(img)).mean())


@pytest.mark.parametrize("ev", [-2.0, -3.0, -4.0])
def test_the_camera_run_backwards_finds_the_scenes_brightness(ev):
    hr = scene()
    capture = degrade(hr, 2, ev, params=NOISELESS)
    estimate = scene_linear_mean(as_batch(capture), ev, NOISELESS).item()
    assert estimate == pytest.approx(linear_mean(hr), rel=0.02)  # 8-bit rounding only


def test_with_noise_the_estimate_stays_close_and_tells_exposures_apart():
    hr = scene(1)
    estimates = {ev: scene_linear_mean(as_batch(degrade(hr, 2, ev, seed=3)), ev).item() for ev in (-3.0, -4.0)}
    for estimate in estimates.values():
        assert estimate == pytest.approx(linear_mean(hr), rel=0.06)
    # with a camera that renders every EV alike, the same capture read as one stop darker is a scene twice as bright
    steady = DegradeParams(tone_gamma=1.3, black_point=0.0, red_gain=0.9, blue_gain=1.1)
    capture = as_batch(degrade(hr, 2, -3.0, params=steady, seed=3))
    ratio = scene_linear_mean(capture, -4.0, steady) / scene_linear_mean(capture, -3.0, steady)
    assert ratio.item() == pytest.approx(2.0, rel=1e-9)


def test_one_exposure_per_image():
    captures = torch.cat([as_batch(degrade(scene(), 2, ev, params=NOISELESS)) for ev in (-2.0, -4.0)])
    means = scene_linear_mean(captures, torch.tensor([-2.0, -4.0]), NOISELESS)
    torch.testing.assert_close(means, torch.full((2,), linear_mean(scene()), dtype=torch.float64), rtol=0.03, atol=0)


@pytest.mark.parametrize("ev, message",
                         [(1.0, "<= 0"), (float("nan"), "finite"), ([-3.0, -4.0, -5.0], "one per image")])
def test_bad_exposures_are_refused(ev, message):
    with pytest.raises(UserError, match=message):
        scene_linear_mean(torch.rand(2, 3, 8, 8), ev)


def test_a_capture_that_is_not_an_rgb_batch_is_refused():
    with pytest.raises(UserError, match=r"\(B, 3, h, w\)"):
        scene_linear_mean(torch.rand(3, 8, 8), -3.0)


def test_scale_to_linear_mean_sets_the_mean_and_keeps_the_relative_light():
    images = torch.rand(2, 3, 6, 6) * 0.3
    out = scale_to_linear_mean(images, torch.tensor([0.05, 0.08]))
    means = srgb_to_linear(out.double()).mean((1, 2, 3))
    torch.testing.assert_close(means, torch.tensor([0.05, 0.08], dtype=torch.float64))
    ratio = srgb_to_linear(out.double()) / srgb_to_linear(images.double()).clamp(min=1e-12)
    assert torch.allclose(ratio[0], ratio[0].flatten()[0], rtol=1e-4)  # one gain per image


# ---------------------------------------------------------------------------------------------- the methods
def test_exposure_gain_is_a_method_that_needs_the_exposure():
    baseline = make_baseline("exposure-gain-bicubic", 2)
    assert baseline.reads_ev and not getattr(baseline, "reads_target", False)
    with pytest.raises(UserError, match="ev=-3.0"):
        baseline.enhance(torch.rand(1, 3, 8, 8))


def test_on_simulated_captures_the_exposure_gain_finds_the_oracles_gain(mini_root):
    """The miniature was made by the calibrated camera, so its exposure gives the gain the oracle reads."""
    exposure = evaluate("exposure-gain-bicubic", mini_root, "Test", 2, limit=4)
    oracle = evaluate("oracle-gain", mini_root, "Test", 2, limit=4)
    he = evaluate("he-bicubic", mini_root, "Test", 2, limit=4)
    assert exposure.summary["psnr"] == pytest.approx(oracle.summary["psnr"], abs=0.5)
    assert exposure.summary["psnr"] > he.summary["psnr"] + 2


def test_on_the_real_pairs_the_exposure_gives_their_brightness_within_a_quarter_stop():
    for pair in real_pairs():
        estimate = scene_linear_mean(as_batch(pair.lq), pair.ev).item()
        assert abs(np.log2(estimate / linear_mean(pair.gt))) < 0.25, pair.scene


class TooBright(nn.Module):
    """Upscales by repetition and quadruples the light: right detail, wrong brightness."""

    scale = 2
    config = None

    def enhance(self, lq, **options):
        up = lq.repeat_interleave(2, -1).repeat_interleave(2, -2)
        return linear_to_srgb((4 * srgb_to_linear(up)).clamp(0, 1))


def test_exposure_aware_keeps_the_restoration_and_takes_the_brightness_from_the_exposure():
    hr = scene(2)
    capture = as_batch(degrade(hr, 2, -3.0, params=NOISELESS)).float()
    model = ExposureAware(TooBright(), NOISELESS)
    out = model.enhance(capture, ev=-3.0)
    plain = TooBright().enhance(capture)
    assert out.shape == plain.shape
    assert srgb_to_linear(out.double()).mean().item() == pytest.approx(linear_mean(hr), rel=0.02)
    torch.testing.assert_close(scale_to_linear_mean(plain, srgb_to_linear(out.double()).mean((1, 2, 3))), out)


def test_evaluate_passes_each_images_exposure(mini_root):
    aware = evaluate(ExposureAware(TooBright()), mini_root, "Test", 2, limit=3)
    plain = evaluate(TooBright(), mini_root, "Test", 2, limit=3)
    assert aware.summary["psnr"] > plain.summary["psnr"] + 2


# ------------------------------------------------------------------------------------------------- commands
def test_evaluate_exposure_aware_with_a_baseline_is_one_clear_error(capsys, mini_root):
    assert main(["evaluate", "--baseline", "he-bicubic", "--data", str(mini_root), "--exposure-aware"]) == 2
    assert "exposure-gain-bicubic" in capsys.readouterr().err


def test_pretrained_exposure_aware_on_the_real_pairs_beats_its_guess_on_the_minus_3_ev_pair(capsys):
    from lolisr_lib.image.calibration import REAL_ROOT

    args = ["evaluate", "--pretrained", "x2", "--data", str(REAL_ROOT), "--exposures", "-3", "--device", "cpu"]
    assert main(args) == 0
    guess = float(next(line.split()[2] for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["all"]))
    assert main([*args, "--exposure-aware"]) == 0
    out = capsys.readouterr().out
    aware = float(next(line.split()[2] for line in out.splitlines() if line.split()[:1] == ["all"]))
    assert "brightness from the exposure" in out
    assert aware > guess + 3  # 00018 at -3 EV: the model's guess is far too bright (docs/simulator.md)


def test_enhance_with_ev_gives_the_output_the_exposures_brightness(tmp_path, capsys):
    from PIL import Image

    from lolisr_lib.image.io import read_rgb8

    pair = real_pairs()[0]  # 00018 at -3 EV
    src = tmp_path / "crop.png"
    Image.fromarray(pair.lq[200:264, 300:364]).save(src)
    assert main(["enhance", "--pretrained", "x2", str(src), str(tmp_path / "guess.png"), "--device", "cpu"]) == 0
    args = ["enhance", "--pretrained", "x2", str(src), str(tmp_path / "ev.png"), "--ev", "-3", "--device", "cpu"]
    assert main(args) == 0
    assert "brightness from -3.0 EV" in capsys.readouterr().out
    expected = scene_linear_mean(read_rgb8(src)[None], -3.0).item()
    out_mean = srgb_to_linear(read_rgb8(tmp_path / "ev.png").double()).mean().item()
    guess_mean = srgb_to_linear(read_rgb8(tmp_path / "guess.png").double()).mean().item()
    assert out_mean == pytest.approx(expected, rel=0.02)  # 8-bit rounding of the output only
    assert abs(np.log2(guess_mean / expected)) > 0.3  # the guess differs, so the test sees the option work


def test_enhance_refuses_an_ev_that_is_not_a_number(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["enhance", "--pretrained", "x2", "in.png", str(tmp_path / "out.png"), "--ev", "dark"])
    assert stop.value.code == 2 and "not an exposure" in capsys.readouterr().err


# ------------------------------------------------------------------------------- the lift of clipping at 0
def test_clipped_mean_is_the_mean_of_gaussian_readings_clipped_at_zero():
    rng = torch.Generator().manual_seed(0)
    for mean, std in [(0.0, 1.0), (-0.5, 1.0), (0.3, 0.2), (3.0, 0.5)]:
        draws = (mean + std * torch.randn(400_000, generator=rng, dtype=torch.float64)).clamp(min=0)
        expected = clipped_mean(torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64))
        assert expected.item() == pytest.approx(draws.mean().item(), abs=4e-3 * std)


def test_unclipping_removes_the_lift_of_a_dark_flat_field():
    cam = DegradeParams().at(-5.0)
    electrons_per_dn = cam.full_well / cam.iso_gain
    light = 0.0015  # DN: a few electrons per pixel, as at -5 EV
    rng = np.random.default_rng(0)
    electrons = rng.poisson(light * electrons_per_dn, (3, 64, 64)) + rng.normal(0, cam.read_noise, (3, 64, 64))
    readings = torch.from_numpy(np.clip(electrons / electrons_per_dn, 0, 1))
    assert readings.mean().item() > 1.15 * light  # clipping lifts the mean
    assert unclip_dark_readings(readings, cam).mean().item() == pytest.approx(light, rel=0.05)


def test_unclipping_leaves_bright_readings_alone():
    cam = DegradeParams().at(-3.0)
    readings = 0.05 + 0.1 * torch.rand(3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(unclip_dark_readings(readings, cam), readings)


def test_enhance_ev_name_reads_the_exposure_from_a_rellisur_file_name(tmp_path, capsys):
    from PIL import Image

    pair = real_pairs()[0]  # 00018 at -3 EV
    named, plain = tmp_path / "00018-3.0.png", tmp_path / "crop.png"
    for path in (named, plain):
        Image.fromarray(pair.lq[200:232, 300:332]).save(path)
    assert main(["enhance", "--pretrained", "x2", str(named), str(tmp_path / "a.png"), "--device", "cpu"]) == 0
    assert "--ev name" in capsys.readouterr().out  # the hint: the name says the exposure
    assert main(["enhance", "--pretrained", "x2", str(named), str(tmp_path / "b.png"), "--ev", "name"]) == 0
    assert "brightness from -3.0 EV" in capsys.readouterr().out
    assert main(["enhance", "--pretrained", "x2", str(plain), str(tmp_path / "c.png"), "--ev", "name"]) == 2
    err = capsys.readouterr().err
    assert "'crop.png' is not one" in err and "--ev -3" in err and not (tmp_path / "c.png").exists()
