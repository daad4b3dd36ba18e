"""Probes of the conditional encoder: traced shapes, fusion messages, receptive field, CR error."""

import numpy as np
import pytest
import torch

from lolisr_lib.encoder import MPCTEncoder, ResidualCNNEncoder, encoder_features
from lolisr_lib.errors import UserError
from lolisr_lib.image.color import cr_map
from lolisr_lib.lessons.encoder_probe import (
    cond_pixel_center,
    cr_error,
    fusion_traffic,
    mass_radius,
    receptive_field,
    relative_resolution,
    trace_shapes,
)


def _encoder(scale=2, stages=2):
    torch.manual_seed(0)
    return MPCTEncoder(scale, channels=8, blocks=1, stages=stages, cond_channels=4, heads=1).eval()


@pytest.mark.parametrize("scale, finest", [(1, "LR/2"), (2, "LR"), (4, "LR x2")])
def test_traced_conditions_match_the_encoder_outputs(scale, finest):
    encoder, lq = _encoder(scale), torch.rand(1, 3, 16, 16)
    rows = trace_shapes(encoder, lq)
    conds, cr_hat = encoder(lq)
    assert [r.shape for r in rows if r.where == "condition"] == [tuple(c.shape) for c in conds]
    assert [r for r in rows if r.where == "CR map"][0].shape == tuple(cr_hat.shape)
    assert next(r for r in rows if r.where == "branch created" and r.branch == 1).resolution == finest
    assert len([r for r in rows if r.where.startswith("stage")]) == 2 * 3
    assert not encoder._forward_hooks and not encoder.stem._forward_hooks  # hooks removed


def test_trace_shapes_needs_an_mpct_encoder():
    with pytest.raises(UserError):
        trace_shapes(ResidualCNNEncoder(2, channels=8, blocks=1, cond_channels=4), torch.rand(1, 3, 8, 8))


def test_relative_resolution_words():
    assert [relative_resolution(s, 16) for s in (64, 32, 16, 8, 4)] == ["LR x4", "LR x2", "LR", "LR/2", "LR/4"]


def test_fusion_messages_have_the_receivers_shape_and_a_positive_size():
    encoder, lq = _encoder(stages=2), torch.rand(1, 3, 16, 16)
    messages = fusion_traffic(encoder, lq)
    assert len(messages) == 2 * 3 * 2
    sizes = {1: 16, 2: 8, 3: 4}
    assert all(m.shape[-1] == sizes[m.target] and m.rms > 0 and m.target_rms > 0 for m in messages)
    # branch 3 is the coarsest: it is upsampled to branch 1, and branch 1 is strided down to it
    assert {m.path for m in messages if m.source - m.target == 2} == {"1x1 conv, bilinear x4"}
    assert {m.path for m in messages if m.target - m.source == 2} == {"2 strided 3x3 convs"}


def test_receptive_field_is_global_for_attention_and_bounded_for_a_small_cnn():
    features = encoder_features(torch.rand(1, 3, 32, 32))
    mpct = receptive_field(_encoder(), features, level=1)
    torch.manual_seed(0)
    cnn = receptive_field(ResidualCNNEncoder(2, channels=8, blocks=1, cond_channels=4), features, level=1)
    assert mpct.shape == cnn.shape == (32, 32)
    assert (mpct > 0).all() and cnn[0, 0] == 0 and cnn[16, 16] > 0


def test_receptive_field_rejects_a_bad_level_or_position():
    encoder, features = _encoder(), encoder_features(torch.rand(1, 3, 16, 16))
    with pytest.raises(UserError):
        receptive_field(encoder, features, level=4)
    with pytest.raises(UserError):
        receptive_field(encoder, features, level=1, position=(99, 0))


def test_mass_radius_of_a_point_and_of_a_ring():
    grad = np.zeros((9, 9))
    grad[4, 4] = 1.0
    assert mass_radius(grad, (4, 4), 0.5) == 0
    grad[4, 7] = 3.0  # three quarters of the mass at distance 3
    assert mass_radius(grad, (4, 4), 0.5) == pytest.approx(3.0)
    assert mass_radius(grad, (4, 4), 1.0) == pytest.approx(3.0)
    with pytest.raises(UserError):
        mass_radius(np.zeros((3, 3)), (1, 1))


def test_cond_pixel_center_in_lr_coordinates():
    assert cond_pixel_center((8, 8), (8, 8)) == (4.0, 4.0)
    assert cond_pixel_center((4, 4), (8, 8), (0, 0)) == (0.5, 0.5)


def test_cr_error_is_zero_for_the_true_map_and_checks_shapes():
    gt = torch.rand(2, 3, 8, 8)
    assert cr_error(cr_map(gt), gt) == 0
    assert cr_error(torch.full_like(gt, 1 / 3), gt) > 0
    with pytest.raises(UserError):
        cr_error(torch.rand(2, 3, 4, 4), gt)


def test_trace_flow_levels_records_a_real_forward_pass():
    import torch

    from lolisr_lib.config import preset
    from lolisr_lib.lessons.encoder_probe import trace_flow_levels
    from lolisr_lib.model import LoLiSRFlow

    torch.manual_seed(0)
    model = LoLiSRFlow(preset("tiny-x2")).eval()
    rows = trace_flow_levels(model, torch.rand(1, 3, 16, 16), torch.rand(1, 3, 32, 32))
    assert [r.level for r in rows] == [1, 2, 3]
    assert [r.output_shape for r in rows] == [(1, 12, 16, 16), (1, 48, 8, 8), (1, 192, 4, 4)]
    assert [r.cond_shape for r in rows] == model.flow.cond_shapes(1, 32, 32)
    assert all(r.steps == 1 + 2 + 4 for r in rows)  # squeeze, 2 unconditional, K = 4 conditional
