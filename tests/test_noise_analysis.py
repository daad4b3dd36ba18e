"""Noise measurements: the SNR law, the noise-free twin, ideal brightening, autocorrelation, the error budget."""

from dataclasses import replace

import numpy as np
import pytest
import skimage.data

from lolisr_lib.errors import UserError
from lolisr_lib.image.degrade import DegradeParams, degrade, downscale_target
from lolisr_lib.lessons import noise_analysis as na

PHOTO = skimage.data.astronaut()[128:256, 160:288]  # 128 x 128, divisible by 1, 2 and 4


def test_theoretical_snr_and_its_two_limits():
    assert na.theoretical_snr(100.0, 4.0) == pytest.approx(100 / np.sqrt(116))
    assert na.theoretical_snr(1e6, 4.0) == pytest.approx(1e3, rel=1e-5)  # shot-noise limited: sqrt(S)
    assert na.theoretical_snr(1e-3, 4.0) == pytest.approx(1e-3 / 4, rel=1e-4)  # read-noise limited: S / sigma


@pytest.mark.parametrize("level", [0.05, 0.18, 0.9])
def test_flat_patch_snr_follows_the_square_root_law(level):
    curve = na.flat_patch_snr([-6.0, -4.0, -2.0, 0.0], level=level)
    assert np.allclose(curve.signal, level * 2.0 ** curve.evs * DegradeParams().full_well)
    assert np.allclose(curve.measured, curve.theory, rtol=0.06)
    assert np.all(np.diff(curve.measured) > 0)


def test_flat_patch_snr_is_deterministic_and_checks_its_level():
    a, b = na.flat_patch_snr([-3.0], seed=5), na.flat_patch_snr([-3.0], seed=5)
    assert np.array_equal(a.measured, b.measured)
    with pytest.raises(UserError, match="level"):
        na.flat_patch_snr([-3.0], level=0.0)


@pytest.mark.parametrize("scale, ev", [(1, -2.0), (2, -3.0), (4, -5.0)])
def test_noise_free_capture_is_the_mean_of_the_noisy_one(scale, ev):
    clean = na.simulate_noise_free(PHOTO, scale, ev)
    assert clean.dtype == np.uint8 and clean.shape == (128 // scale, 128 // scale, 3)
    # with an enormous well and no read noise, the noisy simulator converges to the noise-free one
    quiet = DegradeParams(full_well=1e12, read_noise=0.0)
    noisy, noise_free = degrade(PHOTO, scale, ev, quiet), na.simulate_noise_free(PHOTO, scale, ev, quiet)
    assert np.abs(noisy.astype(int) - noise_free).max() <= 1


def test_noise_free_capture_rejects_a_bad_scale():
    with pytest.raises(UserError, match="scale"):
        na.simulate_noise_free(PHOTO[:10, :10], 4, -3.0)


def test_ideal_brighten_inverts_a_noise_free_capture():
    camera = DegradeParams(blur_sigma=0.0, black_point=0.0)
    restored = na.ideal_brighten(na.simulate_noise_free(PHOTO, 2, -2.0, camera), -2.0, camera)
    target = downscale_target(PHOTO, 2)
    assert restored.shape == target.shape and restored.min() >= 0 and restored.max() <= 1
    assert na.psnr_from_mse(np.mean((restored * 255 - target) ** 2)) > 35
    assert np.all(na.ideal_brighten(np.zeros((2, 2, 3), np.uint8), -3.0) == 0)  # crushed shadows stay black


def test_noise_std_in_codes_for_uint8_and_float():
    clean = np.full((32, 32, 3), 100, np.uint8)
    noisy = clean.copy()
    noisy[::2] += 4  # half the rows +4: std 2
    assert na.noise_std(noisy, clean) == pytest.approx(2.0)
    assert na.noise_std(noisy / 255.0, clean / 255.0) == pytest.approx(2.0)
    with pytest.raises(UserError, match="same shape"):
        na.noise_std(noisy[:4], clean)


def test_brightening_amplifies_noise_but_keeps_the_snr():
    camera = replace(DegradeParams(), black_point=0.0, tone_gamma=1.0)  # a linear camera: light times a gain
    dark, dark_clean = degrade(PHOTO, 2, -4.0, camera), na.simulate_noise_free(PHOTO, 2, -4.0, camera)
    bright, bright_clean = na.ideal_brighten(dark, -4.0, camera), na.ideal_brighten(dark_clean, -4.0, camera)
    assert na.noise_std(bright, bright_clean) > 3 * na.noise_std(dark, dark_clean)
    assert na.linear_snr(bright, bright_clean) == pytest.approx(na.linear_snr(dark, dark_clean), rel=0.05)


def test_a_tone_curve_changes_the_snr_that_brightening_sees():
    camera = replace(DegradeParams(), black_point=0.0)  # tone_gamma 1.29 .. 1.40: not a plain gain
    dark, dark_clean = degrade(PHOTO, 2, -4.0, camera), na.simulate_noise_free(PHOTO, 2, -4.0, camera)
    bright, bright_clean = na.ideal_brighten(dark, -4.0, camera), na.ideal_brighten(dark_clean, -4.0, camera)
    assert abs(na.linear_snr(bright, bright_clean) / na.linear_snr(dark, dark_clean) - 1) > 0.05


def test_grey_card_electrons_and_the_two_snrs():
    electrons = na.grey_card_electrons(-3.0, seed=1)
    assert electrons.shape == (64, 64, 3)
    expected = 0.18 * 2.0**-3 * DegradeParams().full_well
    assert electrons.mean() == pytest.approx(expected, rel=0.01)
    amplitude, power = na.snr_amplitude_and_power(electrons)
    assert power == pytest.approx(amplitude**2, rel=1e-12)
    assert amplitude == pytest.approx(na.theoretical_snr(expected, DegradeParams().read_noise), rel=0.05)
    assert 20 * np.log10(amplitude) == pytest.approx(10 * np.log10(power))
    generator = np.random.default_rng(3)
    assert not np.array_equal(na.grey_card_electrons(-3.0, seed=generator), na.grey_card_electrons(-3.0, seed=generator))
    with pytest.raises(UserError, match="variance"):
        na.snr_amplitude_and_power(np.ones((4, 4)))
    with pytest.raises(UserError, match="size"):
        na.grey_card_electrons(-3.0, size=2)


def test_autocorrelation_of_white_and_smeared_noise():
    white = np.random.default_rng(0).normal(size=(64, 64, 3))
    acf = na.autocorrelation(white, 4)
    assert acf.shape == (5,) and acf[0] == pytest.approx(1.0) and np.abs(acf[1:]).max() < 0.05
    smeared = na.upscale(0.5 + 0.1 * white[:16, :16], 4)  # (64, 64, 3): each value spread over ~4 pixels
    assert na.autocorrelation(smeared, 4)[1] > 0.8


@pytest.mark.parametrize("noise, max_lag", [(np.ones((8, 8, 3)), 2), (np.zeros((8, 8)), 2), (np.eye(8)[..., None], 8)])
def test_autocorrelation_rejects_bad_input(noise, max_lag):
    with pytest.raises(UserError):
        na.autocorrelation(noise, max_lag)


def test_sequential_errors_of_a_perfect_enhancer_are_the_sr_error_alone():
    lr = downscale_target(PHOTO, 4)
    errors = na.sequential_errors(lr, lr, PHOTO, 4)
    assert errors.lle == 0 and errors.propagated == 0
    assert errors.sequential == pytest.approx(errors.sr) and errors.additivity == pytest.approx(1.0)
    assert errors.psnr()["lle"] == float("inf")


def test_sequential_errors_add_up_for_independent_noise():
    lr = downscale_target(PHOTO, 4) / 255.0
    noisy = np.clip(lr + np.random.default_rng(1).normal(0, 0.05, lr.shape), 0, 1)
    errors = na.sequential_errors(noisy, lr, PHOTO, 4)
    assert errors.sequential > max(errors.sr, errors.propagated)
    assert 0.85 < errors.additivity < 1.15
    assert errors.propagated < errors.lle  # bicubic smooths part of the noise away, not most of it
    with pytest.raises(UserError, match="times the size"):
        na.sequential_errors(noisy, lr, PHOTO[:64], 4)


def test_psnr_from_mse():
    assert na.psnr_from_mse(0.0) == float("inf")
    assert na.psnr_from_mse(255.0**2) == pytest.approx(0.0)
    assert na.psnr_from_mse(1.0) == pytest.approx(48.1308, abs=1e-4)
