"""The 2-D toy densities, the toy flow made of library layers, its fit, and the dequantisation densities."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from lolisr_lib.errors import UserError
from lolisr_lib.flow import CondAffineCoupling, bits_per_dim, dequantize
from lolisr_lib.flow.checks import autograd_logdet, check_invertible, perturb_parameters
from lolisr_lib.lessons import toy2d


@pytest.mark.parametrize("name", toy2d.TOY_DENSITIES)
def test_samples_have_the_right_shape_and_are_reproducible(name):
    a = toy2d.sample_toy(name, 50, torch.Generator().manual_seed(3))
    b = toy2d.sample_toy(name, 50, torch.Generator().manual_seed(3))
    assert a.shape == (50, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", toy2d.TOY_DENSITIES)
def test_exact_density_integrates_to_one(name):
    xs, ys, density = toy2d.density_grid(lambda p: toy2d.toy_log_prob(name, p.double()),
                                         extent=(-4.5, 4.5, -4.0, 4.0), n=161)
    cell = float((xs[1] - xs[0]) * (ys[1] - ys[0]))
    assert abs(float(density.sum()) * cell - 1) < 1e-2


@pytest.mark.parametrize("name", toy2d.TOY_DENSITIES)
def test_samples_lie_on_the_support_and_far_points_do_not(name):
    data = toy2d.sample_toy(name, 2000, torch.Generator().manual_seed(0))
    assert toy2d.on_support_fraction(name, data) > 0.97
    assert toy2d.on_support_fraction(name, torch.tensor([[10.0, 10.0]])) == 0.0
    # the exact density is higher at the samples than at points spread uniformly over the plot
    uniform = torch.rand(2000, 2, generator=torch.Generator().manual_seed(1)) * torch.tensor([8.0, 6.0]) - \
        torch.tensor([4.0, 3.0])
    assert toy2d.toy_log_prob(name, data).mean() > toy2d.toy_log_prob(name, uniform).mean() + 1.0


def test_unknown_toy_density_is_a_user_error():
    with pytest.raises(UserError, match="moons"):
        toy2d.sample_toy("spiral", 10)


def test_density_grid_is_indexed_y_then_x():
    xs, ys, density = toy2d.density_grid(lambda p: -p[:, 1] ** 2, extent=(-1, 1, -2, 2), n=5)
    assert density.shape == (5, 5)
    assert torch.allclose(density[:, 0], torch.exp(-ys**2))  # varies along the first index with y
    assert torch.allclose(density[2], torch.ones(5))  # constant along x


def _perturbed_flow(steps=2, hidden=8):
    torch.manual_seed(0)
    flow = toy2d.ToyFlow2d(steps, hidden).double()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 2, generator=g, dtype=torch.float64)
    perturb_parameters(flow, 0.5, g, x=x)
    return flow


def test_toy_flow_round_trip_and_logdet_match_autograd():
    flow = _perturbed_flow()
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    check_invertible(flow, x)
    z, logdet = flow(x)
    assert z.shape == (4, 2) and logdet.shape == (4,)
    torch.testing.assert_close(logdet, autograd_logdet(lambda p: flow(p)[0], x), atol=1e-10, rtol=0)
    assert logdet.abs().max() > 1e-3  # perturbed: not the identity, so the check could fail


def test_toy_flow_log_prob_is_gaussian_of_latent_plus_logdet():
    flow = _perturbed_flow()
    x = torch.randn(3, 2, dtype=torch.float64)
    z, logdet = flow(x)
    expected = torch.from_numpy(norm.logpdf(z.detach().numpy()).sum(axis=1)) + logdet
    torch.testing.assert_close(flow.log_prob(x), expected)


@pytest.mark.parametrize("shape", [(4,), (4, 3), (4, 2, 1, 1)])
def test_toy_flow_rejects_points_that_are_not_b_by_2(shape):
    with pytest.raises(UserError, match=r"\(B, 2\)"):
        toy2d.ToyFlow2d(1, 4)(torch.zeros(shape))


def test_fit_lowers_the_nll_is_reproducible_and_leaves_eval_mode():
    data = toy2d.sample_toy("moons", 1000, torch.Generator().manual_seed(0))
    histories, flows = [], []
    for _ in range(2):
        torch.manual_seed(0)
        flow = toy2d.ToyFlow2d(2, 16)
        before = toy2d.toy_nll(flow, data)
        histories.append(toy2d.fit_toy_flow(flow, data, iterations=60, batch_size=256, seed=1, progress=False))
        flows.append(flow)
    assert len(histories[0]) == 60 and histories[0] == histories[1]
    assert not flows[0].training
    assert toy2d.toy_nll(flows[0], data) < before - 0.3


def test_fit_rejects_data_that_are_not_2d_points():
    with pytest.raises(UserError, match="N, 2"):
        toy2d.fit_toy_flow(toy2d.ToyFlow2d(1, 4), torch.zeros(10, 3), iterations=1, progress=False)


def test_sampling_shapes_and_temperature_zero_is_the_preimage_of_zero():
    flow = _perturbed_flow()
    samples = toy2d.sample_toy_flow(flow, 7, 1.0, torch.Generator().manual_seed(0))
    assert samples.shape == (7, 2) and samples.dtype == torch.float64
    centre = toy2d.sample_toy_flow(flow, 3, 0.0)
    expected = flow.inverse(torch.zeros(1, 2, dtype=torch.float64))[0]
    torch.testing.assert_close(centre, expected.expand(3, 2))


def test_toy_coupling_matches_the_library_layer():
    torch.manual_seed(0)
    layer = CondAffineCoupling(2, 0, 8).double()
    perturb_parameters(layer, 1.0, torch.Generator().manual_seed(0))
    x = torch.randn(5, 2, dtype=torch.float64)
    y, logdet = toy2d.toy_coupling(x, layer)
    image = x.reshape(5, 2, 1, 1)
    y_lib, logdet_lib = layer(image, image.new_zeros(5, 0, 1, 1))
    torch.testing.assert_close(y, y_lib.reshape(5, 2))
    torch.testing.assert_close(logdet, logdet_lib)
    assert logdet.abs().max() > 1e-3


def test_toy_coupling_refuses_other_layers():
    with pytest.raises(UserError, match="softclamp"):
        toy2d.toy_coupling(torch.zeros(1, 2), CondAffineCoupling(2, 0, 4, "sigmoid"))


def test_bent_coupling_draws_its_target_curves():
    layer = toy2d.bent_coupling().double()
    x1 = torch.linspace(-2.5, 2.5, 101, dtype=torch.float64)
    x = torch.stack([x1, torch.zeros_like(x1)], dim=1)
    y, logdet = toy2d.toy_coupling(x, layer)
    shift, log_scale = toy2d.bend_shift(x1), toy2d.bend_log_scale(x1)
    assert not layer.training
    torch.testing.assert_close(logdet.detach(), log_scale, atol=2e-2, rtol=0)
    torch.testing.assert_close(y[:, 1].detach(), shift * torch.exp(log_scale), atol=3e-2, rtol=0)
    torch.testing.assert_close(y[:, 0], x1)


def test_level_probs_and_entropy():
    probs = toy2d.level_probs(torch.arange(256).repeat(3))
    assert probs.shape == (256,) and abs(float(probs.sum()) - 1) < 1e-12
    assert toy2d.entropy_bits(probs) == pytest.approx(8.0)
    assert toy2d.entropy_bits(toy2d.level_probs(torch.full((10,), 7))) == 0.0
    with pytest.raises(UserError, match="0..255"):
        toy2d.level_probs(torch.tensor([256]))


def test_spike_log_prob_matches_a_mixture_and_grows_without_bound_on_raw_levels():
    probs = torch.zeros(256, dtype=torch.float64)
    probs[[10, 200]] = torch.tensor([0.25, 0.75], dtype=torch.float64)
    x = torch.tensor([[10 / 255, 200 / 255, 0.5]], dtype=torch.float64)
    sigma = 0.01
    expected = np.log(0.25 * norm.pdf(x.numpy(), 10 / 255, sigma) + 0.75 * norm.pdf(x.numpy(), 200 / 255, sigma))
    torch.testing.assert_close(toy2d.spike_log_prob(x, probs, sigma), torch.from_numpy(expected.sum(axis=1)))
    levels = x[:, :2]
    log_p = [float(toy2d.spike_log_prob(levels, probs, s)) for s in (1e-3, 1e-4, 1e-5)]
    assert log_p[0] < log_p[1] < log_p[2]
    assert log_p[2] - log_p[1] == pytest.approx(2 * math.log(10), rel=1e-6)  # -log sigma per value


def test_histogram_density_reaches_the_entropy_on_dequantised_data_and_integrates_to_one():
    codes = torch.randint(0, 256, (1, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    x = codes.double() / 255
    probs = toy2d.level_probs(codes)
    x_deq = dequantize(x, generator=torch.Generator().manual_seed(1))
    bpd = bits_per_dim(toy2d.histogram_log_prob(x_deq, probs), torch.zeros(1, dtype=torch.float64), x[0].numel())
    assert float(bpd) == pytest.approx(toy2d.entropy_bits(probs), abs=1e-9)
    # one value at a time: 256 * probs[k] on each cell of width 1/256, 0 in the gaps between cells
    n = 256 * 64
    grid = (torch.arange(n, dtype=torch.float64) + 0.5) / n * (1 + 1 / 256)  # midpoints over [0, 1 + 1/256)
    density = torch.exp(toy2d.histogram_log_prob(grid[:, None], probs))  # (n,): one value per sample
    assert float(density.sum()) * (1 + 1 / 256) / n == pytest.approx(1.0, abs=1e-2)
