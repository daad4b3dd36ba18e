"""The figures of notebook 05 render from small inputs and return matplotlib figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lolisr_lib.encoder.features import encoder_features  # noqa: E402
from lolisr_lib.image.color import equalize_hist  # noqa: E402
from lolisr_lib.lessons import cr_analysis  # noqa: E402
from lolisr_lib.viz import colour_ratio as viz_colour  # noqa: E402

RNG = np.random.default_rng(0)
GT = (RNG.uniform(0.1, 0.9, size=(12, 12, 3)) * 255).astype(np.uint8)
LQ = {-2.5: (GT * 0.2).astype(np.uint8), -3.0: (GT * 0.1).astype(np.uint8)}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_cr_display_scales_each_pixel_to_its_largest_ratio_and_keeps_black():
    cr = np.array([[[0.5, 0.25, 0.25], [0.0, 0.0, 0.0]]])
    np.testing.assert_allclose(viz_colour.cr_display(cr), [[[1.0, 0.5, 0.5], [0.0, 0.0, 0.0]]])


def test_plot_exposure_series_and_pair():
    fig = viz_colour.render_cr_exposure_series(LQ, GT)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3
    fig = viz_colour.render_cr_pair(LQ, GT, -3.0)
    assert isinstance(fig, Figure) and "-3.0 EV" in fig.axes[0].get_title()


def test_plot_invariance_and_error_by_brightness():
    fig = viz_colour.render_invariance([-2.5, -3.0], {"all": [0.1, 0.2], "lit": [0.01, np.nan]}, 0.06)
    assert isinstance(fig, Figure)
    binned = cr_analysis.error_by_brightness(list(LQ.values()), [GT, GT])
    fig = viz_colour.render_error_by_brightness(binned["edges"], {"captured": binned["mean_error"]}, binned["count"])
    assert isinstance(fig, Figure)
    fig = viz_colour.render_error_by_brightness(binned["edges"], {"captured": binned["mean_error"]})
    assert isinstance(fig, Figure)


def test_plot_overexposure():
    rows = cr_analysis.overexposure_bias(GT, [-1.0, 0.0, 1.0, 2.0])
    fig = viz_colour.render_overexposure(rows, GT, cr_analysis.overexpose(GT, 2.0), 2.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 6  # four images, the plot and its twin axis


def test_plot_he_comparison():
    fig = viz_colour.render_he_comparison(LQ[-2.5], equalize_hist(LQ[-2.5]), LQ[-2.5] / 255.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 6


@pytest.mark.parametrize("batched", [True, False])
def test_plot_encoder_features(batched):
    features = encoder_features(torch.from_numpy(LQ[-2.5] / 255.0).permute(2, 0, 1)[None].float())
    fig = viz_colour.render_encoder_features(features if batched else features[0])
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert "colour ratio" in fig.axes[2].get_title()


def test_plot_cr_rows_draws_one_row_per_pair():
    rng = np.random.default_rng(0)
    rows = [{"title": f"pair {k}", "lq": rng.integers(0, 20, (8, 8, 3)).astype(np.uint8),
             "gt": rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)} for k in range(2)]
    fig = viz_colour.render_cr_rows(rows)
    assert isinstance(fig, Figure) and fig.axes[0].get_title().startswith("pair 0: input")
    assert fig.axes[3].get_title().startswith("|difference|, mean")
