"""The figures of notebook 03 render from small inputs and return matplotlib figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lolisr_lib.lessons import toy2d  # noqa: E402
from lolisr_lib.viz import flows as viz_flows  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _flow():
    torch.manual_seed(0)
    return toy2d.ToyFlow2d(1, 4).eval()


def test_plot_densities_1d():
    grid = np.linspace(-3, 3, 50)
    density = np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi)
    fig = viz_flows.render_densities_1d([grid, grid], [density, density], [np.random.randn(100), None], ["a", "b"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_plot_warp_reports_the_change_of_area():
    fig = viz_flows.render_warp(lambda p: 2 * p, title="2", points=torch.zeros(3, 2), latent_extent=(-1, 1, -1, 1))
    assert isinstance(fig, Figure)
    assert "shaded area 1.00" in fig.axes[0].get_title() and "shaded area 4.00" in fig.axes[1].get_title()
    assert fig.axes[1].get_xlim() == (-1, 1)


def test_plot_flow_fit():
    data = toy2d.sample_toy("moons", 200, torch.Generator().manual_seed(0))
    grid = toy2d.density_grid(lambda p: toy2d.toy_log_prob("moons", p), n=20)
    fig = viz_flows.render_flow_fit(data, {"true": grid, "also true": grid}, data[:50])
    assert isinstance(fig, Figure) and len(fig.axes) == 4


def test_plot_nll_curve():
    fig = viz_flows.render_nll_curve(list(np.linspace(3, 2, 40)), {"reference": 2.0}, window=5)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) == 3  # batch values, running mean, one reference


def test_plot_samples_grid_and_flow_samples():
    points = torch.randn(30, 2)
    fig = viz_flows.render_samples_grid({"T = 1": points, "T = 0.5": 0.5 * points}, points)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig = viz_flows.render_flow_samples(_flow(), 0.7, points, n=20)
    assert isinstance(fig, Figure) and "0.70" in fig.axes[0].get_title()


def test_plot_dequantisation():
    sigmas = np.logspace(-1, -5, 5)
    fig = viz_flows.render_dequantisation(sigmas, np.linspace(7.8, -1, 5), np.linspace(7.8, 50, 5), 7.5)
    assert isinstance(fig, Figure)


def test_plot_conditional_toy_draws_each_slice():
    from lolisr_lib.lessons import conditional_toy as ct

    x, y = ct.sample_conditional_toy(200, torch.Generator().manual_seed(0))
    grid = torch.linspace(-1, 1, 11)[:, None]
    regression = ct.fit_regression(x, y)
    xt = torch.tensor([[0.8]])
    density = toy2d.density_grid(lambda p: ct.true_log_prob(p.double(), xt.double()), n=40,
                                 extent=viz_flows.conditional_window(0.8))
    slices = [{"x": 0.8, "density": density, "samples": y[:20], "predictions": {"L2": regression(xt)[0]}}]
    fig = viz_flows.render_conditional_toy(x, y, {"L2": (grid[:, 0], regression(grid))}, slices)
    assert isinstance(fig, Figure) and "x = 0.8" in fig.axes[1].get_title()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "flow samples", "true p(y | x): 1, 2, 3 std", "L2"]
    assert fig.axes[1].get_xlim() == pytest.approx((1.6 - 1.4, 1.6 + 1.4), abs=1e-6)
