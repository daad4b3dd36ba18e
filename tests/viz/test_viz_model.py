"""Figures of notebook 07: every render function returns a figure built from its data, without failing."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lolisr_lib.lessons.uncertainty import TemperatureSweep
from lolisr_lib.viz.model import (
    grid_columns,
    loss_waterfall,
    render_enhancement,
    render_loss_curve,
    render_loss_decomposition,
    render_parameter_counts,
    render_samples,
    render_temperature_samples,
    render_temperature_sweep,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sweep(n_temps=3, n=2):
    t = np.linspace(0, 1, n_temps)
    return TemperatureSweep(t, 20 - 5 * t, t, 0.5 - 0.2 * t, 0.1 * t, [torch.rand(n, 3, 8, 8) for _ in t])


def test_parameter_counts_one_bar_per_part_and_model():
    fig = render_parameter_counts({"tiny": {"encoder": 10, "flow": 30}, "paper": {"encoder": 100, "flow": 300}})
    assert len(fig.axes[0].patches) == 4


def test_loss_waterfall_adds_up_to_the_loss():
    H = W = 8
    steps = loss_waterfall(log_prob=-100.0, logdet=300.0, l1=0.2, gamma=1.5, H=H, W=W)
    nll = -(-100.0 + 300.0) / (math.log(2) * H * W)
    assert steps[2] == ("= NLL", 0.0, pytest.approx(nll))
    assert steps[-1][2] == pytest.approx(nll + 1.5 * 0.2)
    assert steps[1][1] == steps[0][2] and steps[3][1] == steps[2][2]  # each step starts where the last ended


def test_loss_decomposition_draws_one_bar_per_step():
    fig = render_loss_decomposition(-100.0, 300.0, 0.2, 1.5, 8, 8)
    assert len(fig.axes[0].patches) == 5


def test_loss_curve_one_panel_per_key():
    rows = [{"step": s, "loss": -s, "nll": -2 * s, "l1": 0.1} for s in range(1, 5)]
    fig = render_loss_curve(rows, ("loss", "nll"))
    assert len(fig.axes) == 2 and list(fig.axes[0].get_lines()[0].get_ydata()) == [-1, -2, -3, -4]


def test_enhancement_titles_carry_the_scores():
    fig = render_enhancement(torch.rand(3, 4, 4), torch.rand(3, 8, 8), torch.rand(3, 8, 8),
                             {"psnr": 21.5, "ssim": 0.5, "input_psnr": 9.0})
    assert "21.50 dB" in fig.axes[1].get_title() and "9.00 dB" in fig.axes[0].get_title()
    assert fig.axes[0].images[0].get_array().shape[:2] == (8, 8)  # input upscaled to the output size


@pytest.mark.parametrize("with_error", [False, True])
def test_samples_grid_with_mean_std_and_optional_error(with_error):
    samples = torch.rand(3, 3, 8, 8)
    error = torch.rand(8, 8) if with_error else None
    fig = render_samples(samples, torch.rand(8, 8), 0.8, error_map=error)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titled) == 3 + 2 + with_error
    assert any("per-pixel std" in t for t in titled) and any("|prediction - gt|" in t for t in titled) == with_error


@pytest.mark.parametrize("panels, cols", [(9, 3), (8, 4), (10, 5), (7, 4), (5, 5)])
def test_sample_grid_leaves_the_fewest_empty_cells(panels, cols):
    assert grid_columns(panels) == cols


def test_six_samples_and_three_summaries_fill_a_three_by_three_grid():
    fig = render_samples(torch.rand(6, 3, 8, 8), torch.rand(8, 8), 0.8, error_map=torch.rand(8, 8))
    grid = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(grid) == 9 and all(ax.get_title() for ax in grid)  # no empty cell


def test_temperature_sweep_plots_psnr_and_diversity():
    sweep = _sweep()
    fig = render_temperature_sweep(sweep)
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == list(sweep.diversity)


@pytest.mark.parametrize("index", [0, 2])
def test_temperature_samples_one_panel_per_sample(index):
    fig = render_temperature_samples(_sweep(n=3), index)
    assert len(fig.axes) == 3 and f"tau = {_sweep().temperatures[index]:g}" in fig._suptitle.get_text()


def test_render_architecture_and_method_rows_and_val_curves():
    from lolisr_lib.config import preset
    from lolisr_lib.lessons.encoder_probe import trace_flow_levels, trace_shapes
    from lolisr_lib.model import LoLiSRFlow
    from lolisr_lib.viz.architecture import render_architecture
    from lolisr_lib.viz.model import render_method_row, render_val_curves

    torch.manual_seed(0)
    model = LoLiSRFlow(preset("tiny-x4")).eval()
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 64, 64)
    fig = render_architecture(trace_shapes(model.encoder, x), trace_flow_levels(model, x, y), name="tiny-x4")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "192 x 8 x 8" in texts and "3 x 64 x 64" in texts
    outputs = {"a": torch.rand(3, 64, 64), "b": torch.rand(3, 64, 64)}
    fig = render_method_row(x[0], outputs, y[0], {"a": (10.0, 0.1), "b": (12.0, 0.2)}, title="t")
    assert len(fig.axes) == 4
    long_name = "LoLiSRFlow (wide-ema-long-x2), brightness from the EV"  # wider than its panel: wrapped
    fig = render_method_row(x[0], {long_name: outputs["a"]}, y[0], {long_name: (10.0, 0.1)}, size=2.8)
    title = fig.axes[1].get_title()
    assert title.replace("\n", " ").startswith(long_name) and max(len(line) for line in title.splitlines()) <= 30
    rows = [{"step": s, "psnr": 10 + s / 100, "brightness_error": 5.0} for s in (100, 200)]
    fig = render_val_curves({"run": rows}, reference={"oracle": 11.0})
    assert len(fig.axes) == 2
    rows = [{**r, "psnr_exposure": 20 + r["step"] / 100} for r in rows]
    fig = render_val_curves({"run": rows}, keys=("psnr", "psnr_exposure", "brightness_error"))
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()  # both PSNRs on one scale
    assert fig.axes[0].get_ylim()[1] > 22 and "from the EV" in fig.axes[1].get_ylabel()
