"""Tests for lolisr_lib.evaluate.metrics: protocol A PSNR/SSIM equal to scikit-image, switches, errors, batched versions."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.metrics import psnr, psnr_batch, ssim, ssim_batch


def random_pair(seed: int, shape=(24, 31, 3), noise=25.0):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 256, shape).astype(np.uint8)
    pred = np.clip(gt + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
    return pred, gt


@pytest.fixture(scope="module")
def astronaut_pair():
    gt = data.astronaut()  # (512, 512, 3) uint8
    rng = np.random.default_rng(0)
    pred = np.clip(gt * 0.9 + rng.normal(0, 12, gt.shape), 0, 255).astype(np.uint8)
    return pred, gt


def hwc_to_torch(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) numpy to (3, H, W) torch, keeping the dtype."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


def y_channel(img: np.ndarray) -> np.ndarray:
    """The convention spelled out: BT.601 luma of 8-bit RGB on the 0..255 scale, float64."""
    rgb = img.astype(np.float64) / 255
    return 16 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


# ----------------------------------------------------------------------------------------------- protocol A
@pytest.mark.parametrize("seed, shape", [(0, (24, 31, 3)), (1, (7, 7, 3)), (2, (40, 16, 3))])
def test_equal_to_skimage_on_random_images(seed, shape):
    pred, gt = random_pair(seed, shape)
    assert psnr(pred, gt) == pytest.approx(peak_signal_noise_ratio(gt, pred), abs=1e-6)
    assert ssim(pred, gt) == pytest.approx(structural_similarity(gt, pred, channel_axis=-1), abs=1e-6)


def test_equal_to_skimage_on_real_image(astronaut_pair):
    pred, gt = astronaut_pair
    expected_psnr = peak_signal_noise_ratio(gt, pred)
    expected_ssim = structural_similarity(gt, pred, channel_axis=-1)
    assert 10 < expected_psnr < 40 and 0.1 < expected_ssim < 0.99  # a meaningful, non-trivial pair
    assert psnr(pred, gt) == pytest.approx(expected_psnr, abs=1e-6)
    assert ssim(pred, gt) == pytest.approx(expected_ssim, abs=1e-6)


def test_psnr_matches_its_formula():
    pred, gt = random_pair(3)
    mse = np.mean((pred.astype(np.float64) - gt) ** 2)
    assert psnr(pred, gt) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)


def test_float_and_torch_inputs_are_rounded_to_8bit():
    rng = np.random.default_rng(4)
    pred_float = rng.uniform(-0.2, 1.2, (16, 16, 3))  # out of range on purpose: clipped first
    gt_float = rng.random((16, 16, 3)).astype(np.float32)
    pred_u8 = np.rint(np.clip(pred_float, 0, 1) * 255).astype(np.uint8)
    gt_u8 = np.rint(gt_float * 255).astype(np.uint8)
    expected_psnr = peak_signal_noise_ratio(gt_u8, pred_u8)
    expected_ssim = structural_similarity(gt_u8, pred_u8, channel_axis=-1)
    assert psnr(pred_float, gt_float) == pytest.approx(expected_psnr, abs=1e-6)
    assert ssim(pred_float, gt_float) == pytest.approx(expected_ssim, abs=1e-6)
    pred_t, gt_t = hwc_to_torch(pred_float), hwc_to_torch(gt_float)  # (3, H, W)
    assert psnr(pred_t, gt_t) == pytest.approx(expected_psnr, abs=1e-6)
    assert ssim(pred_t, gt_u8) == pytest.approx(expected_ssim, abs=1e-6)  # mixed kinds are fine


def test_rounding_not_truncation():
    gt = np.zeros((8, 8, 3), np.uint8)
    assert psnr(np.full((8, 8, 3), 0.4 / 255), gt) == float("inf")  # 0.4 rounds to 0
    assert psnr(np.full((8, 8, 3), 0.6 / 255), gt) == pytest.approx(10 * np.log10(255**2), abs=1e-9)  # to 1


@pytest.mark.parametrize("crop_border", [0, 3])
def test_y_channel(crop_border):
    pred, gt = random_pair(5, (30, 26, 3))
    c = slice(crop_border, -crop_border or None)
    y_pred, y_gt = y_channel(pred)[c, c], y_channel(gt)[c, c]
    assert 16 <= y_pred.min() and y_pred.max() <= 235
    expected_psnr = peak_signal_noise_ratio(y_gt, y_pred, data_range=255)
    expected_ssim = structural_similarity(y_gt, y_pred, data_range=255)
    assert psnr(pred, gt, y_channel=True, crop_border=crop_border) == pytest.approx(expected_psnr, abs=1e-6)
    assert ssim(pred, gt, y_channel=True, crop_border=crop_border) == pytest.approx(expected_ssim, abs=1e-6)
    assert psnr(pred, gt, y_channel=True) != pytest.approx(psnr(pred, gt), abs=1e-3)


def test_crop_border():
    pred, gt = random_pair(6, (20, 22, 3))
    pred[:4], gt[:4] = 0, 255  # a bad border that cropping must remove
    inner = (slice(4, -4), slice(4, -4))
    assert psnr(pred, gt, crop_border=4) == pytest.approx(peak_signal_noise_ratio(gt[inner], pred[inner]), abs=1e-6)
    expected_ssim = structural_similarity(gt[inner], pred[inner], channel_axis=-1)
    assert ssim(pred, gt, crop_border=4) == pytest.approx(expected_ssim, abs=1e-6)
    assert psnr(pred, gt, crop_border=4) > psnr(pred, gt) + 1


pair_of_images = st.integers(7, 12).flatmap(
    lambda side: st.tuples(*[arrays(np.uint8, (side, side + 1, 3), elements=st.integers(0, 255))] * 2)
)


@settings(max_examples=25, deadline=None)
@given(pair_of_images)
def test_symmetric(pair):
    a, b = pair
    assert psnr(a, b) == psnr(b, a)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)


def test_identical_images():
    _, gt = random_pair(7)
    assert psnr(gt, gt) == float("inf")
    assert ssim(gt, gt) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------------------------- errors
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(UserError, match=r"\(8, 9, 3\).*\(8, 10, 3\)"):
        psnr(np.zeros((8, 9, 3), np.uint8), np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(UserError, match=r"\(2, 3, 8, 8\).*\(2, 3, 8, 9\)"):
        ssim_batch(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 9))


@pytest.mark.parametrize(
    "bad",
    [np.zeros((8, 8, 3), np.int16), np.zeros((8, 8), np.uint8), torch.zeros(8, 8, 3), [[0, 0, 0]], np.zeros((8, 8, 4))],
)
def test_bad_input_raises_user_error(bad):
    with pytest.raises(UserError):
        psnr(bad, np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("crop_border", [-1, 4, 1.5])
def test_bad_crop_border(crop_border):
    with pytest.raises(UserError, match="crop_border"):
        psnr(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), crop_border=crop_border)


def test_ssim_too_small():
    img = np.zeros((9, 9, 3), np.uint8)
    with pytest.raises(UserError, match="7x7"):
        ssim(img, img, crop_border=2)
    with pytest.raises(UserError, match="7x7"):
        ssim_batch(torch.zeros(1, 3, 6, 9), torch.zeros(1, 3, 6, 9))


def test_batch_rejects_uint8_and_single_images():
    with pytest.raises(UserError, match=r"\(B, 3, H, W\)"):
        psnr_batch(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(UserError, match=r"\(B, 3, H, W\)"):
        psnr_batch(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))


# ----------------------------------------------------------------------------------------------- batched versions
@pytest.mark.parametrize("y", [False, True])
@pytest.mark.parametrize("crop_border", [0, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_agrees_with_single(y, crop_border, dtype):
    torch.manual_seed(0)
    gt = torch.rand(3, 3, 18, 21, dtype=dtype)  # (B, 3, H, W)
    pred = (gt + 0.1 * torch.randn_like(gt)).clamp(0, 1)
    pred[2] = gt[2]  # an identical pair: PSNR inf, SSIM 1
    p = psnr_batch(pred, gt, y_channel=y, crop_border=crop_border)
    s = ssim_batch(pred, gt, y_channel=y, crop_border=crop_border)
    assert p.shape == s.shape == (3,)
    for i in range(3):
        options = dict(y_channel=y, crop_border=crop_border)
        assert p[i].item() == pytest.approx(psnr(pred[i], gt[i], **options), abs=1e-5)
        assert s[i].item() == pytest.approx(ssim(pred[i], gt[i], **options), abs=1e-5)
    assert p[2] == float("inf") and s[2].item() == pytest.approx(1.0, abs=1e-12)


def test_batch_agrees_with_skimage_on_real_image(astronaut_pair):
    pred, gt = (np.ascontiguousarray(img[100:228, 150:300]) for img in astronaut_pair)  # (128, 150, 3)
    pred_t, gt_t = hwc_to_torch(pred)[None] / 255, hwc_to_torch(gt)[None] / 255  # (1, 3, H, W) float32
    assert psnr_batch(pred_t, gt_t).item() == pytest.approx(peak_signal_noise_ratio(gt, pred), abs=1e-6)
    expected = structural_similarity(gt, pred, channel_axis=-1)
    assert ssim_batch(pred_t, gt_t).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_batch_on_cuda_matches_cpu():
    gt = torch.rand(2, 3, 32, 40)
    pred = (gt + 0.05 * torch.randn_like(gt)).clamp(0, 1)
    for metric in (psnr_batch, ssim_batch):
        on_cuda = metric(pred.cuda(), gt.cuda())
        assert on_cuda.device.type == "cuda"
        torch.testing.assert_close(on_cuda.cpu(), metric(pred, gt), rtol=0, atol=1e-5)
