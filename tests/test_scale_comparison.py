"""Comparing the affine scale functions: the shared random bench, one measured trial, spread matching."""

import pytest
import torch

from lolisr_lib.errors import UserError
from lolisr_lib.flow import ActNorm
from lolisr_lib.lessons.scale_comparison import StabilityBench, match_spread, perturbed_flow, run_trial

TINY = StabilityBench(batch=4, size=8, levels=2, steps=1, cond_channels=4, hidden=8)


def test_perturbed_flow_shapes_eval_mode_and_untouched_global_rng():
    state = torch.random.get_rng_state()
    flow, x, cond, mean = perturbed_flow("softclamp", 0.3, TINY)
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG must be left alone"
    assert x.shape == (4, 3, 8, 8) and [tuple(c.shape) for c in cond] == flow.cond_shapes(4, 8, 8)
    assert tuple(mean.shape) == flow.latent_shape(4, 8, 8)
    assert not flow.training and all(bool(m.initialized) for m in flow.modules() if isinstance(m, ActNorm))


def test_both_scale_functions_share_the_rotations_data_and_conditions():
    soft, x_soft, cond_soft, _ = perturbed_flow("softclamp", 0.3, TINY)
    sig, x_sig, cond_sig, _ = perturbed_flow("sigmoid", 0.3, TINY)
    assert torch.equal(x_soft, x_sig) and all(torch.equal(a, b) for a, b in zip(cond_soft, cond_sig))
    rotations = [(a.lower, b.lower) for a, b in zip(soft.modules(), sig.modules()) if hasattr(a, "lower")]
    assert rotations and all(torch.equal(a, b) for a, b in rotations)


def test_unperturbed_softclamp_nets_give_zero_log_scales():
    trial = run_trial("softclamp", 0.0, TINY)
    assert trial.spread == {"std": 0.0, "min": 0.0, "max": 0.0}
    assert trial.blowup["nonfinite"] == 0.0 and set(trial.blowup) == {"max_abs", "nonfinite", "blown_up"}


def test_run_trial_is_reproducible():
    assert run_trial("sigmoid", 0.5, TINY) == run_trial("sigmoid", 0.5, TINY)


def test_match_spread_reaches_the_target_spread():
    target = run_trial("softclamp", 0.3, TINY).spread["std"]
    net_scale = match_spread("sigmoid", target, TINY, low=0.1, high=8.0, rtol=0.05)
    assert abs(run_trial("sigmoid", net_scale, TINY).spread["std"] / target - 1) <= 0.05
    assert net_scale > 0.3, "the sigmoid's flat slope at 0 needs a larger perturbation for the same spread"


@pytest.mark.parametrize("low, high, target", [(0.5, 0.1, 0.3), (0.1, 1.0, 100.0)])
def test_match_spread_rejects_a_range_that_cannot_bracket(low, high, target):
    with pytest.raises(UserError, match="low"):
        match_spread("softclamp", target, TINY, low=low, high=high)
