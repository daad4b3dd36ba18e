"""Figures of notebook 06: every render function returns a figure built from its data, without failing."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lolisr_lib.encoder import MPCTEncoder, encoder_features
from lolisr_lib.lessons.attention_cost import measure_attention_cost
from lolisr_lib.lessons.encoder_probe import fusion_traffic
from lolisr_lib.viz.encoder import (
    render_attention_cost,
    render_cr_maps,
    render_fusion_traffic,
    render_input_features,
    render_receptive_fields,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_input_features_one_panel_per_view_plus_the_input_twice():
    lq = torch.rand(3, 16, 16) * 0.1
    fig = render_input_features(lq, encoder_features(lq[None])[0])
    assert len(fig.axes) == 6
    assert all(ax.images and 0 <= ax.images[0].get_array().min() <= ax.images[0].get_array().max() <= 1
               for ax in fig.axes)


def test_attention_cost_draws_measured_and_counted_curves_with_marks():
    costs = [measure_attention_cost("channel", [4, 8, 16], channels=4, repeats=1),
             measure_attention_cost("spatial", [4, 8], channels=4, repeats=1)]
    fig = render_attention_cost(costs, {"a mark": 1000}, {"channel": 64, "spatial": 16})
    measured, counted = fig.axes
    assert len(counted.get_lines()) >= 4 and measured.get_xscale() == "log"
    assert any("slope" in t.get_text() for t in measured.get_legend().get_texts())
    assert counted.get_xlim()[1] >= 1000


@pytest.mark.parametrize("stage", [1, 2])
def test_fusion_traffic_heat_map_has_one_cell_per_branch_pair(stage):
    torch.manual_seed(0)
    encoder = MPCTEncoder(2, channels=8, blocks=1, stages=2, cond_channels=4, heads=1)
    fig = render_fusion_traffic(fusion_traffic(encoder, torch.rand(1, 3, 16, 16)), stage=stage)
    values = fig.axes[0].images[0].get_array()  # a masked array: NaN (masked) on the diagonal
    off_diagonal = ~np.eye(3, dtype=bool)
    assert values.shape == (3, 3) and np.ma.getmaskarray(values)[~off_diagonal].all()
    assert (values.data[off_diagonal] > 0).all()
    assert f"stage {stage}" in fig.axes[0].get_title()


def test_receptive_fields_one_panel_per_map_with_a_colour_bar():
    maps = [np.random.default_rng(0).random((8, 8)), np.zeros((8, 8)) + 1e-3]
    fig = render_receptive_fields(maps, [(4, 4), (3, 3)], ["a", "b"])
    assert len(fig.axes) == 3  # two images and the colour bar
    assert fig.axes[0].images[0].get_array().max() == pytest.approx(0.0)  # normalised to the maximum


def test_cr_maps_show_the_reference_first_and_the_errors_in_titles():
    cr = torch.full((3, 8, 8), 1 / 3)
    fig = render_cr_maps(cr, {"grey": cr, "other": torch.rand(3, 8, 8)}, {"grey": 0.0})
    assert len(fig.axes) == 3 and fig.axes[0].get_title().startswith("CR(gt)")
    assert "MAE 0.0000" in fig.axes[1].get_title() and "MAE" not in fig.axes[2].get_title()
