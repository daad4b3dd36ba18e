"""Encoders' contract: condition shapes per level and scale, CR map in (0, 1), errors, gradients, bf16, layout."""

import pytest
import torch

from lolisr_lib.encoder import MPCTEncoder, ResidualCNNEncoder, build_encoder, encoder_features, level_log2_factors
from lolisr_lib.errors import ConfigError, UserError

# small but complete: every branch, every fusion path, two stages
TINY = {
    "mpct": dict(channels=8, blocks=1, stages=2, cond_channels=8),
    "cnn": dict(channels=8, blocks=2, cond_channels=8),
}
KINDS = sorted(TINY)


def _encoder(kind, scale, seed=0, **overrides):
    torch.manual_seed(seed)
    return build_encoder(kind, scale, **{**TINY[kind], **overrides})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("h, w", [(8, 8), (16, 24)])
def test_condition_and_cr_shapes(kind, scale, h, w):
    encoder = _encoder(kind, scale, cond_channels=(8, 12, 16))
    conds, cr_hat = encoder(torch.rand(2, 3, h, w))
    H, W = scale * h, scale * w
    assert [tuple(c.shape) for c in conds] == [(2, 8, H // 2, W // 2), (2, 12, H // 4, W // 4), (2, 16, H // 8, W // 8)]
    assert encoder.cond_channels == (8, 12, 16)
    assert cr_hat.shape == (2, 3, H, W)
    assert (cr_hat > 0).all() and (cr_hat < 1).all()


@pytest.mark.parametrize("scale, factors", [(1, (-1, -2, -3)), (2, (0, -1, -2)), (4, (1, 0, -1))])
def test_level_geometry(scale, factors):
    assert level_log2_factors(scale) == factors


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_mpct_branches_sit_at_the_condition_resolutions(scale):
    # the condition heads are per-pixel (LayerNorm + 1x1 conv), so each branch must already be at its level's size
    encoder = _encoder("mpct", scale)
    sizes = []

    def record(module, args):
        sizes.append(tuple(args[0].shape))

    hooks = [head.register_forward_pre_hook(record) for head in encoder.cond_heads]
    encoder(torch.rand(1, 3, 16, 8))
    for hook in hooks:
        hook.remove()
    H, W = 16 * scale, 8 * scale
    assert sizes == [(1, 8, H // 2, W // 2), (1, 16, H // 4, W // 4), (1, 32, H // 8, W // 8)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "shape, match",
    [
        ((1, 3, 12, 16), "12x16 is not a multiple of 8"),
        ((1, 3, 16, 20), "16x20 is not a multiple of 8"),
        ((1, 1, 16, 16), r"\(B, 3, h, w\)"),
        ((3, 16, 16), r"\(B, 3, h, w\)"),
    ],
)
def test_bad_input_is_a_user_error_naming_it(kind, shape, match):
    with pytest.raises(UserError, match=match):
        _encoder(kind, 2)(torch.rand(shape))


@pytest.mark.parametrize("kind, scale", [("mpct", 2), ("mpct", 4), ("cnn", 1), ("cnn", 4)])
def test_gradients_reach_every_parameter(kind, scale):
    encoder = _encoder(kind, scale)
    conds, cr_hat = encoder(torch.rand(1, 3, 8, 16))
    (sum(c.square().mean() for c in conds) + cr_hat.mean()).backward()
    missing = [name for name, p in encoder.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_autocast_runs_and_stays_close(kind):
    encoder = _encoder(kind, 2)
    lq = torch.rand(1, 3, 16, 16)
    conds, cr_hat = encoder(lq)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        conds_bf, cr_bf = encoder(lq)
    for c, c_bf in zip(conds + [cr_hat], conds_bf + [cr_bf]):
        assert torch.isfinite(c_bf).all()
        assert (c_bf.float() - c).abs().max() <= 0.1 * c.abs().max()
    assert cr_bf.dtype == torch.float32 and (cr_bf > 0).all() and (cr_bf < 1).all()


@pytest.mark.parametrize("kind, scale", [("mpct", 2), ("mpct", 4), ("cnn", 2), ("cnn", 4)])
def test_channels_last_gives_the_same_result(kind, scale):
    encoder = _encoder(kind, scale)
    lq = torch.rand(2, 3, 8, 16)
    conds, cr_hat = encoder(lq)
    encoder = encoder.to(memory_format=torch.channels_last)
    conds_cl, cr_cl = encoder(lq.contiguous(memory_format=torch.channels_last))
    for a, b in zip(conds + [cr_hat], conds_cl + [cr_cl]):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_build_encoder_picks_the_class_and_passes_arguments():
    mpct = build_encoder("mpct", 2, channels=8, stages=1)
    assert isinstance(mpct, MPCTEncoder) and len(mpct.stages) == 1
    # transformer-only arguments are ignored for the CNN, so one config can hold the union of fields
    cnn = build_encoder("cnn", 4, channels=8, blocks=1, use_he=False, stages=3, heads=(1, 2, 4))
    assert isinstance(cnn, ResidualCNNEncoder) and cnn.features.channels == 9 and cnn.scale == 4
    assert len(cnn.body) == 2  # one residual block and the closing conv


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stages": 2}, r"model.encoder.stages=2 is not used by the 'cnn' encoder; leave it at its default 3"),
        ({"heads": (1, 1, 2)}, r"model.encoder.heads=\(1, 1, 2\) is not used by the 'cnn' encoder.*'mpct'"),
        ({"ffn_expansion": 4.0}, "model.encoder.ffn_expansion=4.0 is not used"),
    ],
)
def test_an_argument_the_encoder_would_ignore_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_encoder("cnn", 2, channels=8, blocks=1, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_features_matches_forward_and_checks_its_input(kind):
    encoder = _encoder(kind, 2, use_noise=False)
    lq = torch.rand(1, 3, 16, 8)
    conds, cr_hat = encoder(lq)
    conds_f, cr_f = encoder.forward_features(encoder_features(lq, use_noise=False))
    for a, b in zip(conds + [cr_hat], conds_f + [cr_f]):
        torch.testing.assert_close(b, a)
    with pytest.raises(UserError, match=r"\(B, 9, h, w\)"):
        encoder.forward_features(encoder_features(lq))
    with pytest.raises(UserError, match="12x8"):
        encoder.forward_features(encoder_features(lq, use_noise=False)[..., :12, :])


@pytest.mark.parametrize(
    "kind, scale, kwargs, match",
    [
        ("transformer", 2, {}, "unknown"),
        ("cnn", 2, {"depth": 2}, "depth"),
        ("mpct", 3, {}, "scale=3"),
        ("mpct", 2, {"channels": 6}, "multiple of 4"),
        ("mpct", 2, {"channels": 8, "heads": (1, 3, 4)}, "heads=3"),
        ("mpct", 2, {"cond_channels": (8, 8)}, "cond_channels"),
        ("cnn", 2, {"blocks": 0}, "blocks"),
    ],
)
def test_bad_configuration_is_a_config_error(kind, scale, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_encoder(kind, scale, **kwargs)
