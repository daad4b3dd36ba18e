"""Figures of notebooks 00 and 01: every render function returns a figure, and the display stretch is sane."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import skimage.data  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lolisr_lib.viz as viz  # noqa: E402
from lolisr_lib.image.degrade import DegradeParams, downscale_target  # noqa: E402
from lolisr_lib.lessons import noise_analysis as na  # noqa: E402
from lolisr_lib.lessons.degrade_steps import degrade_steps  # noqa: E402
from lolisr_lib.viz import degrade as vd  # noqa: E402

PHOTO = skimage.data.astronaut()[:64, :64]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_stretch_brightens_dark_images_only():
    dark = np.full((8, 8, 3), 10, np.uint8)
    shown, gain = viz.stretch(dark)
    assert gain == pytest.approx(viz.DISPLAY_MEAN / (10 / 255)) and shown.mean() == pytest.approx(viz.DISPLAY_MEAN)
    assert viz.stretch(np.full((4, 4, 3), 200, np.uint8))[1] == 1.0
    spotty = np.zeros((20, 20, 3))
    spotty[0, :2] = 1.0  # 2 % of the pixels are white: the mean rule alone would clip many more
    shown, _ = viz.stretch(spotty + 0.01)
    assert np.mean(shown >= 1.0) <= 0.02


def test_render_steps_and_capture():
    steps = degrade_steps(PHOTO, 4, -3.0)
    fig = vd.render_steps(steps)
    assert isinstance(fig, Figure) and "stored file" in fig.axes[len(steps)].get_title()
    fig = vd.render_capture(PHOTO, -4.0, 2.0, 2)
    assert isinstance(fig, Figure) and "ISO gain 2" in fig.axes[1].get_title()


def test_render_real_vs_simulated_draws_a_row_per_pair():
    real = np.random.default_rng(0).integers(0, 30, (32, 32, 3)).astype(np.uint8)
    rows = [{"title": "00018 (-3 EV)", "real": real, "sim": real // 2}, {"title": "b", "real": real, "sim": real}]
    fig = vd.render_real_vs_simulated(rows)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert fig.axes[0].get_title().startswith("00018 (-3 EV): real") and "simulated" in fig.axes[1].get_title()


def test_render_snr_curve():
    curve = na.flat_patch_snr(np.arange(-6.0, 0.5, 1.0), size=16)
    fig = vd.render_snr_curve(curve, DegradeParams().read_noise)
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "log"


def test_render_amplification_blobs_and_budget():
    params = DegradeParams(black_point=0.0)
    dark = na.simulate_noise_free(PHOTO, 2, -3.0, params)
    noisy = np.clip(dark.astype(int) + np.random.default_rng(0).integers(-2, 3, dark.shape), 0, 255).astype(np.uint8)
    bright, bright_clean = na.ideal_brighten(noisy, -3.0, params), na.ideal_brighten(dark, -3.0, params)
    assert isinstance(vd.render_amplification(noisy, dark, bright, bright_clean), Figure)
    noise_lr = 255 * (bright - bright_clean)
    noise_hr = 255 * (na.upscale(bright, 2) - na.upscale(bright_clean, 2))
    fig = vd.render_noise_blobs(noise_lr, noise_hr, na.autocorrelation(noise_lr, 4), na.autocorrelation(noise_hr, 4), 2)
    assert isinstance(fig, Figure)
    errors = na.sequential_errors(bright, downscale_target(PHOTO, 2), PHOTO, 2)
    fig = vd.render_error_budget(errors)
    assert isinstance(fig, Figure) and f"{errors.additivity:.2f}" in fig.axes[1].get_title()


def test_render_problem_puts_a_note_under_each_panel():
    fig = vd.render_problem([("input", PHOTO[:16, :16]), ("target", PHOTO)], ["PSNR 10 dB", "reference"])
    assert [ax.get_xlabel() for ax in fig.axes] == ["PSNR 10 dB", "reference"]
