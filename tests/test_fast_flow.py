"""The fast forms of runtime/fast_flow.py compute what the plain layers compute: forward, inverse, log-det, gradients."""

import copy

import pytest
import torch

from lolisr_lib.bench.modes import bench_model
from lolisr_lib.config import preset
from lolisr_lib.flow import ActNorm, AffineInjector, CondAffineCoupling, FlowStep, InvConv1x1, InvertibleLayer
from lolisr_lib.flow.checks import perturb_parameters
from lolisr_lib.runtime import fast_flow, fastpath

TOLERANCE = {torch.float64: {"atol": 1e-12, "rtol": 1e-12}, torch.float32: {"atol": 1e-6, "rtol": 1e-5}}
DTYPES = [torch.float64, torch.float32]
COND, HIDDEN = 3, 8

# name -> (factory, channels, takes a condition)
LAYERS = {
    "ActNorm": (lambda c: ActNorm(c), 4, False),
    "InvConv1x1": (lambda c: InvConv1x1(c), 6, False),
    "AffineInjector": (lambda c: AffineInjector(c, COND, HIDDEN), 4, True),
    "CondAffineCoupling": (lambda c: CondAffineCoupling(c, COND, HIDDEN), 5, True),
    "FlowStep": (lambda c: FlowStep(c, COND, HIDDEN), 4, True),
}


def _plain_and_fast(name: str, dtype, seed: int = 0):
    """A perturbed, initialised layer in eval mode, its fast copy, an input and its condition."""
    factory, channels, conditional = LAYERS[name]
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    plain = factory(channels).to(dtype).eval()
    x = torch.randn(3, channels, 6, 6, generator=g, dtype=dtype)
    cond = torch.randn(3, COND, 6, 6, generator=g, dtype=dtype) if conditional else None
    perturb_parameters(plain, 0.5, g, x=x, cond=cond)
    fast = copy.deepcopy(plain)
    assert fastpath.use_fast_flow(fast) == sum(isinstance(m, InvertibleLayer) for m in fast.modules())
    return plain, fast, x, cond


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_forward_inverse_and_logdet_agree_at_inference(name, dtype):
    plain, fast, x, cond = _plain_and_fast(name, dtype)
    with torch.no_grad():  # where the in-place maths and the weight cache apply
        for _ in range(2):  # the second call reads what the first cached
            y, logdet = plain(x, cond)
            y_fast, logdet_fast = fast(x, cond)
            torch.testing.assert_close(y_fast, y, **TOLERANCE[dtype])
            torch.testing.assert_close(logdet_fast, logdet, **TOLERANCE[dtype])
            x_back, logdet_back = plain.inverse(y, cond)
            x_back_fast, logdet_back_fast = fast.inverse(y, cond)
            torch.testing.assert_close(x_back_fast, x_back, **TOLERANCE[dtype])
            torch.testing.assert_close(logdet_back_fast, logdet_back, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradients_agree(name, dtype, mode):
    plain, fast, x, cond = _plain_and_fast(name, dtype)
    grads = []
    for layer in (plain, fast):
        layer.train(mode == "train")
        x_in = x.clone().requires_grad_()
        y, logdet = layer(x_in, cond)
        x_back, logdet_back = layer.inverse(y, cond)
        (y.square().sum() + logdet.sum() + x_back.sin().sum() + logdet_back.square().sum()).backward()
        grads.append([x_in.grad] + [p.grad for p in layer.parameters()])
    for g_fast, g_plain in zip(grads[1], grads[0]):
        torch.testing.assert_close(g_fast, g_plain, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", range(3))
def test_in_place_affine_maths_matches_the_formula(dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x, shift, log_scale = (torch.randn(2, 5, 7, 7, generator=g, dtype=dtype) for _ in range(3))
    with torch.no_grad():
        torch.testing.assert_close(fast_flow.affine(x, shift, log_scale), (x + shift) * torch.exp(log_scale),
                                   **TOLERANCE[dtype])
        torch.testing.assert_close(fast_flow.affine_inverse(x, shift, log_scale),
                                   x * torch.exp(-log_scale) - shift, **TOLERANCE[dtype])
    # a float32 log-scale on float64 data: the in-place result would be float32, so the formula is used
    low = log_scale.float()
    assert fast_flow.affine(x.double(), shift.double(), low).dtype == torch.float64


def test_weight_cache_follows_parameter_changes_state_dicts_and_training():
    plain, fast, x, _ = _plain_and_fast("InvConv1x1", torch.float32)
    with torch.no_grad():
        fast(x)
        fast.inverse(x)
        assert sorted(fast._cache) == ["inverse_matrix", "matrix"]
        for layer in (plain, fast):  # an in-place update, as an optimiser step makes
            layer.log_s.add_(0.3)
            layer.lower.add_(0.1)
        torch.testing.assert_close(fast(x)[0], plain(x)[0])
        torch.testing.assert_close(fast.inverse(x)[0], plain.inverse(x)[0])
        state = InvConv1x1(6).state_dict()  # another random rotation
        plain.load_state_dict(state)
        fast.load_state_dict(state)
        torch.testing.assert_close(fast(x)[0], plain(x)[0])
        torch.testing.assert_close(fast.inverse(x)[0], plain.inverse(x)[0])
        fast.train()
        fast(x)
    assert len(fast._cache) == 0  # a training-mode call drops the cache


def test_fast_actnorm_initialises_like_the_plain_one_and_remembers_it():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64) * 3 + 1
    plain = ActNorm(3).double().train()
    fast = copy.deepcopy(plain)
    fastpath.use_fast_flow(fast)
    y, logdet = plain(x)
    y_fast, logdet_fast = fast(x)
    torch.testing.assert_close(y_fast, y)
    torch.testing.assert_close(logdet_fast, logdet)
    assert bool(fast.initialized)
    fast(x * 2)  # reads the buffer once more (now true) and remembers it
    fast.initialized.fill_(False)  # behind its back: the remembered flag is what it reads now
    before = fast.bias.detach().clone()
    fast(x + 5)
    torch.testing.assert_close(fast.bias.detach(), before)


def test_fast_actnorm_reinitialises_after_loading_an_uninitialised_state():
    x = torch.randn(4, 3, 4, 4) * 4 + 2
    layer = ActNorm(3).train()
    fastpath.use_fast_flow(layer)
    layer(torch.randn(4, 3, 4, 4))
    layer(torch.randn(4, 3, 4, 4))  # remembered from here on
    layer.load_state_dict(ActNorm(3).state_dict())
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    first = copy.deepcopy(layer)
    layer.load_state_dict(first.state_dict())  # an initialised state: not re-initialised on a new batch
    layer(x + 10)
    torch.testing.assert_close(layer.bias, first.bias)


@pytest.fixture(scope="module")
def model():
    return bench_model(preset("tiny-x2"), torch.device("cpu"), seed=0)


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_prepared_model_enhances_like_the_plain_one(model, channels_last):
    lq = torch.rand(2, 3, 20, 28, generator=torch.Generator().manual_seed(0)) * 0.3
    reference = model.enhance(lq)
    fast = fastpath.prepare_for_inference(copy.deepcopy(model), channels_last=channels_last)
    assert all(m.fast for m in fast.modules() if isinstance(m, InvertibleLayer))
    torch.testing.assert_close(fast.enhance(lq), reference, atol=1e-5, rtol=0)
    fastpath.use_fast_flow(fast, False)  # and back to the plain maths
    assert not any(m.fast for m in fast.modules() if isinstance(m, InvertibleLayer))
    torch.testing.assert_close(fast.enhance(lq), reference, atol=1e-5, rtol=0)


def test_prepared_model_trains_like_the_plain_one(model):
    g = torch.Generator().manual_seed(1)
    lq, gt = torch.rand(2, 3, 16, 16, generator=g) * 0.3, torch.rand(2, 3, 32, 32, generator=g)
    plain = copy.deepcopy(model).train()
    fast = fastpath.prepare_for_training(copy.deepcopy(model), channels_last=False)
    losses, grads = [], []
    for net in (plain, fast):
        out = net(lq, gt, generator=torch.Generator().manual_seed(2))
        out["loss"].backward()
        losses.append(out["loss"].detach())
        grads.append([p.grad for p in net.parameters()])
    torch.testing.assert_close(losses[1], losses[0], atol=1e-5, rtol=1e-6)
    for g_fast, g_plain in zip(grads[1], grads[0]):
        torch.testing.assert_close(g_fast, g_plain, atol=1e-5, rtol=1e-4)
