"""The conditional toy: two branches for x > 0, regressions that land between them, a conditional flow."""

import math

import pytest
import torch

from lolisr_lib.errors import UserError
from lolisr_lib.flow.checks import autograd_logdet, check_invertible, perturb_parameters
from lolisr_lib.lessons import conditional_toy as ct


def test_branches_coincide_for_non_positive_x_and_split_for_positive_x():
    centres = ct.branch_centres(torch.tensor([[-0.5], [0.0], [0.8]]))
    assert centres.shape == (3, 2, 2)
    assert torch.equal(centres[0, 0], centres[0, 1]) and torch.equal(centres[1, 0], centres[1, 1])
    assert torch.allclose(centres[2, 0] - centres[2, 1], torch.tensor([0.0, 2 * ct.SPLIT * 0.8]))
    assert torch.allclose(centres[2].mean(dim=0), torch.tensor([ct.SLOPE * 0.8, 0.0]))


def test_samples_are_reproducible_and_split_evenly():
    x, y = ct.sample_conditional_toy(4000, torch.Generator().manual_seed(1))
    again = ct.sample_conditional_toy(4000, torch.Generator().manual_seed(1))
    assert x.shape == (4000, 1) and y.shape == (4000, 2) and torch.equal(y, again[1])
    assert x.min() >= -1 and x.max() <= 1
    right = x[:, 0] > 0.5
    assert 0.4 < (y[right, 1] > 0).double().mean() < 0.6  # both branches equally likely


def test_true_density_integrates_to_one_at_a_split_input():
    xt = torch.tensor([[0.7]], dtype=torch.float64)
    y1, y2 = torch.meshgrid(torch.linspace(-1, 3, 201, dtype=torch.float64),
                            torch.linspace(-2.5, 2.5, 251, dtype=torch.float64), indexing="ij")
    points = torch.stack([y1.reshape(-1), y2.reshape(-1)], dim=1)
    mass = torch.exp(ct.true_log_prob(points, xt)).sum() * (4 / 200) * (5 / 250)
    assert abs(float(mass) - 1) < 1e-3


@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_regressions_land_between_the_branches(loss):
    x, y = ct.sample_conditional_toy(3000, torch.Generator().manual_seed(0))
    regression = ct.fit_regression(x, y, loss)
    xt = torch.tensor([[-0.5], [0.8]])
    predicted = regression(xt)
    centres = ct.branch_centres(xt)
    assert torch.allclose(predicted[0], centres[0, 0], atol=0.05)  # one branch: the regression is right
    upper, lower = centres[1, 0, 1], centres[1, 1, 1]
    assert lower + ct.NOISE < predicted[1, 1] < upper - ct.NOISE  # two branches: strictly between them
    assert abs(predicted[1, 0] - centres[1, 0, 0]) < 0.05  # the shared coordinate is right
    if loss == "l2":  # the mean sits in the middle, where p(y | x) is almost zero
        assert ct.true_log_prob(predicted[1:].double(), xt[1:].double()) < -30


def test_regression_rejects_bad_arguments():
    x, y = ct.sample_conditional_toy(10)
    with pytest.raises(UserError, match="loss"):
        ct.fit_regression(x, y, "l3")
    with pytest.raises(UserError, match="y must be"):
        ct.fit_regression(x, y[:5])
    with pytest.raises(UserError, match="x must be"):
        ct.branch_centres(torch.zeros(3))


def test_the_flow_is_invertible_with_an_exact_log_det():
    torch.manual_seed(0)
    flow = perturb_parameters(ct.ConditionalToyFlow(2, 8).double(), 0.3, torch.Generator().manual_seed(0))
    y = torch.randn(4, 2, dtype=torch.float64)
    x = torch.rand(4, 1, dtype=torch.float64)
    errors = check_invertible(flow, y, x)
    assert errors["max_abs_error"] < 1e-10
    exact = autograd_logdet(lambda v, c: flow(v, c)[0], y, x)
    assert torch.allclose(flow(y, x)[1], exact, atol=1e-9)
    assert flow.log_prob(y, x).shape == (4,)


def test_a_fitted_flow_samples_both_branches():
    x, y = ct.sample_conditional_toy(3000, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    flow = ct.ConditionalToyFlow(5, 32)
    history = ct.fit_conditional_flow(flow, x, y, iterations=400, progress=False)
    assert len(history) == 400 and history[-1] < history[0] - 1
    samples = ct.sample_conditional_flow(flow, 0.8, 1000, 1.0, torch.Generator().manual_seed(0))
    upper, lower = ct.mode_fractions(samples, 0.8)
    assert upper > 0.25 and lower > 0.25 and not math.isnan(upper)
    single = ct.mode_fractions(ct.sample_conditional_flow(flow, -0.5, 500), -0.5)
    assert single[0] == single[1] > 0.9
