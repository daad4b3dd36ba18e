"""Colour maths: the sRGB transfer curve, the colour-ratio (CR) map, histogram equalisation, the noise map.

Conventions (the whole package follows them): numpy images are channel-last ``(H, W, 3)`` (or ``(N, H, W,
3)``), as scikit-image and PIL give them; torch tensors are channel-first ``(..., 3, H, W)``. Float images
live in [0, 1]; 8-bit images are ``uint8``.
"""

from __future__ import annotations

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def _lib(x: Array):
    """The array namespace of ``x``: torch for tensors, numpy otherwise."""
    return torch if isinstance(x, torch.Tensor) else np


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
