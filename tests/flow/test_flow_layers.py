"""Every invertible layer and step: round trip, log-det against autograd, interface; layer-specific facts."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lolisr_lib.errors import ConfigError, UserError
from lolisr_lib.flow import (
    ActNorm,
    AffineInjector,
    CondAffineCoupling,
    FlowStep,
    InvConv1x1,
    Squeeze,
    UnconditionalStep,
    log_scale_function,
    squeeze,
    unsqueeze,
)
from lolisr_lib.flow.checks import autograd_logdet, check_invertible, perturb_parameters

B, H, W = 2, 4, 4  # tiny: D = C * 16 values per sample, so the autograd Jacobian is at most 80 x 80
COND, HIDDEN = 3, 6

# name -> (factory(channels, scale_fn), channels, takes a condition)
LAYERS = {
    "ActNorm": (lambda c, sf: ActNorm(c), 4, False),
    "InvConv1x1": (lambda c, sf: InvConv1x1(c), 4, False),
    "Squeeze": (lambda c, sf: Squeeze(), 4, False),
    "UnconditionalStep": (lambda c, sf: UnconditionalStep(c), 4, False),
    "AffineInjector": (lambda c, sf: AffineInjector(c, COND, HIDDEN, sf), 4, True),
    "CondAffineCoupling": (lambda c, sf: CondAffineCoupling(c, COND, HIDDEN, sf), 4, True),
    "CondAffineCoupling-odd": (lambda c, sf: CondAffineCoupling(c, COND, HIDDEN, sf), 5, True),
    "FlowStep": (lambda c, sf: FlowStep(c, COND, HIDDEN, sf), 4, True),
}
# unconditional layers have no scale function: test them once
CASES = [(name, sf) for name, (_, _, conditional) in LAYERS.items()
         for sf in (("softclamp", "sigmoid") if conditional else ("softclamp",))]
IDS = [f"{name}-{sf}" for name, sf in CASES]


def _setup(name: str, scale_fn: str, dtype=torch.float64):
    """A perturbed layer in eval mode (ActNorm initialised on a batch), an input and its condition."""
    factory, channels, conditional = LAYERS[name]
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    layer = factory(channels, scale_fn).to(dtype)
    x = torch.randn(B, channels, H, W, generator=g, dtype=dtype)
    cond = torch.randn(B, COND, H, W, generator=g, dtype=dtype) if conditional else None
    perturb_parameters(layer, 0.5, g, x=x, cond=cond)
    return layer, x, cond


@pytest.mark.parametrize("name, scale_fn", CASES, ids=IDS)
def test_round_trip_float64_and_inverse_logdet_is_negative(name, scale_fn):
    layer, x, cond = _setup(name, scale_fn)
    errors = check_invertible(layer, x, cond, atol=1e-10)
    assert errors["max_abs_error"] <= 1e-10
    assert errors["max_logdet_error"] <= 1e-10


@pytest.mark.parametrize("name, scale_fn", CASES, ids=IDS)
def test_logdet_matches_autograd_jacobian_both_directions(name, scale_fn):
    layer, x, cond = _setup(name, scale_fn)
    with torch.no_grad():
        y, logdet = layer(x, cond)
        _, logdet_inverse = layer.inverse(y, cond)
    if cond is None:
        expected = autograd_logdet(lambda t: layer(t)[0], x)
        expected_inverse = autograd_logdet(lambda t: layer.inverse(t)[0], y)
    else:
        expected = autograd_logdet(lambda t, c: layer(t, c)[0], x, cond)
        expected_inverse = autograd_logdet(lambda t, c: layer.inverse(t, c)[0], y, cond)
    torch.testing.assert_close(logdet, expected, atol=1e-8, rtol=0)
    torch.testing.assert_close(logdet_inverse, expected_inverse, atol=1e-8, rtol=0)
    if name != "Squeeze":  # the perturbation made the layer a non-trivial map
        assert logdet.abs().max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name, scale_fn", CASES, ids=IDS)
def test_interface_shapes_dtypes_and_arity(name, scale_fn, dtype):
    layer, x, cond = _setup(name, scale_fn, dtype)
    out = layer(x, cond)
    back = layer.inverse(out[0], cond)
    assert len(out) == 2 and len(back) == 2
    (y, logdet), (x_back, logdet_inverse) = out, back
    expected_shape = (B, 4 * x.shape[1], H // 2, W // 2) if name == "Squeeze" else x.shape
    assert y.shape == expected_shape and x_back.shape == x.shape
    for ld in (logdet, logdet_inverse):
        assert isinstance(ld, torch.Tensor) and ld.shape == (B,)
        assert ld.dtype == dtype and ld.device == x.device
    assert y.dtype == dtype


@pytest.mark.parametrize("name", [n for n, (_, _, conditional) in LAYERS.items() if not conditional])
def test_unconditional_layers_accept_and_ignore_cond(name):
    layer, x, _ = _setup(name, "softclamp")
    y_none, ld_none = layer(x)
    y_cond, ld_cond = layer(x, torch.randn(B, COND, H, W, dtype=x.dtype))
    assert torch.equal(y_none, y_cond) and torch.equal(ld_none, ld_cond)


@pytest.mark.parametrize("name", [n for n, (_, _, conditional) in LAYERS.items() if conditional])
def test_conditional_layers_without_cond_raise_user_error(name):
    layer, x, _ = _setup(name, "softclamp")
    with pytest.raises(UserError, match="cond"):
        layer(x)


# ----------------------------------------------------------------------------------------------- ActNorm
def test_actnorm_first_training_batch_gives_zero_mean_unit_variance():
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64) * torch.tensor([0.5, 2.0, 7.0]).view(1, 3, 1, 1) + 3.0
    layer = ActNorm(3).double().train()
    assert not layer.initialized
    y, logdet = layer(x)
    assert bool(layer.initialized)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), correction=0), torch.ones(3, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    # logdet = H * W * sum(s) with s = -log(std)
    expected = -64 * torch.log(x.std(dim=(0, 2, 3), correction=0) + 1e-6).sum()
    torch.testing.assert_close(logdet, expected.repeat(4))


def test_actnorm_uninitialised_is_identity_in_eval_mode_and_in_the_inverse():
    x = torch.randn(2, 3, 4, 4) * 5 + 1
    layer = ActNorm(3).eval()
    y, logdet = layer(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(2))
    layer.train()
    x_back, _ = layer.inverse(x)  # the inverse never initialises: the statistics are of data, not latents
    assert torch.equal(x_back, x) and not layer.initialized


def test_actnorm_initialised_flag_survives_state_dict_round_trip():
    first = ActNorm(3).train()
    first(torch.randn(4, 3, 4, 4) * 3)
    state = first.state_dict()
    assert "initialized" in state and bool(state["initialized"])
    second = ActNorm(3)
    second.load_state_dict(state)
    second.train()
    second(torch.randn(4, 3, 4, 4) + 10)  # a different batch must not re-initialise a loaded layer
    torch.testing.assert_close(second.bias, first.bias)
    torch.testing.assert_close(second.log_scale, first.log_scale)


def test_actnorm_loading_an_uninitialised_state_reenables_initialisation():
    layer = ActNorm(3).train()
    layer(torch.randn(4, 3, 4, 4))
    layer.load_state_dict(ActNorm(3).state_dict())
    x = torch.randn(4, 3, 4, 4) * 4 + 2
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------- InvConv1x1
def test_invconv_starts_as_a_rotation():
    layer = InvConv1x1(6)
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64)
    layer = layer.double()
    y, logdet = layer(x)
    torch.testing.assert_close(y.norm(dim=1), x.norm(dim=1))  # per pixel, a rotation keeps the norm
    # the rotation was drawn in float32: |det| = 1 up to float32 rounding
    torch.testing.assert_close(logdet, torch.zeros(2, dtype=torch.float64), atol=1e-5, rtol=0)


def test_invconv_gradients_reach_the_weights_in_eval_mode():
    layer = InvConv1x1(4).eval()
    y, logdet = layer(torch.randn(1, 4, 2, 2))
    (y.sum() + logdet.sum()).backward()
    assert layer.log_s.grad is not None and layer.log_s.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------- Squeeze
@settings(max_examples=20, deadline=None)
@given(b=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3))
def test_squeeze_layout_on_arange(b, c, h, w):
    x = torch.arange(b * c * 2 * h * 2 * w, dtype=torch.float32).view(b, c, 2 * h, 2 * w)
    y = squeeze(x)
    assert y.shape == (b, 4 * c, h, w)
    for ch in range(c):
        for dy in range(2):
            for dx in range(2):
                assert torch.equal(y[:, 4 * ch + 2 * dy + dx], x[:, ch, dy::2, dx::2])
    assert torch.equal(y, F.pixel_unshuffle(x, 2))
    assert torch.equal(unsqueeze(y), x)


def test_squeeze_twice_composes_single_squeezes():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    y = squeeze(x, times=2)
    assert torch.equal(y, squeeze(squeeze(x)))
    assert not torch.equal(y, F.pixel_unshuffle(x, 4))  # a different order from one big unshuffle
    assert torch.equal(unsqueeze(y, times=2), x)


@pytest.mark.parametrize("shape", [(1, 3, 5, 4), (1, 3, 4, 7)])
def test_squeeze_odd_size_raises_user_error_naming_the_size(shape):
    with pytest.raises(UserError, match=f"{shape[2]}x{shape[3]}"):
        Squeeze()(torch.zeros(shape))


# ------------------------------------------------------------------------------------ scale functions
def test_scale_functions_at_zero_and_their_bounds():
    raw = torch.tensor([-1e6, -10.0, 0.0, 10.0, 1e6], dtype=torch.float64)
    soft = log_scale_function("softclamp")(raw)
    sig = log_scale_function("sigmoid")(raw)
    assert soft[2] == 0 and soft.abs().max() <= 2.0 and soft[-1] == 2.0 and soft[0] == -2.0
    assert math.isclose(sig[2], math.log(1 / (1 + math.exp(-2)) + 1e-4), rel_tol=1e-12)  # scale ~ 0.881
    assert sig.max() <= math.log(1.0001) and math.isclose(sig[0], math.log(1e-4), rel_tol=1e-9)


def test_unknown_scale_function_is_a_config_error_listing_the_choices():
    with pytest.raises(ConfigError, match="softclamp"):
        AffineInjector(4, COND, HIDDEN, scale_fn="exp")


@pytest.mark.parametrize("scale_fn, expected_scale",
                         [("softclamp", 1.0), ("sigmoid", 1 / (1 + math.exp(-2)) + 1e-4)])
def test_fresh_affine_layers_start_at_shift_zero_and_scale_at_raw_zero(scale_fn, expected_scale):
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    cond = torch.randn(2, COND, 3, 3, dtype=torch.float64)
    injector = AffineInjector(4, COND, HIDDEN, scale_fn).double()
    coupling = CondAffineCoupling(4, COND, HIDDEN, scale_fn).double()
    y, logdet = injector(x, cond)
    torch.testing.assert_close(y, x * expected_scale)
    torch.testing.assert_close(logdet, torch.full((2,), 4 * 9 * math.log(expected_scale), dtype=torch.float64))
    y, _ = coupling(x, cond)
    assert torch.equal(y[:, :2], x[:, :2])  # x1 passes unchanged
    torch.testing.assert_close(y[:, 2:], x[:, 2:] * expected_scale)


@pytest.mark.parametrize("scale_fn, max_inverse_log_gain", [("softclamp", 2.0), ("sigmoid", -math.log(1e-4))])
def test_inverse_gain_per_value_is_bounded_by_the_scale_function(scale_fn, max_inverse_log_gain):
    """Drive the raw scale to -1e3: softclamp's inverse grows each value by at most e^2, sigmoid's by 1e4."""
    coupling = CondAffineCoupling(4, COND, HIDDEN, scale_fn).double()
    with torch.no_grad():
        coupling.net[-1].bias[2:].fill_(-1e3)  # the second half of the last conv's outputs is the raw scale
    y = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    x, logdet_inverse = coupling.inverse(y, torch.randn(2, COND, 3, 3, dtype=torch.float64))
    per_value = logdet_inverse / (2 * 9)  # 2 transformed channels x 9 pixels
    torch.testing.assert_close(per_value, torch.full((2,), max_inverse_log_gain, dtype=torch.float64),
                               atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(x[:, 2:], y[:, 2:] * math.exp(max_inverse_log_gain), atol=1e-6, rtol=1e-6)
