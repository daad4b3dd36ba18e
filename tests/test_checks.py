"""The shared checks: autograd log-det on maps with known determinants, check_invertible catching broken
layers, perturb_parameters moving every parameter and initialising ActNorm."""

import math

import pytest
import torch
from torch import nn

from lolisr_lib.flow import ActNorm, ConditionalFlow, FlowStep, InvConv1x1
from lolisr_lib.flow.checks import autograd_logdet, check_invertible, perturb_parameters


class _Scale(nn.Module):
    """y = 2x with a configurable mistake, for testing the checker."""

    def __init__(self, mistake=None):
        super().__init__()
        self.mistake = mistake

    def forward(self, x, cond=None):
        logdet = torch.full((x.shape[0],), x[0].numel() * math.log(2), dtype=x.dtype)
        return 2 * x, (0 if self.mistake == "int logdet" else logdet)

    def inverse(self, y, cond=None):
        factor = 0.5001 if self.mistake == "inverse" else 0.5
        logdet = torch.full((y.shape[0],), y[0].numel() * math.log(2), dtype=y.dtype)
        return factor * y, (logdet if self.mistake == "sign" else -logdet)


def test_autograd_logdet_of_known_linear_maps():
    x = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(autograd_logdet(lambda t: 2 * t, x),
                               torch.full((3,), 18 * math.log(2), dtype=torch.float64))
    A = torch.randn(3, 3, dtype=torch.float64)
    expected = 6 * torch.linalg.slogdet(A).logabsdet  # A acts on the last dim of each of the 2*3 rows
    torch.testing.assert_close(autograd_logdet(lambda t: t @ A, x), expected.repeat(3))


def test_autograd_logdet_slices_the_condition_per_sample():
    x = torch.randn(2, 4, dtype=torch.float64)
    cond = torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(autograd_logdet(lambda t, c: t * torch.exp(c), x, cond), cond.sum(dim=1))
    conds = [cond, 2 * cond]  # a list of conditions, as the multi-scale flow takes
    torch.testing.assert_close(autograd_logdet(lambda t, c: t * torch.exp(c[0] + c[1]), x, conds),
                               3 * cond.sum(dim=1))


def test_autograd_logdet_rejects_maps_that_change_the_dimension():
    with pytest.raises(AssertionError, match="not dimension-preserving"):
        autograd_logdet(lambda t: t[:, :2], torch.randn(1, 3, dtype=torch.float64))


def test_check_invertible_passes_a_correct_layer_and_reports_errors():
    errors = check_invertible(_Scale(), torch.randn(2, 3, 4, 4, dtype=torch.float64))
    assert errors == {"max_abs_error": 0.0, "max_rel_error": 0.0, "max_logdet_error": 0.0}


@pytest.mark.parametrize("mistake, message", [
    ("inverse", "_Scale: round-trip error"),
    ("sign", "_Scale: log-dets disagree"),
    ("int logdet", "per-sample log-det tensor of shape"),
])
def test_check_invertible_catches_broken_layers(mistake, message):
    with pytest.raises(AssertionError, match=message):
        check_invertible(_Scale(mistake), torch.randn(2, 3, 4, 4, dtype=torch.float64))


class _Mixed(nn.Module):
    """Computes in float32 whatever it is given: its log-det does not follow a float64 input."""

    def __init__(self):
        super().__init__()
        self.inner = ActNorm(3)

    def forward(self, x, cond=None):
        y, logdet = self.inner(x.float())
        return y.double(), logdet

    def inverse(self, y, cond=None):
        x, logdet = self.inner.inverse(y.float())
        return x.double(), logdet


def test_check_invertible_catches_a_logdet_of_the_wrong_dtype():
    with pytest.raises(AssertionError, match="torch.float32"):
        check_invertible(_Mixed(), torch.randn(2, 3, 4, 4, dtype=torch.float64), atol=1.0)


def test_perturb_parameters_moves_every_parameter_and_initialises_actnorm():
    torch.manual_seed(0)
    step = FlowStep(4, 3, 6)
    before = {name: p.detach().clone() for name, p in step.named_parameters()}
    x = torch.randn(8, 4, 4, 4) * 3 + 1
    cond = torch.randn(8, 3, 4, 4)
    returned = perturb_parameters(step, 0.1, torch.Generator().manual_seed(0), x=x, cond=cond)
    assert returned is step and not step.training
    for name, p in step.named_parameters():
        assert not torch.equal(p, before[name]), f"{name} did not move"
    actnorm = step.layers[0]
    assert bool(actnorm.initialized)
    y, _ = actnorm(x)  # initialised on this batch: zero mean, unit variance per channel
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), correction=0), torch.ones(4), atol=1e-4, rtol=0)


def test_perturb_parameters_is_reproducible_and_net_scale_targets_only_convolutions():
    torch.manual_seed(0)
    first = ConditionalFlow(levels=1, steps=1, cond_channels=2, hidden=4)
    torch.manual_seed(0)
    second = ConditionalFlow(levels=1, steps=1, cond_channels=2, hidden=4)
    invconv_before = [m.lower.detach().clone() for m in second.modules() if isinstance(m, InvConv1x1)]
    perturb_parameters(first, 0.0, torch.Generator().manual_seed(5), net_scale=1.0)
    perturb_parameters(second, 0.0, torch.Generator().manual_seed(5), net_scale=1.0)
    for p, q in zip(first.parameters(), second.parameters()):
        assert torch.equal(p, q)
    for m, before in zip([m for m in second.modules() if isinstance(m, InvConv1x1)], invconv_before):
        assert torch.equal(m.lower, before)
    convs = [m for m in second.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.weight.abs().sum() > 0 for m in convs)  # the zero-initialised last convs moved too
    assert all(bool(m.initialized) for m in second.modules() if isinstance(m, ActNorm))
