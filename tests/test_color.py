"""Tests for lolisr_lib.image.color: sRGB curve, CR map, OpenCV-identical histogram equalisation, noise map, luma."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lolisr_lib.errors import UserError
from lolisr_lib.image.color import (
    cr_map,
    equalize_hist,
    linear_to_srgb,
    noise_map,
    quantize_8bit,
    rgb_to_y,
    srgb_to_linear,
)

FAST = settings(max_examples=40, deadline=None)


def rgb_images(min_side=1, max_side=12, elements=None, dtype=np.float64):
    """Hypothesis strategy: numpy (H, W, 3) images."""
    shapes = st.tuples(st.integers(min_side, max_side), st.integers(min_side, max_side), st.just(3))
    elements = elements if elements is not None else st.floats(0, 1)
    return arrays(dtype, shapes, elements=elements)


uint8_images = rgb_images(elements=st.integers(0, 255), dtype=np.uint8)


def to_torch(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) numpy to (3, H, W) torch."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


# ----------------------------------------------------------------------------------------------- sRGB curve
@FAST
@given(rgb_images())
def test_srgb_round_trip(img):
    # atol 1e-7, not 1e-12: the standard's two thresholds disagree slightly (0.04045 / 12.92 != 0.0031308).
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(img)), img, atol=1e-7)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(img)), img, atol=1e-7)


def test_srgb_known_values_numpy_and_torch():
    x = np.array([0.0, 0.04045, 0.5, 1.0])
    expected = np.array([0.0, 0.04045 / 12.92, ((0.5 + 0.055) / 1.055) ** 2.4, 1.0])
    np.testing.assert_allclose(srgb_to_linear(x), expected)
    np.testing.assert_allclose(srgb_to_linear(torch.from_numpy(x)).numpy(), expected)


# ----------------------------------------------------------------------------------------------- CR map
@FAST
@given(rgb_images(elements=st.floats(0.05, 1)), st.floats(0.5, 2.0))
def test_cr_map_invariant_to_exposure(img, k):
    # Away from the eps regime (channel sums >= 0.15 here) the map ignores the exposure factor k.
    np.testing.assert_allclose(cr_map(k * img), cr_map(img), atol=2e-3)
    np.testing.assert_allclose(cr_map(k * img, eps=0.0), cr_map(img, eps=0.0), rtol=1e-12)


@FAST
@given(rgb_images(elements=st.floats(0.05, 1)))
def test_cr_map_sums_to_one_over_channels(img):
    cr = cr_map(img)
    assert cr.shape == img.shape
    np.testing.assert_allclose(cr.sum(-1), 1.0, atol=1e-3)
    np.testing.assert_allclose(cr, img / (img.sum(-1, keepdims=True) + 1e-4), rtol=1e-12)


def test_cr_map_torch_uses_channel_axis_minus_3():
    img = torch.rand(2, 3, 4, 5, dtype=torch.float64)  # (B, 3, H, W)
    cr = cr_map(img)
    assert cr.shape == img.shape
    torch.testing.assert_close(cr, img / (img.sum(1, keepdim=True) + 1e-4))
    expected = cr_map(img.permute(0, 2, 3, 1).numpy())  # numpy (B, H, W, 3)
    np.testing.assert_allclose(cr.permute(0, 2, 3, 1).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4)), torch.zeros(4, 4, 3), np.zeros((4, 3))]
)
def test_cr_map_rejects_bad_input(bad):
    with pytest.raises(UserError):
        cr_map(bad)


# ----------------------------------------------------------------------------------------------- histogram equalisation
# Golden values computed with cv2.equalizeHist (opencv-python-headless 5.0.0) applied to each channel.
# Channels (listed channel-first): dark with few levels; constant 77 (OpenCV leaves it unchanged); two values.
GOLDEN_1_IN = [
    [[5, 3, 4, 5, 3], [4, 5, 1, 0, 1], [1, 5, 5, 0, 2], [4, 0, 4, 0, 2]],
    [[77] * 5] * 4,
    [[200, 3, 3, 3, 200], [3, 200, 3, 3, 200], [200, 200, 200, 200, 200], [200, 200, 200, 3, 200]],
]
GOLDEN_1_OUT = [
    [[255, 112, 175, 255, 112], [175, 255, 48, 0, 48], [48, 255, 255, 0, 80], [175, 0, 175, 0, 80]],
    [[77] * 5] * 4,
    [[255, 0, 0, 0, 255], [0, 255, 0, 0, 255], [255, 255, 255, 255, 255], [255, 255, 255, 0, 255]],
]
# Random, a bright channel with four levels 250..253, random.
GOLDEN_2_IN = [
    [[119, 41, 29, 9, 248, 234], [112, 127, 254, 49, 225, 94], [158, 39, 247, 130, 181, 189]],
    [[250, 253, 250, 250, 251, 253], [252, 251, 250, 253, 250, 251], [253, 252, 253, 253, 252, 251]],
    [[216, 156, 113, 131, 206, 161], [68, 63, 24, 177, 184, 0], [169, 68, 47, 216, 10, 23]],
]
GOLDEN_2_OUT = [
    [[105, 45, 15, 0, 240, 210], [90, 120, 255, 60, 195, 75], [150, 30, 225, 135, 165, 180]],
    [[0, 255, 0, 0, 78, 255], [137, 78, 0, 255, 0, 78], [255, 137, 255, 255, 137, 78]],
    [[255, 150, 120, 135, 225, 165], [105, 75, 45, 195, 210, 0], [180, 105, 60, 255, 15, 30]],
]
# One-row channels (same row in all three channels): (input, cv2 output of its first values). The first two
# hit an exact .5 (42.5 and 2.5), which OpenCV rounds half to even.
GOLDEN_ROWS = [
    ([5, 6, 7, 7, 7, 7, 7], [0, 42, 255]),
    ([0, 1] + [2] * 101, [0, 2, 255]),
    ([0, 1, 1, 1] + [2] * 99, [0, 8, 8, 8, 255]),
    ([255] * 4, [255, 255, 255, 255]),
    ([0, 255, 0, 255, 255], [0, 255, 0, 255, 255]),
    ([9, 10, 11, 12], [0, 85, 170, 255]),
]


def reference_equalize_channel(channel: np.ndarray) -> np.ndarray:
    """OpenCV's rule written from its formula, one level at a time (slow, obvious)."""
    hist = [int((channel == v).sum()) for v in range(256)]
    first = next(v for v in range(256) if hist[v])
    total = channel.size
    if hist[first] == total:
        return channel.copy()
    scale = np.float32(255) / np.float32(total - hist[first])
    lut, running = {first: 0}, 0
    for v in range(first + 1, 256):
        running += hist[v]
        lut[v] = int(np.rint(np.float32(running) * scale))
    return np.vectorize(lut.get)(channel).astype(np.uint8)


def reference_equalize(img: np.ndarray) -> np.ndarray:
    return np.stack([reference_equalize_channel(img[..., c]) for c in range(3)], -1)


@pytest.mark.parametrize("golden_in, golden_out", [(GOLDEN_1_IN, GOLDEN_1_OUT), (GOLDEN_2_IN, GOLDEN_2_OUT)])
def test_equalize_hist_matches_cv2_golden(golden_in, golden_out):
    img = np.moveaxis(np.array(golden_in, np.uint8), 0, -1)  # (H, W, 3)
    expected = np.moveaxis(np.array(golden_out, np.uint8), 0, -1)
    out = equalize_hist(img)
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(reference_equalize(img), expected)
    out_torch = equalize_hist(to_torch(img)[None].float() / 255)  # (1, 3, H, W)
    np.testing.assert_array_equal(quantize_8bit(out_torch)[0].permute(1, 2, 0).numpy(), expected)


@pytest.mark.parametrize("row, expected_start", GOLDEN_ROWS)
def test_equalize_hist_matches_cv2_rows(row, expected_start):
    img = np.repeat(np.array(row, np.uint8)[None, :, None], 3, axis=-1)  # (1, W, 3)
    out = equalize_hist(img)
    for c in range(3):
        assert out[0, : len(expected_start), c].tolist() == expected_start


@settings(max_examples=60, deadline=None)
@given(st.one_of(uint8_images, rgb_images(elements=st.integers(0, 4), dtype=np.uint8)))
def test_equalize_hist_matches_formula(img):
    np.testing.assert_array_equal(equalize_hist(img), reference_equalize(img))


@FAST
@given(uint8_images, st.data())
def test_equalize_hist_channels_are_independent(img, data):
    other = data.draw(arrays(np.uint8, img.shape[:2], elements=st.integers(0, 255)))
    changed = img.copy()
    changed[..., 2] = other
    np.testing.assert_array_equal(equalize_hist(changed)[..., :2], equalize_hist(img)[..., :2])


@FAST
@given(uint8_images)
def test_equalize_hist_uses_full_range(img):
    out = equalize_hist(img)
    for c in range(3):
        if np.unique(img[..., c]).size > 1:
            assert out[..., c].min() == 0 and out[..., c].max() == 255
        else:  # a constant channel is returned unchanged
            np.testing.assert_array_equal(out[..., c], img[..., c])


def test_equalize_hist_numpy_float_and_torch_batch_agree_with_uint8():
    rng = np.random.default_rng(0)
    batch = (rng.random((4, 9, 11, 3)) ** 3 * 80).astype(np.uint8)  # (B, H, W, 3), dark
    expected = np.stack([equalize_hist(img) for img in batch])
    np.testing.assert_array_equal(equalize_hist(batch), expected)  # numpy batches work too
    as_float = equalize_hist(batch.astype(np.float32) / 255)
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(quantize_8bit(as_float), expected)
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).double() / 255  # (B, 3, H, W)
    out = equalize_hist(tensor.requires_grad_())
    assert out.shape == tensor.shape and out.dtype == torch.float64 and not out.requires_grad
    assert 0 <= out.min() and out.max() <= 1
    np.testing.assert_array_equal(quantize_8bit(out).permute(0, 2, 3, 1).numpy(), expected)
    out_u8 = equalize_hist(torch.from_numpy(batch).permute(0, 3, 1, 2))
    assert out_u8.dtype == torch.uint8
    np.testing.assert_array_equal(out_u8.permute(0, 2, 3, 1).numpy(), expected)


def test_equalize_hist_quantises_floats_by_rounding():
    img = np.zeros((2, 2, 3))
    img[0, 0] = 0.6 / 255  # rounds to level 1, not down to 0
    out = equalize_hist(img)
    np.testing.assert_array_equal(out[0, 0], 1.0)
    np.testing.assert_array_equal(out[1, 1], 0.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_equalize_hist_cuda_matches_cpu():
    img = torch.rand(3, 3, 64, 48) ** 3
    out = equalize_hist(img.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), equalize_hist(img), rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------- noise map
def test_noise_map_hand_computed():
    channel0 = np.array([[0.0, 1, 4], [2, 2, 2], [0, 0, 6]])
    # d/dx rows: [1, 2, 3], [0, 0, 0], [0, 3, 6]; d/dy columns: [2, 0, -2], [1, -0.5, -2], [-2, 1, 4].
    expected0 = np.array([[2.0, 2, 3], [0, 0.5, 1], [2, 3, 6]])
    ramp = np.tile(0.1 * np.arange(3.0), (3, 1))  # slope 0.1 along x
    cr = np.stack([channel0, np.full((3, 3), 0.3), ramp], -1)  # (3, 3, 3)
    expected = np.stack([expected0, np.zeros((3, 3)), np.full((3, 3), 0.1)], -1)
    np.testing.assert_allclose(noise_map(cr), expected, atol=1e-12)
    out_torch = noise_map(to_torch(cr)[None])  # (1, 3, 3, 3)
    np.testing.assert_allclose(out_torch[0].permute(1, 2, 0).numpy(), expected, atol=1e-12)


def test_noise_map_matches_numpy_gradient_and_needs_2x2():
    cr = cr_map(np.random.default_rng(1).random((5, 7, 3)))
    d_dy, d_dx = np.gradient(cr, axis=(0, 1))
    np.testing.assert_allclose(noise_map(cr), np.maximum(abs(d_dx), abs(d_dy)))
    with pytest.raises(UserError, match="2x2"):
        noise_map(np.zeros((1, 5, 3)))


# ----------------------------------------------------------------------------------------------- luma
def test_rgb_to_y_convention():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)  # (1, 5, 3)
    expected = [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966]
    np.testing.assert_allclose(rgb_to_y(img)[0], expected, atol=1e-9)
    np.testing.assert_allclose(rgb_to_y(img / 255.0)[0], expected, atol=1e-9)
    y_torch = rgb_to_y(to_torch(img).double() / 255)  # (1, 5)
    np.testing.assert_allclose(y_torch[0].numpy(), expected, atol=1e-9)
    assert rgb_to_y(to_torch(img)).dtype == torch.float32


@pytest.mark.parametrize(
    "function, bad",
    [
        (equalize_hist, np.zeros((4, 4, 3), np.int64)),
        (equalize_hist, torch.zeros(3, 4, 4, dtype=torch.int32)),
        (rgb_to_y, np.zeros((4, 4, 3), np.uint16)),
        (noise_map, np.zeros((4, 4, 3), np.uint8)),
        (equalize_hist, np.zeros((4, 4, 2), np.uint8)),
    ],
)
def test_bad_dtype_or_shape_raises_user_error(function, bad):
    with pytest.raises(UserError):
        function(bad)
