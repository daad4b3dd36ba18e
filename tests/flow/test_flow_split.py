"""Split: partition round trip, its log-probability against scipy, sampling the factored half."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from lolisr_lib.errors import UserError
from lolisr_lib.flow import Split
from lolisr_lib.flow.checks import perturb_parameters

COND, HIDDEN = 3, 6


def _split(channels=4, perturb=True):
    torch.manual_seed(0)
    split = Split(channels, COND, HIDDEN).double()
    if perturb:
        perturb_parameters(split, 0.5, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, channels, 4, 4, generator=g, dtype=torch.float64)
    cond = torch.randn(2, COND, 4, 4, generator=g, dtype=torch.float64)
    return split, x, cond


@pytest.mark.parametrize("channels, kept", [(4, 2), (5, 3)])
def test_split_round_trip_shapes_and_log_prob_agree_both_ways(channels, kept):
    split, x, cond = _split(channels)
    kept_half, z, log_prob = split(x, cond)
    assert kept_half.shape == (2, kept, 4, 4) and z.shape == (2, channels - kept, 4, 4)
    assert torch.equal(kept_half, x[:, :kept]) and torch.equal(z, x[:, kept:])
    x_back, log_prob_back = split.inverse(kept_half, z, cond)
    assert torch.equal(x_back, x)
    assert log_prob.shape == (2,) and log_prob.dtype == x.dtype
    torch.testing.assert_close(log_prob_back, log_prob)


def test_split_log_prob_matches_scipy_under_the_learned_prior():
    split, x, cond = _split()
    kept, z, log_prob = split(x, cond)
    mean, log_sigma = split.prior(torch.cat([kept, cond], dim=1)).chunk(2, dim=1)  # the documented layout
    assert log_sigma.abs().max() > 1e-3  # perturbed: not the standard normal any more
    expected = norm.logpdf(z.numpy(), mean.detach().numpy(), np.exp(log_sigma.detach().numpy()))
    np.testing.assert_allclose(log_prob.detach().numpy(), expected.reshape(2, -1).sum(axis=1), rtol=1e-12)


def test_fresh_split_prior_is_standard_normal():
    split, x, cond = _split(perturb=False)
    _, z, log_prob = split(x, cond)
    np.testing.assert_allclose(log_prob.detach().numpy(), norm.logpdf(z.numpy()).reshape(2, -1).sum(axis=1),
                               rtol=1e-12)


def test_split_inverse_samples_missing_half_from_the_prior():
    split, x, cond = _split()
    kept = x[:, :2]
    mean, _ = split.prior(torch.cat([kept, cond], dim=1)).chunk(2, dim=1)
    x_mean, _ = split.inverse(kept, None, cond, temperature=0.0)
    torch.testing.assert_close(x_mean[:, 2:], mean.detach())
    first, _ = split.inverse(kept, None, cond, temperature=1.0, generator=torch.Generator().manual_seed(3))
    again, _ = split.inverse(kept, None, cond, temperature=1.0, generator=torch.Generator().manual_seed(3))
    other, _ = split.inverse(kept, None, cond, temperature=1.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(first[:, :2], kept)


def test_split_bad_inputs_raise_user_errors():
    split, x, cond = _split()
    with pytest.raises(UserError, match="cond"):
        split(x)
    with pytest.raises(UserError, match=r"\(2, 2, 4, 4\)"):
        split.inverse(x[:, :2], x[:, :1], cond)
