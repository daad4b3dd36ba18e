"""Gaussian log-densities against scipy, the two NLL normalisations and their relation, dequantisation."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from lolisr_lib.flow import bits_per_dim, dequantize, gaussian_log_prob, nll_bits_per_pixel, sample_gaussian


def test_gaussian_log_prob_matches_scipy_with_mean_and_log_sigma():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64)
    mean = torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64)
    log_sigma = 0.5 * torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64)
    log_prob = gaussian_log_prob(z, mean, log_sigma)
    expected = norm.logpdf(z.numpy(), mean.numpy(), np.exp(log_sigma.numpy())).reshape(3, -1).sum(axis=1)
    assert log_prob.shape == (3,)
    np.testing.assert_allclose(log_prob.numpy(), expected, rtol=1e-12)


def test_gaussian_log_prob_broadcasts_scalar_mean_and_defaults_to_unit_variance():
    z = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    expected = norm.logpdf(z.numpy(), 0.5, 1.0).reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(gaussian_log_prob(z, 0.5).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(gaussian_log_prob(z, torch.tensor(0.5, dtype=torch.float64), 0.0).numpy(),
                               expected, rtol=1e-12)


def test_bits_per_pixel_and_bits_per_dim_formulas_and_relation():
    log_prob = torch.tensor([-1000.0, 250.0], dtype=torch.float64)
    logdet = torch.tensor([300.0, -50.0], dtype=torch.float64)
    H, W = 8, 6
    D = 3 * H * W
    bpp = nll_bits_per_pixel(log_prob, logdet, H, W)
    bpd = bits_per_dim(log_prob, logdet, D)
    torch.testing.assert_close(bpp, -(log_prob + logdet) / (math.log(2) * H * W))
    torch.testing.assert_close(bpd, (-(log_prob + logdet) + D * math.log(256)) / (D * math.log(2)))
    torch.testing.assert_close(bpd, bpp / 3 + 8)  # the relation stated in the module docstring


def test_uniform_density_on_the_unit_cube_costs_exactly_eight_bits_per_dim():
    zero = torch.zeros(1, dtype=torch.float64)  # log p = 0: the uniform density on [0, 1]^D
    bpd = bits_per_dim(zero, zero, num_dims=3 * 16 * 16)
    torch.testing.assert_close(bpd, torch.full((1,), 8.0, dtype=torch.float64))


def test_dequantize_adds_uniform_noise_inside_one_bin_reproducibly():
    x = torch.randint(0, 256, (4, 3, 32, 32)).double() / 255
    y = dequantize(x, generator=torch.Generator().manual_seed(0))
    noise = y - x
    assert noise.min() >= 0 and noise.max() < 1 / 256
    assert abs(noise.mean().item() - 1 / 512) < 1e-4  # mean of U(0, 1/256)
    assert torch.equal(y, dequantize(x, generator=torch.Generator().manual_seed(0)))


def test_sample_gaussian_temperature_zero_is_the_mean_and_draws_nothing():
    mean = torch.randn(2, 3, 4, 4)
    state = torch.get_rng_state()
    assert sample_gaussian(mean, 0.0) is mean
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_sample_gaussian_spread_scales_with_temperature_and_sigma(temperature):
    mean = torch.full((1, 4, 64, 64), 3.0, dtype=torch.float64)
    log_sigma = torch.full_like(mean, math.log(2.0))
    z = sample_gaussian(mean, temperature, torch.Generator().manual_seed(1), log_sigma)
    assert abs(z.mean().item() - 3.0) < 0.05
    assert abs(z.std().item() - 2.0 * temperature) < 0.05
