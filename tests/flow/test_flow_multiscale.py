"""The whole multi-scale ConditionalFlow: round trip, log-det against autograd, shapes, errors, the identity
flow's NLL, float32 accuracy at paper size, and the stability of the inverse from random latents."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from lolisr_lib.errors import ConfigError, UserError
from lolisr_lib.flow import (
    ConditionalFlow,
    gaussian_log_prob,
    inverse_blowup,
    log_scale_spread,
    nll_bits_per_pixel,
    squeeze,
)
from lolisr_lib.flow.checks import autograd_logdet, check_invertible, perturb_parameters

CONFIGS = [(split, sf) for split in (False, True) for sf in ("softclamp", "sigmoid")]
CONFIG_IDS = [f"{'split' if split else 'nosplit'}-{sf}" for split, sf in CONFIGS]


def _conds(flow, B, H, W, generator, dtype=torch.float64):
    return [torch.randn(shape, generator=generator, dtype=dtype) for shape in flow.cond_shapes(B, H, W)]


def _tiny(split, scale_fn, dtype=torch.float64, size=8):
    """L=2, K=1, hidden 8 on an 8x8 image: 192 values per sample; perturbed, ActNorm initialised, eval."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    flow = ConditionalFlow(3, levels=2, steps=1, cond_channels=[4, 5], hidden=8, split=split,
                           scale_fn=scale_fn).to(dtype)
    x = torch.rand(2, 3, size, size, generator=g, dtype=dtype)
    cond = _conds(flow, 2, size, size, g, dtype)
    perturb_parameters(flow, 0.2, g, x=x, cond=cond)
    return flow, x, cond


def _all_latents(flow):
    """x -> every latent, flattened and concatenated: the bijection whose Jacobian the log-det is."""
    return lambda x, c: torch.cat([z.flatten(1) for z in flow(x, c)[0]], dim=1)


@pytest.mark.parametrize("split, scale_fn", CONFIGS, ids=CONFIG_IDS)
def test_flow_round_trip_float64(split, scale_fn):
    flow, x, cond = _tiny(split, scale_fn)
    errors = check_invertible(flow, x, cond, atol=1e-10)
    assert errors["max_abs_error"] <= 1e-10 and errors["max_logdet_error"] <= 1e-10


@pytest.mark.parametrize("split, scale_fn", CONFIGS, ids=CONFIG_IDS)
def test_flow_logdet_matches_autograd_jacobian(split, scale_fn):
    flow, x, cond = _tiny(split, scale_fn)
    with torch.no_grad():
        _, logdet, _ = flow(x, cond)
    expected = autograd_logdet(_all_latents(flow), x, cond)
    torch.testing.assert_close(logdet, expected, atol=1e-8, rtol=0)
    assert logdet.abs().min() > 1.0  # a non-trivial map


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("split", [False, True])
def test_flow_interface(split, dtype):
    flow, x, cond = _tiny(split, "softclamp", dtype)
    latents, logdet, split_log_prob = flow(x, cond)
    assert [tuple(z.shape) for z in latents] == flow.latent_shapes(2, 8, 8)
    for value in (logdet, split_log_prob):
        assert value.shape == (2,) and value.dtype == dtype and value.device == x.device
    if split:
        assert split_log_prob.abs().min() > 0
    else:
        assert torch.equal(split_log_prob, torch.zeros(2, dtype=dtype))
    back = flow.inverse(latents, cond)
    assert len(back) == 2 and back[0].shape == x.shape and back[1].shape == (2,) and back[1].dtype == dtype


@pytest.mark.parametrize("split, expected", [
    (False, [(2, 192, 20, 20)]),
    (True, [(2, 6, 80, 80), (2, 12, 40, 40), (2, 48, 20, 20)]),
])
def test_paper_level_shapes(split, expected):
    flow = ConditionalFlow(steps=1, hidden=4, cond_channels=8, split=split)
    assert flow.latent_shapes(2, 160, 160) == expected
    assert flow.latent_shape(2, 160, 160) == expected[-1]
    assert flow.cond_shapes(2, 160, 160) == [(2, 8, 80, 80), (2, 8, 40, 40), (2, 8, 20, 20)]
    x = torch.rand(1, 3, 16, 16)
    latents, _, _ = flow(x, [torch.randn(s) for s in flow.cond_shapes(1, 16, 16)])
    assert [tuple(z.shape) for z in latents] == flow.latent_shapes(1, 16, 16)


def test_flow_size_and_condition_errors_name_the_expected_shapes():
    flow = ConditionalFlow(levels=3, steps=1, cond_channels=[4, 5, 6], hidden=4)
    conds = [torch.randn(s) for s in flow.cond_shapes(1, 16, 16)]
    with pytest.raises(UserError, match=r"12x16.*2\*\*levels = 8"):
        flow(torch.rand(1, 3, 12, 16), conds)
    with pytest.raises(UserError, match=r"3 tensors.*\(1, 4, 8, 8\), \(1, 5, 4, 4\), \(1, 6, 2, 2\)"):
        flow(torch.rand(1, 3, 16, 16), conds[:2])
    with pytest.raises(UserError, match=r"\(1, 5, 4, 4\)"):
        flow(torch.rand(1, 3, 16, 16), [conds[0], torch.randn(1, 5, 8, 8), conds[2]])
    with pytest.raises(UserError, match=r"\(B, 3, H, W\)"):
        flow(torch.rand(1, 4, 16, 16), conds)
    with pytest.raises(UserError, match="final latent"):
        flow.inverse(torch.randn(1, 48, 2, 2), conds)
    with pytest.raises(UserError, match="final latent"):
        flow.inverse(torch.randn(192), conds)
    with pytest.raises(ConfigError, match="one int per level"):
        ConditionalFlow(levels=3, cond_channels=[4, 5])


def test_split_flow_inverse_draws_missing_halves_from_the_priors():
    flow, x, cond = _tiny(True, "softclamp")
    with torch.no_grad():
        latents, _, _ = flow(x, cond)
        from_list, _ = flow.inverse(latents, cond)
        final_only, _ = flow.inverse(latents[-1], cond)  # factored halves at their prior means
        with_nones, _ = flow.inverse([None, latents[-1]], cond)
        sampled, _ = flow.inverse(latents[-1], cond, temperature=1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(from_list, x, atol=1e-10, rtol=0)
    assert torch.equal(final_only, with_nones)
    assert not torch.allclose(final_only, x) and not torch.allclose(sampled, final_only)
    with pytest.raises(UserError, match="list of 2"):
        flow.inverse([latents[0], latents[0], latents[-1]], cond)


@pytest.fixture
def float64_default():
    """Build modules in float64, so that the random rotations are orthogonal to float64 precision."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def test_identity_flow_nll_equals_the_analytic_gaussian_value(float64_default):
    """At initialisation (softclamp, eval) the flow is a rotation: NLL of z equals NLL of x under N(0, I)."""
    torch.manual_seed(0)
    flow = ConditionalFlow(levels=2, steps=2, cond_channels=4, hidden=8).eval()
    x = torch.rand(2, 3, 8, 8)
    latents, logdet, _ = flow(x, [torch.randn(s) for s in flow.cond_shapes(2, 8, 8)])
    log_prob = gaussian_log_prob(latents[-1])
    analytic = norm.logpdf(x.numpy()).reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(logdet.detach().numpy(), 0.0, atol=1e-10)
    np.testing.assert_allclose(log_prob.detach().numpy(), analytic, rtol=1e-10)
    np.testing.assert_allclose(nll_bits_per_pixel(log_prob, logdet, 8, 8).detach().numpy(),
                               -analytic / (math.log(2) * 64), rtol=1e-10)


@pytest.mark.slow
def test_paper_size_float32_round_trip_relative_error_below_1e_4():
    """L=3, K=12, hidden 64, cond 128, 160x160, batch 2: nets perturbed like a fresh convolution (log-scales
    spread ~0.3), everything else slightly, ActNorm initialised on the batch."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    flow = ConditionalFlow()
    x = torch.rand(2, 3, 160, 160, generator=g)
    cond = _conds(flow, 2, 160, 160, g, torch.float32)
    perturb_parameters(flow, 0.03, g, net_scale=0.3, x=x, cond=cond)
    errors = check_invertible(flow, x, cond, atol=0.0, rtol=1e-4)
    print(f"paper-size float32 round trip: {errors}")
    assert errors["max_rel_error"] <= 1e-4


def _stability_setup(scale_fn, net_scale, B=100, size=32):
    """L=3, K=4 on 32x32, 100 random images and conditions; nets perturbed by ``net_scale``."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    flow = ConditionalFlow(levels=3, steps=4, cond_channels=16, hidden=32, scale_fn=scale_fn)
    x = torch.rand(B, 3, size, size, generator=g)
    cond = _conds(flow, B, size, size, g, torch.float32)
    perturb_parameters(flow, 0.05, g, net_scale=net_scale, x=x, cond=cond)
    mean = squeeze(x / (x.sum(dim=1, keepdim=True) + 1e-4), times=3)  # a CR-map prior mean, (B, 192, 4, 4)
    return flow, x, cond, mean, g


@pytest.mark.slow
def test_softclamp_inverse_from_random_latents_stays_finite():
    """Softclamp nets perturbed to log-scales of spread ~0.3 on the data (a realistic, non-identity flow that
    maps data to latents of about unit variance): 100 latents mean + N(0, 1) invert to finite images.
    For comparison, the sigmoid flow at the same log-scale spread (its slope at raw = 0 is ~0.12, so its
    nets need ~3x the weights) is measured and printed."""
    flow, x, cond, mean, g = _stability_setup("softclamp", 0.3)
    spread = log_scale_spread(flow, x, cond)
    result = inverse_blowup(flow, cond, mean, temperature=1.0, generator=g)
    assert 0.1 < spread["std"] < 1.0
    assert result["nonfinite"] == 0.0 and result["max_abs"] < 1e3
    sig_flow, sig_x, sig_cond, sig_mean, sig_g = _stability_setup("sigmoid", 1.0)
    sig_spread = log_scale_spread(sig_flow, sig_x, sig_cond)
    sig_result = inverse_blowup(sig_flow, sig_cond, sig_mean, temperature=1.0, generator=sig_g)
    print(f"softclamp: log-scale {spread}, inverse {result}")
    print(f"sigmoid:   log-scale {sig_spread}, inverse {sig_result}")
