"""Image-quality metrics: PSNR and SSIM under evaluation protocol A (design notes, docs/data.md).

Protocol A is what the LoLiSRFlow line of work (arXiv 2402.18871 and its lab's papers on RELLISUR) reports:
8-bit RGB images, the full image, scikit-image's ``peak_signal_noise_ratio(gt, pred)`` (data range 255) and
``structural_similarity(gt, pred, channel_axis=-1)`` (Wang et al. 2004 with a 7x7 uniform window, sample
covariance, K1 = 0.01, K2 = 0.03, data range 255, mean over the map cropped by 3 pixels, then over channels).

Two switches, both off by default: ``y_channel`` scores the BT.601 luma (``color.rgb_to_y``: float64 on the
0..255 scale, values in [16, 235], not rounded) with data range 255, as SR papers do; ``crop_border`` removes
that many pixels from each side first.

Float images in [0, 1] are first quantised as an 8-bit PNG would store them, ``round(clip(x, 0, 1) * 255)``
(half to even, in the input's own dtype). ``psnr``/``ssim`` score one image and return a float;
``psnr_batch``/``ssim_batch`` score a ``(B, 3, H, W)`` batch on its device (validation during training) and
agree with them to ~1e-10 in float64.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from lolisr_lib.errors import UserError
from lolisr_lib.image.color import quantize_8bit, rgb_to_y

Array = np.ndarray | torch.Tensor

DATA_RANGE = 255.0  # peak value of 8-bit images, used for RGB and for Y alike
SSIM_WIN = 7  # side of scikit-image's default uniform window
SSIM_K1, SSIM_K2 = 0.01, 0.03  # Wang et al. 2004 stabilising constants


def psnr(pred: Array, gt: Array, *, y_channel: bool = False, crop_border: int = 0) -> float:
    """PSNR in dB of one image, ``10 log10(255^2 / MSE)``; ``inf`` for identical images. Symmetric.

    ``pred``/``gt``: numpy ``uint8`` or float ``(H, W, 3)``, or torch float ``(3, H, W)`` in [0, 1].
    """
    a, b = _prepare_pair(pred, gt, y_channel, crop_border)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(DATA_RANGE**2 / mse))


def ssim(pred: Array, gt: Array, *, y_channel: bool = False, crop_border: int = 0) -> float:
    """Mean SSIM of one image, exactly scikit-image's ``structural_similarity`` with its defaults (see above).

    ``pred``/``gt`` as for :func:`psnr`; at least 7x7 pixels after ``crop_border``.
    """
    a, b = _prepare_pair(pred, gt, y_channel, crop_border)
    _check_ssim_size(a.shape[0], a.shape[1], pred, crop_border)
    return float(
        structural_similarity(
            b, a, win_size=SSIM_WIN, gaussian_weights=False, use_sample_covariance=True, K1=SSIM_K1, K2=SSIM_K2,
            data_range=DATA_RANGE, channel_axis=None if y_channel else -1,
        )
    )


def psnr_batch(pred: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0) -> torch.Tensor:
    """PSNR of every image of a batch ``(B, 3, H, W)`` in [0, 1]: a ``(B,)`` tensor on the input's device."""
    x, y = _prepare_batch(pred, gt, y_channel, crop_border)
    mse = ((x - y) ** 2).mean(dim=(1, 2, 3))  # (B,)
    return 10 * torch.log10(DATA_RANGE**2 / mse)  # 255^2 / 0 = inf for identical images


def ssim_batch(pred: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0) -> torch.Tensor:
    """Mean SSIM of every image of a batch ``(B, 3, H, W)`` in [0, 1]: a ``(B,)`` tensor, equal to :func:`ssim`.

    The 7x7 box filter is an ``avg_pool2d`` without padding, whose output covers exactly the pixels that
    scikit-image keeps after cropping ``(7 - 1) // 2`` pixels from its full-size filtered maps.
    """
    x, y = _prepare_batch(pred, gt, y_channel, crop_border)
    _check_ssim_size(x.shape[-2], x.shape[-1], pred, crop_border)
    n = SSIM_WIN**2
    cov_norm = n / (n - 1)  # sample (unbiased) covariance, scikit-image's default

    def box(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, SSIM_WIN, stride=1)  # (B, C, H - 6, W - 6)

    ux, uy = box(x), box(y)
    vx = cov_norm * (box(x * x) - ux * ux)
    vy = cov_norm * (box(y * y) - uy * uy)
    vxy = cov_norm * (box(x * y) - ux * uy)
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    ssim_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return ssim_map.mean(dim=(1, 2, 3))  # (B,): channels have equal sizes, so this is the mean of channel means


def _prepare_pair(pred: Array, gt: Array, y_channel: bool, crop_border: int) -> tuple[np.ndarray, np.ndarray]:
    """Both images as uint8 ``(H, W, 3)``, or float64 Y ``(H, W)``, cropped."""
    a, b = _to_uint8_hwc(pred, "pred"), _to_uint8_hwc(gt, "gt")
    if a.shape != b.shape:
        raise UserError(
            f"pred has shape {tuple(pred.shape)} and gt has shape {tuple(gt.shape)}: they must be the same image "
            "size. Crop or resize one of them (super-resolved outputs must be scale times the LR input)."
        )
    a, b = (rgb_to_y(a), rgb_to_y(b)) if y_channel else (a, b)
    return _crop(a, crop_border, -3 if a.ndim == 3 else -2), _crop(b, crop_border, -3 if b.ndim == 3 else -2)


def _to_uint8_hwc(img: Array, name: str) -> np.ndarray:
    """One RGB image as numpy uint8 ``(H, W, 3)``; floats are quantised with ``round(clip(x, 0, 1) * 255)``."""
    if isinstance(img, torch.Tensor):
        if img.ndim != 3 or img.shape[0] != 3:
            raise UserError(f"{name} must be a torch tensor of shape (3, H, W), got {tuple(img.shape)}.")
        img = img.detach().cpu().permute(1, 2, 0).numpy()  # (H, W, 3)
    elif not isinstance(img, np.ndarray):
        raise UserError(f"{name} must be a numpy array or a torch tensor, got {type(img).__name__}.")
    elif img.ndim != 3 or img.shape[-1] != 3:
        raise UserError(f"{name} must be a numpy array of shape (H, W, 3), got {img.shape}.")
    if img.dtype == np.uint8:
        return img
    if not np.issubdtype(img.dtype, np.floating):
        raise UserError(f"{name} has dtype {img.dtype}; use uint8 in 0..255 or float in [0, 1].")
    return quantize_8bit(img)


def _prepare_batch(
    pred: torch.Tensor, gt: torch.Tensor, y_channel: bool, crop_border: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both batches as 8-bit code values (or Y) ``(B, C, H, W)``, cropped, in float64 (float32 where a device
    has no float64, e.g. Apple MPS)."""
    for name, t in (("pred", pred), ("gt", gt)):
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[1] != 3 or not t.is_floating_point():
            shape = tuple(t.shape) if hasattr(t, "shape") else type(t).__name__
            raise UserError(f"{name} must be a float torch tensor (B, 3, H, W) in [0, 1], got {shape}.")
    if pred.shape != gt.shape:
        raise UserError(
            f"pred has shape {tuple(pred.shape)} and gt has shape {tuple(gt.shape)}: they must be equal."
        )
    dtype = torch.float32 if pred.device.type == "mps" else torch.float64
    with torch.no_grad():
        # Quantise in the input dtype, as `psnr`/`ssim` do, so that both agree on every rounding.
        x, y = quantize_8bit(pred).to(dtype), quantize_8bit(gt.to(pred.device)).to(dtype)  # (B, 3, H, W)
        if y_channel:
            x, y = rgb_to_y(x / 255).unsqueeze(1), rgb_to_y(y / 255).unsqueeze(1)  # (B, 1, H, W)
        return _crop(x, crop_border, -2), _crop(y, crop_border, -2)


def _crop(img: Array, border: int, y_axis: int) -> Array:
    """Remove ``border`` pixels from each side of the two spatial axes ``y_axis`` and ``y_axis + 1``."""
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise UserError(f"crop_border must be a non-negative integer, got {border!r}.")
    height, width = img.shape[y_axis], img.shape[y_axis + 1]
    if 2 * border >= min(height, width):
        raise UserError(f"crop_border={border} removes the whole {height}x{width} image; use a smaller value.")
    if border == 0:
        return img
    index = [slice(None)] * img.ndim
    index[y_axis] = slice(border, height - border)
    index[y_axis + 1] = slice(border, width - border)
    return img[tuple(index)]


def _check_ssim_size(height: int, width: int, pred: Array, crop_border: int) -> None:
    if min(height, width) < SSIM_WIN:
        raise UserError(
            f"SSIM needs at least {SSIM_WIN}x{SSIM_WIN} pixels, but pred of shape {tuple(pred.shape)} leaves "
            f"{height}x{width} after crop_border={crop_border}."
        )
