"""Classical and learned baselines: shapes, ranges, their rules, training signal, checkpoints, stage separation."""

import pytest
import torch

from lolisr_lib.baselines import (
    CLASSICAL_BASELINES,
    LEARNED_BASELINES,
    GammaBicubicBaseline,
    SequentialCNN,
    make_baseline,
)
from lolisr_lib.config import BaselineConfig, Config, ModelConfig
from lolisr_lib.errors import UserError
from lolisr_lib.model.build import load_model


def tiny_config(arch: str, scale: int) -> Config:
    return Config(name="test", model=ModelConfig(arch=arch, scale=scale, baseline=BaselineConfig(channels=8, blocks=2)))


def dark(shape, seed=0, level=0.08) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * level


# ---------------------------------------------------------------------------------------------- classical
@pytest.mark.parametrize("name", sorted(CLASSICAL_BASELINES))
@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("size", [(16, 16), (37, 53)])
def test_classical_output_size_and_range(name, scale, size):
    baseline = make_baseline(name, scale)
    out = baseline.enhance(dark((2, 3, *size)))
    assert out.shape == (2, 3, scale * size[0], scale * size[1])
    assert out.min() >= 0 and out.max() <= 1
    assert baseline.scale == scale and baseline.config.model.scale == scale
    assert baseline.enhance(dark((3, *size))).shape == (3, scale * size[0], scale * size[1])  # unbatched


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_of_a_constant_image_is_constant(scale):
    out = make_baseline("bicubic", scale).enhance(torch.full((1, 3, 9, 11), 0.3))
    torch.testing.assert_close(out, torch.full_like(out, 0.3), atol=1e-6, rtol=0)


def test_bicubic_x1_is_the_identity():
    lq = dark((1, 3, 10, 12))
    torch.testing.assert_close(make_baseline("bicubic", 1).enhance(lq), lq)


def test_he_bicubic_brightens_a_dark_image():
    lq = dark((1, 3, 32, 32))
    out = make_baseline("he-bicubic", 2).enhance(lq)
    assert out.mean() > 0.4 > 5 * lq.mean()


@pytest.mark.parametrize("target", [0.25, 0.4])
def test_gain_bicubic_mean_is_near_its_target(target):
    lq = dark((2, 3, 40, 40), level=0.1)
    out = GammaBicubicBaseline(2, target_mean=target).enhance(lq)
    for image in out:  # one gamma per image
        assert abs(image.mean().item() - target) < 0.01


def test_gain_bicubic_keeps_order_and_never_clips():
    lq = torch.linspace(0.001, 0.2, 3 * 8 * 8).reshape(1, 3, 8, 8)
    out = make_baseline("gain-bicubic", 1).enhance(lq)
    assert torch.all(out.flatten().diff() > 0)  # a power curve is monotone
    assert out.max() < 1


def test_unknown_baseline_lists_the_choices():
    with pytest.raises(UserError, match="he-bicubic"):
        make_baseline("nearest", 2)


@pytest.mark.parametrize("bad", [torch.rand(1, 4, 8, 8), torch.rand(8, 8)])
def test_classical_rejects_wrong_shapes(bad):
    with pytest.raises(UserError, match="shape"):
        make_baseline("bicubic", 2).enhance(bad)


# ------------------------------------------------------------------------------------------------ learned
@pytest.mark.parametrize("arch", sorted(LEARNED_BASELINES))
@pytest.mark.parametrize("scale", [1, 2, 4])
def test_learned_shapes(arch, scale):
    model = LEARNED_BASELINES[arch](tiny_config(arch, scale)).eval()
    out = model.enhance(dark((2, 3, 13, 17)))
    assert out.shape == (2, 3, 13 * scale, 17 * scale)
    assert out.min() >= 0 and out.max() <= 1
    assert model.config.model.arch == arch


@pytest.mark.parametrize("arch", sorted(LEARNED_BASELINES))
def test_learned_loss_is_finite_and_reaches_every_parameter(arch):
    torch.manual_seed(0)
    model = LEARNED_BASELINES[arch](tiny_config(arch, 2))
    out = model(dark((2, 3, 8, 8)), torch.rand(2, 3, 16, 16))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("arch", sorted(LEARNED_BASELINES))
def test_a_few_adam_steps_reduce_the_loss(arch):
    torch.manual_seed(0)
    model = LEARNED_BASELINES[arch](tiny_config(arch, 2))
    lq, gt = dark((1, 3, 8, 8)), torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = model(lq, gt)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("arch", sorted(LEARNED_BASELINES))
def test_save_and_load_model_give_the_same_output(arch, tmp_path):
    torch.manual_seed(0)
    model = LEARNED_BASELINES[arch](tiny_config(arch, 4)).eval()
    path = model.save(tmp_path / "m.pt")
    loaded = load_model(path, expected_scale=4)
    assert type(loaded) is type(model)
    lq = dark((1, 3, 11, 9))
    torch.testing.assert_close(loaded.enhance(lq), model.enhance(lq), atol=0, rtol=0)


def test_config_arch_is_set_to_the_class_so_checkpoints_rebuild_it(tmp_path):
    model = SequentialCNN(tiny_config("lolisrflow", 2))  # a config naming another arch
    assert type(load_model(model.save(tmp_path / "s.pt"))) is SequentialCNN


def test_sequential_stages_get_no_gradient_from_each_other():
    torch.manual_seed(0)
    model = SequentialCNN(tiny_config("sequential-cnn", 2))
    out = model(dark((1, 3, 8, 8)), torch.rand(1, 3, 16, 16))
    torch.testing.assert_close(out["loss"], out["l1_lle"] + out["l1_sr"])
    out["l1_sr"].backward(retain_graph=True)
    assert all(p.grad is None for p in model.lle.parameters())
    assert all(p.grad is not None for p in model.sr.parameters())
    model.zero_grad(set_to_none=True)
    out["l1_lle"].backward()
    assert all(p.grad is None for p in model.sr.parameters())


def test_sequential_enhance_chains_the_stages():
    model = SequentialCNN(tiny_config("sequential-cnn", 2)).eval()
    lq = dark((1, 3, 8, 8))
    with torch.no_grad():
        expected = model.sr(lq + model.lle(lq)).clamp(0, 1)
    torch.testing.assert_close(model.enhance(lq), expected)


@pytest.mark.parametrize("arch", sorted(LEARNED_BASELINES))
def test_learned_forward_rejects_a_target_of_the_wrong_size(arch):
    model = LEARNED_BASELINES[arch](tiny_config(arch, 2))
    with pytest.raises(UserError, match="expected"):
        model(dark((1, 3, 8, 8)), torch.rand(1, 3, 8, 8))


def test_tiled_enhance_matches_untiled():
    torch.manual_seed(0)
    model = LEARNED_BASELINES["joint-cnn"](tiny_config("joint-cnn", 2)).eval()
    lq = dark((1, 3, 40, 36))
    tiled, whole = model.enhance(lq, tile=24, overlap=12), model.enhance(lq)
    assert tiled.shape == whole.shape
    # tiles see zero padding at their inner borders, which the blend ramps down but not away
    assert (tiled - whole).abs().max() < 0.02 and (tiled - whole).abs().mean() < 1e-3


def test_oracle_gain_reads_the_target_mean_and_refuses_to_run_without_it():
    oracle = make_baseline("oracle-gain", 2)
    lq = dark((1, 3, 8, 8), level=0.05)
    gt = torch.full((1, 3, 16, 16), 0.5)
    out = oracle.enhance(lq, target=gt)
    assert out.shape == gt.shape
    assert abs(float(out.mean()) - 0.5) < 0.1
    with pytest.raises(UserError, match="ground truth"):
        oracle.enhance(lq)
