"""Encoder input features: channel counts per switch, each view equal to its colour function, no NaN."""

import itertools
import math

import pytest
import torch

from lolisr_lib.encoder import EncoderFeatures, encoder_features, feature_channels
from lolisr_lib.errors import ConfigError, UserError
from lolisr_lib.image.color import cr_map, equalize_hist, noise_map

NAMES = ("use_log", "use_he", "use_cr", "use_noise")
SWITCHES = [dict(zip(NAMES, combo)) for combo in itertools.product((True, False), repeat=4)]
SOME_ON = [s for s in SWITCHES if any(s.values())]


def _expected_views(lq):
    """The four views computed straight from the colour functions, keyed by switch name."""
    cr = cr_map(lq)
    return {
        "use_log": torch.log(lq.clamp(min=1e-3)),
        "use_he": equalize_hist(lq),
        "use_cr": cr,
        "use_noise": noise_map(cr),
    }


@pytest.mark.parametrize("switches", SOME_ON, ids=lambda s: "-".join(n[4:] for n, on in s.items() if on))
def test_features_have_three_channels_per_view_in_order(switches):
    lq = torch.rand(2, 3, 8, 16)
    features = encoder_features(lq, **switches)
    n_on = sum(switches.values())
    assert feature_channels(**switches) == 3 * n_on
    assert features.shape == (2, 3 * n_on, 8, 16)
    views = _expected_views(lq)
    expected = torch.cat([views[name] for name in NAMES if switches[name]], dim=1)
    torch.testing.assert_close(features, expected)


def test_all_features_off_is_a_config_error():
    off = dict.fromkeys(NAMES, False)
    with pytest.raises(ConfigError, match="use_log"):
        feature_channels(**off)
    with pytest.raises(ConfigError):
        encoder_features(torch.rand(1, 3, 8, 8), **off)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_black_and_white_inputs_give_finite_features(value):
    lq = torch.full((1, 3, 8, 8), value)
    features = encoder_features(lq)
    assert torch.isfinite(features).all()
    # black: log sits at the floor, CR and noise at zero; white: log 0 and CR 1/3 everywhere
    log, _, cr, noise = features.chunk(4, dim=1)
    torch.testing.assert_close(log, torch.full_like(log, math.log(1e-3) if value == 0 else 0.0))
    torch.testing.assert_close(cr, torch.full_like(cr, 0.0 if value == 0 else 1 / (3 + 1e-4)))
    assert noise.abs().max() == 0


def test_histogram_equalisation_view_carries_no_gradient_but_the_others_do():
    lq = torch.rand(1, 3, 8, 8, requires_grad=True)
    he_only = encoder_features(lq, use_log=False, use_cr=False, use_noise=False)
    assert not he_only.requires_grad
    encoder_features(lq).sum().backward()
    assert lq.grad is not None and lq.grad.abs().sum() > 0


def test_module_matches_function_and_reports_channels():
    module = EncoderFeatures(use_he=False, use_noise=False)
    lq = torch.rand(1, 3, 8, 8)
    assert module.channels == 6
    torch.testing.assert_close(module(lq), encoder_features(lq, use_he=False, use_noise=False))


@pytest.mark.parametrize("shape", [(1, 1, 8, 8), (3, 8, 8), (1, 4, 8, 8)])
def test_wrong_input_shape_is_a_user_error(shape):
    with pytest.raises(UserError, match="lq"):
        encoder_features(torch.rand(shape))
