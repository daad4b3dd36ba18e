"""LoLiSRFlow end to end: shapes at every scale, round trip, loss and gradients, learning, sampling, tiling,
checkpoints, and the paper presets at the paper's patch size."""

import dataclasses

import pytest
import torch

from lolisr_lib.config import PRESETS, preset, with_overrides
from lolisr_lib.errors import CheckpointError, ConfigError, UserError
from lolisr_lib.flow.checks import perturb_parameters
from lolisr_lib.model import LoLiSRFlow, parameter_count
from lolisr_lib.model.build import load_model


def _model(name="tiny-x2", **flow):
    torch.manual_seed(0)
    config = preset(name)
    if flow:
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, flow=dataclasses.replace(config.model.flow, **flow)))
    return LoLiSRFlow(config)


def _pair(scale, h, w, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch, 3, scale * h, scale * w, generator=g) * 0.8 + 0.1
    lq = torch.nn.functional.interpolate(gt, size=(h, w), mode="area") * 0.1
    return lq, gt


def _initialised(model, scale, perturb=0.02):
    """ActNorm initialised on one training batch, then every parameter moved off its (zero) init."""
    dtype = next(model.parameters()).dtype
    lq, gt = (t.to(dtype) for t in _pair(scale, 16, 16, batch=4, seed=1))
    model.train()
    model(lq, gt)
    perturb_parameters(model, scale=perturb, generator=torch.Generator().manual_seed(0))
    return model.eval()


@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("h, w", [(16, 16), (37, 53), (5, 9)])
def test_enhance_any_size_at_every_scale(scale, h, w):
    model = _model(f"tiny-x{scale}").eval()
    lq, _ = _pair(scale, h, w)
    out = model.enhance(lq)
    assert out.shape == (2, 3, scale * h, scale * w)
    assert out.min() >= 0 and out.max() <= 1
    assert model.enhance(lq[0]).shape == (3, scale * h, scale * w)  # unbatched input


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_forward_returns_finite_loss_terms(scale):
    model = _model(f"tiny-x{scale}").train()
    lq, gt = _pair(scale, 13, 21)
    out = model(lq, gt)
    for key in ("loss", "nll", "l1", "bpd", "log_prob", "logdet"):
        assert out[key].dim() == 0 and torch.isfinite(out[key]), key
    assert torch.allclose(out["loss"], out["nll"] + 1.5 * out["l1"])
    assert out["sr"].shape == gt.shape


def test_bad_shapes_are_clear_errors():
    model = _model()
    lq, gt = _pair(2, 16, 16)
    with pytest.raises(UserError, match=r"gt has shape \(2, 3, 16, 16\); expected \(2, 3, 32, 32\)"):
        model(lq, gt[..., :16, :16])
    with pytest.raises(UserError, match="lq must be a"):
        model.enhance(torch.rand(1, 4, 8, 8))


@pytest.mark.parametrize("split", [False, True])
def test_decode_of_encode_reproduces_gt(split):
    model = _initialised(_model(split=split).double(), 2)
    lq, gt = _pair(2, 13, 21)
    lq, gt = lq.double(), gt.double()
    latents, logdet = model.encode(lq, gt)
    assert isinstance(latents, list) and len(latents) == len(model.flow.splits) + 1 == (3 if split else 1)
    assert (model.decode(lq, latents) - gt).abs().max() < 1e-9
    assert logdet.shape == (2,)


@pytest.mark.parametrize("split", [False, True])
def test_gradients_reach_every_parameter_of_encoder_and_flow(split):
    model = _initialised(_model(split=split), 2)
    model.train()
    lq, gt = _pair(2, 16, 16)
    model(lq, gt)["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient for {missing[:5]}"
    assert any(n.startswith("encoder.") for n, _ in model.named_parameters())


def test_a_few_adam_steps_on_one_pair_reduce_the_loss():
    model = _model().train()
    lq, gt = _pair(2, 16, 16, batch=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = model(lq, gt, generator=g)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < losses[0] - 0.5, losses


def test_samples_differ_from_each_other_and_from_the_mean():
    model = _initialised(_model(), 2)
    lq, _ = _pair(2, 16, 16, batch=1)
    samples = model.sample(lq, 3, temperature=0.8, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (1, 3, 3, 32, 32)
    mean = model.enhance(lq)
    assert (samples[:, 0] - samples[:, 1]).abs().mean() > 1e-3
    assert (samples[:, 0] - mean).abs().mean() > 1e-3
    assert torch.equal(model.enhance(lq), mean)  # temperature 0 is deterministic


@pytest.mark.parametrize("temperature", [0.0, 0.5])
def test_tiled_enhance_matches_untiled(temperature):
    # Stated tolerance: tiles see less context (channel attention pools over the tile), so tiled inference is
    # not bit-identical; with 16 LR pixels of overlap it stays above 40 dB PSNR against the untiled result.
    model = _initialised(_model(), 2)
    lq, _ = _pair(2, 48, 64, batch=1)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    full = model.enhance(lq, temperature, generator=g1)
    tiled = model.enhance(lq, temperature, tile=32, overlap=16, generator=g2)
    mse = ((full - tiled) ** 2).mean()
    assert tiled.shape == full.shape
    assert 10 * torch.log10(1 / mse) > 40
    assert (full - tiled).abs().mean() < 5e-3


def test_save_load_gives_identical_outputs(tmp_path):
    model = _initialised(_model(split=True), 2)
    path = model.save(tmp_path / "m.pt")
    loaded = LoLiSRFlow.load(path)
    lq, _ = _pair(2, 16, 24, batch=1)
    assert torch.equal(model.enhance(lq), loaded.enhance(lq))
    assert loaded.config == model.config and not loaded.training
    raw = torch.load(path, weights_only=True)  # plain tensors and strings only
    assert isinstance(raw["config"], str) and "model" in raw


def test_checkpoint_errors_are_clear(tmp_path):
    model = _model()
    path = model.save(tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="x2 model.*needs x4"):
        LoLiSRFlow.load(path, expected_scale=4)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="broken.pt is not a readable checkpoint"):
        load_model(broken)
    with pytest.raises(CheckpointError, match="nothere.pt does not exist"):
        load_model(tmp_path / "nothere.pt")
    other = _model(hidden=16)
    payload = torch.load(path, weights_only=True)
    payload["model"] = other.state_dict()
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not fit the config"):
        load_model(tmp_path / "mismatch.pt")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("paper") else n for n in sorted(PRESETS)]
)
def test_every_preset_builds(name):
    model = LoLiSRFlow(preset(name))
    assert model.pad_multiple % 2**model.levels == 0


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["flow.levels=4"], "model.flow.levels=4: the encoder serves 3 levels"),
        (["pad_multiple=6"], r"model.pad_multiple=6 must be a positive multiple of 2\*\*levels=8"),
        (["pad_multiple=12"], "model.pad_multiple=12"),
        # tiny's encoder has 2 stages: a CNN encoder would silently ignore them
        (["encoder.kind=cnn"], "model.encoder.stages=2 is not used by the 'cnn' encoder"),
        (["encoder.kind=cnn", "encoder.stages=3"], r"model.encoder.heads=\(1, 1, 2\) is not used by the 'cnn'"),
    ],
)
def test_a_config_the_model_cannot_run_fails_when_it_is_built(overrides, message):
    with pytest.raises(ConfigError, match=message):
        LoLiSRFlow(with_overrides(preset("tiny-x2"), overrides))


def test_cnn_encoder_builds_when_the_transformer_fields_keep_their_defaults():
    config = with_overrides(preset("tiny-x2"), ["encoder.kind=cnn", "encoder.stages=3", "encoder.heads=1,2,4"])
    model = LoLiSRFlow(config).eval()
    assert type(model.encoder).__name__ == "ResidualCNNEncoder"
    assert model.enhance(_pair(2, 8, 16)[0]).shape == (2, 3, 16, 32)


def test_a_larger_pad_multiple_pads_to_it_and_crops_back():
    model = LoLiSRFlow(with_overrides(preset("tiny-x4"), ["pad_multiple=16"])).eval()
    lq, _ = _pair(4, 5, 9)
    assert model._pad(lq)[0].shape[-2:] == (16, 16)
    assert model.enhance(lq).shape == (2, 3, 20, 36)


@pytest.mark.slow
@pytest.mark.parametrize("scale", [2, 4])
def test_paper_presets_run_at_the_paper_patch_size(scale):
    torch.manual_seed(0)
    model = LoLiSRFlow(preset(f"paper-x{scale}")).train()
    assert (model.config.model.flow.steps, model.config.model.flow.levels) == (12, 3)
    assert 15e6 < parameter_count(model) < 30e6
    lq, gt = _pair(scale, 160 // scale, 160 // scale, batch=1)
    out = model(lq, gt)
    assert torch.isfinite(out["loss"]) and out["sr"].shape == (1, 3, 160, 160)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_load_puts_the_model_on_map_location(tmp_path):
    path = _model().save(tmp_path / "m.pt")
    model = LoLiSRFlow.load(path, map_location="cuda")
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert model.enhance(torch.rand(1, 3, 16, 16, device="cuda")).device.type == "cuda"
