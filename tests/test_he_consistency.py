"""Same encoder input in training and inference: the HE view of a training crop is the matching window of
the whole image's equalisation (issue 12: crops used to be equalised on their own, 0.14-0.18 apart)."""

import pytest
import torch

from lolisr_lib.config import preset
from lolisr_lib.data import RellisurDataset
from lolisr_lib.data.simulated import SimulatedPairs
from lolisr_lib.encoder import encoder_features
from lolisr_lib.image.color import equalize_hist
from lolisr_lib.image.io import read_png
from lolisr_lib.model.build import build_model


def _find_window(full: torch.Tensor, crop: torch.Tensor) -> tuple[int, int]:
    """The (top, left) where ``crop`` sits in ``full`` (3, H, W), searched exhaustively."""
    side = crop.shape[-1]
    for i in range(full.shape[-2] - side + 1):
        for j in range(full.shape[-1] - side + 1):
            if torch.equal(full[:, i : i + side, j : j + side], crop):
                return i, j
    raise AssertionError("the crop is not a window of the full image")


@pytest.mark.parametrize("scale", [2, 4])
def test_training_crop_features_equal_the_full_images_window(mini_root, scale):
    ds = RellisurDataset(mini_root, "Train", scale, patch_size=8 * scale, augment=False, seed=3)
    for index in (0, 7, 31):
        item = ds[index]
        full = torch.from_numpy(read_png(item["lq_path"])).permute(2, 0, 1).float() / 255  # (3, h, w)
        i, j = _find_window(full, item["lq"])
        he_full = equalize_hist(full[None])[0]
        assert torch.equal(item["lq_he"], he_full[:, i : i + 8, j : j + 8])
        # through the encoder's feature function: the crop's features are the full image's window
        crop_features = encoder_features(item["lq"][None], he=item["lq_he"][None])
        full_features = encoder_features(full[None])[..., i : i + 8, j : j + 8]
        he_channels = slice(3, 6)
        assert torch.equal(crop_features[:, he_channels], full_features[:, he_channels])
        # and they differ from equalising the crop on its own, which is what training used to do
        assert (equalize_hist(item["lq"][None])[0] - item["lq_he"]).abs().mean() > 0.01


def test_augmented_crops_turn_their_equalised_view_with_them(mini_root):
    ds = RellisurDataset(mini_root, "Train", 2, patch_size=16, augment=True, seed=0)
    for index in range(6):
        item = ds[index]
        lq_codes = (item["lq"] * 255).round().long()
        he_codes = (item["lq_he"] * 255).round().long()
        for c in range(3):  # HE is a lookup table per channel: equal inputs give equal outputs
            for code in lq_codes[c].unique()[:5]:
                assert he_codes[c][lq_codes[c] == code].unique().numel() == 1


def test_simulated_pairs_equalise_the_whole_capture():
    ds = SimulatedPairs(2, 32, length=8, scene_size=64, seed=1)
    item = ds[0]
    assert item["lq"].shape == item["lq_he"].shape == (3, 16, 16) and item["gt"].shape == (3, 32, 32)
    lq_codes = (item["lq"] * 255).round().long()
    he_codes = (item["lq_he"] * 255).round().long()
    for c in range(3):
        for code in lq_codes[c].unique()[:5]:
            assert he_codes[c][lq_codes[c] == code].unique().numel() == 1
    assert not torch.equal(item["lq_he"], equalize_hist(item["lq"][None])[0])


def test_model_forward_uses_the_given_he_view(mini_root):
    torch.manual_seed(0)
    model = build_model(preset("tiny-x2"))
    ds = RellisurDataset(mini_root, "Train", 2, patch_size=16, seed=0)
    item = ds[0]
    lq, gt, he = item["lq"][None], item["gt"][None], item["lq_he"][None]
    model.eval()
    with torch.no_grad():
        a = model(lq, gt, lq_he=he)["nll"]
        b = model(lq, gt)["nll"]
        c = model(lq, gt, lq_he=equalize_hist(lq))["nll"]
    assert torch.equal(b, c) and not torch.equal(a, b)
