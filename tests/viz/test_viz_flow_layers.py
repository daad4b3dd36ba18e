"""Figures of notebook 04: every render function returns a figure built from its data, without failing."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lolisr_lib.flow import sigmoid_log_scale, softclamp_log_scale, squeeze
from lolisr_lib.lessons.scale_comparison import ScaleTrial
from lolisr_lib.viz.flow_layers import (
    FLOAT32_MAX,
    render_blowup_sweep,
    render_channel_stats,
    render_log_scale_functions,
    render_matrices,
    render_scale_bound,
    render_squeeze_layout,
    render_worst_case_growth,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_channel_stats_draws_before_and_after_bars_per_channel():
    mean, std = torch.rand(12), torch.rand(12) + 0.1
    fig = render_channel_stats(mean, std, torch.zeros(12), torch.ones(12))
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert len(fig.axes) == 2 and len(heights) == 24
    assert np.allclose(heights[12:], 1.0) and np.allclose(heights[:12], std.numpy())


@pytest.mark.parametrize("linthresh", [None, 1e-3])
def test_matrices_one_image_per_matrix_with_block_lines(linthresh):
    jac = torch.eye(6, dtype=torch.float64)
    jac[3:, :3] = 0.01
    fig = render_matrices({"a": jac, "coupling": -jac}, blocks={"coupling": 3}, linthresh=linthresh, suptitle="t")
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2 and np.array_equal(images[0].get_array(), jac.numpy())
    coupling_ax = fig.axes[1] if fig.axes[1].images else fig.axes[2]
    assert len(coupling_ax.lines) == 2  # the horizontal and vertical block boundary


def test_squeeze_layout_colours_each_output_channel_uniformly():
    x = torch.arange(2 * 4 * 4).view(1, 2, 4, 4)
    fig = render_squeeze_layout(x[0], squeeze(x)[0])
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 + 8
    for ax in panels[2:]:  # an output channel holds one sub-pixel position, hence one colour
        rgb = np.asarray(ax.images[0].get_array()).reshape(-1, 3)
        assert len(np.unique(rgb, axis=0)) == 1
    texts = sorted(int(t.get_text()) for ax in panels[2:] for t in ax.texts)
    assert texts == list(range(32))


def test_scale_bound_at_the_default_draws_the_library_functions():
    fig = render_scale_bound()
    raw = torch.as_tensor(fig.axes[0].lines[0].get_xdata())
    soft, sig = (torch.as_tensor(line.get_ydata()) for line in fig.axes[0].lines[:2])
    assert torch.allclose(soft, softclamp_log_scale(raw)) and torch.allclose(sig, sigmoid_log_scale(raw))
    assert render_scale_bound(0.5).axes[0].lines[0].get_ydata().max() <= 0.5


def test_log_scale_functions_plot_the_inverse_gain():
    raw = np.linspace(-3, 3, 7)
    fig = render_log_scale_functions(raw, {"softclamp": 2 * np.tanh(raw / 2)})
    gain = fig.axes[1].lines[0].get_ydata()
    assert np.allclose(gain, np.exp(-2 * np.tanh(raw / 2)))


def test_worst_case_growth_marks_the_float32_overflow_only_when_reached():
    fig = render_worst_case_growth({"sigmoid": 1e4, "softclamp": np.e ** 2, "gentle": 1.01}, layers=72,
                                   marks={"paper flow": 72})
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert sum("overflow" in n for n in notes) == 2 and "paper flow" in notes
    assert any("9.6 layers" in n for n in notes)


def test_blowup_sweep_draws_non_finite_trials_at_the_float32_limit():
    def trial(name, std, max_abs, nonfinite):
        spread = {"std": std, "min": -2 * std, "max": 2 * std}
        return ScaleTrial(name, 1.0, spread, {"max_abs": max_abs, "nonfinite": nonfinite, "blown_up": 1.0})

    trials = [trial("softclamp", 0.3, 4.0, 0.0), trial("softclamp", 1.0, 1e17, 0.0), trial("sigmoid", 0.3, 1e37, 0.5)]
    fig = render_blowup_sweep(trials, matched=trials[::2], temperature=0.5)
    ax = fig.axes[0]
    sigmoid_line = [line for line in ax.lines if line.get_label() == "sigmoid"][0]
    assert sigmoid_line.get_ydata()[0] == FLOAT32_MAX
    assert any("50% non-finite" in t.get_text() for t in ax.texts) and "0.5" in ax.get_title()
