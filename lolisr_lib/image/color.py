"""Colour maths: the sRGB transfer curve, the colour-ratio (CR) map, histogram equalisation, the noise map, luma.

The CR map, the per-channel histogram equalisation and the noise map are three of the four encoder input
features of LLFlow (Wang et al., AAAI 2022), which LoLiSRFlow (arXiv 2402.18871) builds on (design notes,
docs/model.md section 2). ``rgb_to_y`` is the BT.601 luma behind the "Y channel" PSNR/SSIM of SR papers.

Conventions (the whole package follows them): numpy images are channel-last ``(H, W, 3)`` (or ``(N, H, W,
3)``), as scikit-image and PIL give them; torch tensors are channel-first ``(..., 3, H, W)``. Float images
live in [0, 1]; 8-bit images are ``uint8``.
"""

from __future__ import annotations

import numpy as np
import torch

from lolisr_lib.errors import UserError

Array = np.ndarray | torch.Tensor

# BT.601 luma for 8-bit video range, as SR papers (and MATLAB's rgb2ycbcr) compute "Y": with R, G, B in [0, 1],
# Y = 16 + 65.481 R + 128.553 G + 24.966 B, which lies in [16, 235] on the 0..255 scale.
_Y_OFFSET = 16.0
_Y_WEIGHTS = (65.481, 128.553, 24.966)


def _lib(x: Array):
    """The array namespace of ``x``: torch for tensors, numpy otherwise."""
    return torch if isinstance(x, torch.Tensor) else np


def _channel_axis(x: Array) -> int:
    """The channel axis: -1 for numpy (channel-last), -3 for torch (channel-first)."""
    return -3 if isinstance(x, torch.Tensor) else -1


def _check_rgb(img: Array, name: str, *, allow_uint8: bool) -> None:
    """Raise a UserError unless ``img`` is a float (or, if allowed, uint8) RGB image in this package's layout."""
    if not isinstance(img, (np.ndarray, torch.Tensor)):
        raise UserError(f"{name} must be a numpy array or a torch tensor, got {type(img).__name__}.")
    layout = "(..., 3, H, W)" if isinstance(img, torch.Tensor) else "(H, W, 3) or (N, H, W, 3)"
    if img.ndim < 3 or img.shape[_channel_axis(img)] != 3:
        raise UserError(f"{name} must have shape {layout}, got {tuple(img.shape)}.")
    if isinstance(img, torch.Tensor):
        is_float, is_uint8 = img.is_floating_point(), img.dtype == torch.uint8
    else:
        is_float, is_uint8 = np.issubdtype(img.dtype, np.floating), img.dtype == np.uint8
    if not (is_float or (allow_uint8 and is_uint8)):
        wanted = "float in [0, 1] or uint8" if allow_uint8 else "float in [0, 1] (divide a uint8 image by 255)"
        raise UserError(f"{name} has dtype {img.dtype}; use {wanted}.")


def srgb_to_linear(x: Array) -> Array:
    """Decode sRGB values in [0, 1] to linear light (IEC 61966-2-1 piecewise curve)."""
    xp = _lib(x)
    x = xp.clip(x, 0.0, 1.0)
    return xp.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: Array) -> Array:
    """Encode linear light in [0, 1] as sRGB values (IEC 61966-2-1 piecewise curve)."""
    xp = _lib(x)
    x = xp.clip(x, 0.0, 1.0)
    return xp.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def cr_map(img: Array, eps: float = 1e-4) -> Array:
    """Colour-ratio map ``img / (sum over channels + eps)``, per pixel (LLFlow's colour prior).

    Multiplying the image by an exposure factor ``k > 0`` leaves the map unchanged (up to ``eps``), which is why
    it serves as an illumination-invariant prior. Float input in [0, 1]; same shape and dtype out.
    """
    _check_rgb(img, "img", allow_uint8=False)
    axis = _channel_axis(img)
    total = img.sum(axis, keepdims=True) if isinstance(img, np.ndarray) else img.sum(axis, keepdim=True)
    return img / (total + eps)


def quantize_8bit(img: Array) -> Array:
    """Float image in [0, 1] to 8-bit codes ``round(clip(x, 0, 1) * 255)``, computed in the input's own dtype.

    Rounding is half to even (``numpy.rint``/``torch.round``). Numpy returns ``uint8``; torch returns the codes
    as a tensor of the input's float dtype, so that the caller can keep computing on its device.
    """
    if isinstance(img, torch.Tensor):
        return torch.round(img.clamp(0.0, 1.0) * 255)
    return np.rint(np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)


def equalize_hist(img: Array) -> Array:
    """Histogram equalisation of each channel of each image on its own, bit-identical to OpenCV's
    ``cv2.equalizeHist`` applied to every channel separately (LLFlow's encoder input).

    OpenCV's rule, per channel with ``P`` pixels, histogram ``h`` and ``f`` the lowest value present: if
    ``h[f] == P`` (a constant channel) the output is the constant ``f`` itself; otherwise the lookup table is
    ``lut[f] = 0`` and ``lut[v] = round(float32(cumsum(h)[v] - h[f]) * float32(255 / (P - h[f])))`` for
    ``v > f``, the product and the scale in float32 and the rounding half to even. The lowest level thus maps
    to 0 and the highest to 255. (``skimage.exposure.equalize_hist`` pools channels and interpolates: it is a
    different function.)

    Inputs: numpy ``uint8`` ``(..., H, W, 3)`` gives ``uint8``; numpy float in [0, 1] is first quantised with
    ``round(x * 255)`` and gives float in [0, 1] of the same dtype; torch ``(..., 3, H, W)`` float in [0, 1]
    (or ``uint8``) gives the same dtype, on the same device, without gradient.
    """
    _check_rgb(img, "img", allow_uint8=True)
    if isinstance(img, np.ndarray):
        codes = img if img.dtype == np.uint8 else quantize_8bit(img)
        out = _equalize_channels(torch.from_numpy(np.moveaxis(codes, -1, -3)).long())  # (..., 3, H, W)
        out = np.moveaxis(out.numpy(), -3, -1).astype(np.uint8)  # (..., H, W, 3)
        return out if img.dtype == np.uint8 else (out / 255).astype(img.dtype)
    with torch.no_grad():
        codes = img.long() if img.dtype == torch.uint8 else quantize_8bit(img).long()
        out = _equalize_channels(codes)
        if img.dtype == torch.uint8:
            return out.to(torch.uint8)
        # code / 255 looked up from a table made on the CPU: a CUDA division by a scalar multiplies by its
        # reciprocal and can differ by one float32 ulp, and HE features must be identical on every device.
        levels = (torch.arange(256, dtype=img.dtype) / 255).to(img.device)
        return levels[out]


def _equalize_channels(codes: torch.Tensor) -> torch.Tensor:
    """OpenCV's equalisation of every ``(H, W)`` plane of integer codes ``(..., H, W)`` in 0..255, vectorised."""
    shape = codes.shape
    flat = codes.reshape(-1, shape[-2] * shape[-1])  # (N, P): one row per image channel
    n_pixels = flat.shape[1]
    hist = torch.zeros(flat.shape[0], 256, dtype=torch.long, device=codes.device)
    hist.scatter_add_(1, flat, torch.ones_like(flat))  # (N, 256)
    first = (hist > 0).long().argmax(1, keepdim=True)  # (N, 1): lowest level present
    h_first = hist.gather(1, first)  # (N, 1)
    # float32 throughout, as OpenCV computes `sum * scale` with `scale = 255.f / (total - hist[first])`; a true
    # division (`255.0 / tensor` would be a reciprocal then a product, rounded twice, and differ in the last bit).
    # The clamp avoids 0/0 for constant channels, whose table is replaced below anyway.
    denominator = (n_pixels - h_first).clamp(min=1).to(torch.float32)  # (N, 1)
    scale = torch.full_like(denominator, 255.0) / denominator
    counts_above_first = (hist.cumsum(1) - h_first).to(torch.float32)  # negative below `first`: never looked up
    lut = torch.round(counts_above_first * scale).clamp(0, 255).long()  # (N, 256), round half to even
    constant = h_first == n_pixels  # (N, 1): OpenCV returns such a channel unchanged
    lut = torch.where(constant, first.expand_as(lut), lut)
    return lut.gather(1, flat).reshape(shape)


def noise_map(cr: Array) -> Array:
    """LLFlow's noise map: per channel ``max(|d cr/dx|, |d cr/dy|)``.

    Derivatives are central differences ``(f[i+1] - f[i-1]) / 2`` inside the image and one-sided differences
    ``f[1] - f[0]``, ``f[-1] - f[-2]`` at the borders, as ``numpy.gradient`` does by default. Input: a CR map
    (any float image) numpy ``(..., H, W, 3)`` or torch ``(..., 3, H, W)``, with ``H, W >= 2``.
    """
    _check_rgb(cr, "cr", allow_uint8=False)
    is_torch = isinstance(cr, torch.Tensor)
    y_axis, x_axis = (-2, -1) if is_torch else (-3, -2)
    if cr.shape[y_axis] < 2 or cr.shape[x_axis] < 2:
        raise UserError(f"cr must be at least 2x2 pixels to take derivatives, got shape {tuple(cr.shape)}.")
    if is_torch:
        d_dy, d_dx = torch.gradient(cr, dim=(y_axis, x_axis))
        return torch.maximum(d_dx.abs(), d_dy.abs())
    d_dy, d_dx = np.gradient(cr, axis=(y_axis, x_axis))
    return np.maximum(np.abs(d_dx), np.abs(d_dy))


def rgb_to_y(img: Array) -> Array:
    """BT.601 luma ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1], on the 0..255 scale.

    The "Y channel" of SR papers (MATLAB ``rgb2ycbcr``, BasicSR ``rgb2ycbcr(y_only=True)``): values in
    [16, 235], not rounded. 8-bit input (``uint8``) is read as ``value / 255``; float input as [0, 1]. The
    channel axis is removed: numpy ``(..., H, W, 3)`` gives float64 ``(..., H, W)``; torch ``(..., 3, H, W)``
    gives ``(..., H, W)`` in the input's float dtype (float32 for ``uint8``).
    """
    _check_rgb(img, "img", allow_uint8=True)
    if isinstance(img, torch.Tensor):
        rgb = img.float() / 255 if img.dtype == torch.uint8 else img
        weights = torch.tensor(_Y_WEIGHTS, dtype=rgb.dtype, device=rgb.device)
        return _Y_OFFSET + torch.einsum("...chw,c->...hw", rgb, weights)
    rgb = img / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    return _Y_OFFSET + rgb @ np.asarray(_Y_WEIGHTS)
