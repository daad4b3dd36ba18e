"""The input skip (``model.skip = "gain"``): the flow models gt minus the brightened, upscaled capture. A shift
given the condition: exact round trip, no log-det term (checked against the autograd Jacobian), the gain from the
whole capture in training as at inference, tiled inference that agrees, old checkpoints unchanged."""

import pytest
import torch

from lolisr_lib.config import preset, with_overrides
from lolisr_lib.data import RellisurDataset
from lolisr_lib.data.simulated import SimulatedPairs
from lolisr_lib.errors import ConfigError
from lolisr_lib.flow.checks import autograd_logdet, perturb_parameters
from lolisr_lib.image.color import srgb_to_linear
from lolisr_lib.image.exposure import capture_linear_mean
from lolisr_lib.image.io import read_png
from lolisr_lib.model import LoLiSRFlow
from lolisr_lib.model.input_skip import SKIP_CODE_VALUE, brightened_capture


def _skip_model(scale=2, dtype=torch.float64):
    torch.manual_seed(0)
    model = LoLiSRFlow(with_overrides(preset(f"tiny-x{scale}"), ["model.skip=gain"])).to(dtype)
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(4, 3, 16 * scale, 16 * scale, generator=g, dtype=dtype) * 0.8 + 0.1
    model.train()
    model(torch.nn.functional.interpolate(gt, scale_factor=1 / scale, mode="area") * 0.1, gt)  # ActNorm init
    perturb_parameters(model, scale=0.02, generator=torch.Generator().manual_seed(0))
    return model.eval()


def _pair(scale, h, w, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, scale * h, scale * w, generator=g, dtype=dtype) * 0.8 + 0.1
    return torch.nn.functional.interpolate(gt, size=(h, w), mode="area") * 0.08, gt


def test_the_skip_is_the_capture_at_code_value_100_upscaled():
    lq, _ = _pair(2, 12, 12)
    skip = brightened_capture(lq, 2, capture_linear_mean(lq))
    assert skip.shape == (2, 3, 24, 24)
    # its linear mean is the target's up to bicubic's small over- and undershoots and the clip at white
    target = srgb_to_linear(torch.tensor(SKIP_CODE_VALUE / 255, dtype=torch.float64))
    assert torch.allclose(srgb_to_linear(skip).mean((1, 2, 3)), target.expand(2), rtol=0.03)


def test_round_trip_is_exact_and_the_skip_changes_the_output():
    model = _skip_model()
    lq, gt = _pair(2, 13, 21)
    latents, logdet = model.encode(lq, gt)
    assert (model.decode(lq, latents) - gt).abs().max() < 1e-9
    lq, gt = _pair(2, 16, 24)  # no padding, so that the shifted image can be handed to the plain model
    latents, logdet = model.encode(lq, gt)
    plain = LoLiSRFlow(with_overrides(model.config, ["model.skip=none"])).double()
    plain.load_state_dict(model.state_dict())
    plain.eval()
    # same weights: the latents differ by the flow applied to a shifted image, the log-det of the shift is 0
    z_plain, logdet_plain = plain.encode(lq, gt - model.input_skip(model._pad(lq)[0], lq))
    assert torch.allclose(latents[-1], z_plain[-1], atol=1e-9) and torch.allclose(logdet, logdet_plain, atol=1e-9)
    assert (model.enhance(lq) - plain.enhance(lq)).abs().max() > 0.01
    assert plain.input_skip(lq, lq) == 0.0  # without the skip: nothing added, nothing computed


def test_logdet_of_the_whole_map_matches_the_autograd_jacobian():
    model = _skip_model(scale=1)
    lq, gt = _pair(1, 8, 8, seed=2)

    def to_latent(gt_i, lq_i):
        return model.encode(lq_i, gt_i)[0][-1]

    _, logdet = model.encode(lq, gt)
    assert torch.allclose(logdet, autograd_logdet(to_latent, gt, lq), atol=1e-8)


def test_forward_uses_the_whole_captures_mean_when_given():
    model = _skip_model().train()
    lq, gt = _pair(2, 16, 16)
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731 (same dequantisation and CR coin for both calls)
    own = model(lq, gt, generator=g())["nll"]
    assert torch.equal(model(lq, gt, generator=g(), lq_mean=capture_linear_mean(lq))["nll"], own)
    assert not torch.equal(model(lq, gt, generator=g(), lq_mean=capture_linear_mean(lq) * 4)["nll"], own)


@pytest.mark.parametrize("scale", [2, 4])
def test_a_training_crop_gets_the_whole_images_gain(mini_root, scale):
    ds = RellisurDataset(mini_root, "Train", scale, patch_size=8 * scale, augment=True, seed=3)
    for index in (0, 9):
        item = ds[index]
        full = torch.from_numpy(read_png(item["lq_path"])).permute(2, 0, 1).float() / 255
        assert item["lq_mean"].shape == () and torch.isclose(item["lq_mean"].double(),
                                                             capture_linear_mean(full[None])[0], rtol=1e-6)
        assert not torch.isclose(item["lq_mean"].double(), capture_linear_mean(item["lq"][None])[0], rtol=1e-3)
    sim = SimulatedPairs(scale, 8 * scale, length=2, scene_size=64, seed=1)[0]
    assert sim["lq_mean"].shape == () and sim["lq_mean"] > 0


def test_the_crops_skip_is_the_window_of_the_whole_images_skip_away_from_the_edges():
    lq, _ = _pair(2, 24, 24, dtype=torch.float32)
    whole = brightened_capture(lq, 2, capture_linear_mean(lq))
    crop = brightened_capture(lq[..., 4:20, 8:24], 2, capture_linear_mean(lq))
    assert torch.allclose(crop[..., 4:-4, 4:-4], whole[..., 12:36, 20:44], atol=1e-6)


def test_tiled_enhance_agrees_with_whole_image():
    model = _skip_model(dtype=torch.float32)
    lq, _ = _pair(2, 48, 48, dtype=torch.float32)
    whole = model.enhance(lq, tile=None)
    tiled = model.enhance(lq, tile=24, overlap=8)
    assert (whole - tiled).abs().mean() < 0.02


def test_samples_carry_the_skip():
    model = _skip_model(dtype=torch.float32)
    lq, _ = _pair(2, 16, 16, dtype=torch.float32)
    samples = model.sample(lq, 3, temperature=0.0)
    assert torch.allclose(samples[:, 0], model.enhance(lq, tile=None), atol=1e-5)


def test_a_bad_skip_names_the_field():
    with pytest.raises(ConfigError, match="model.skip='residual' is not one of none, gain"):
        LoLiSRFlow(with_overrides(preset("tiny-x2"), ["model.skip=residual"]))


def test_checkpoints_without_the_field_load_without_the_skip():
    assert preset("small-x2").model.skip == "none"
    from lolisr_lib.model.pretrained import load

    assert load("x2").skip == "none"
