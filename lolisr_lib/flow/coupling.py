"""Conditional affine layers of the flow: the affine injector and the conditional affine coupling (SRFlow).

SRFlow (Lugmayr et al., ECCV 2020, arXiv 2006.14200) conditions every flow step on encoder features
through two affine layers; LLFlow reuses them and LoLiSRFlow (arXiv 2402.18871) lists both among its
flow-step layers (``docs/model.md`` section 4):

- affine injector: ``(shift, raw) = NN(cond)``, ``y = (x + shift) * scale(raw)``;
- conditional affine coupling: ``x = (x1, x2)``, ``(shift, raw) = NN(cat(x1, cond))``,
  ``y = (x1, (x2 + shift) * scale(raw))``.

Both are invertible whatever the network computes, because the network never sees the channels it
transforms. ``log|det| = sum over (C, H, W) of log scale(raw)``.

The scale function is a choice (``scale_fn``):

- ``"softclamp"`` (default, ours): ``log scale = c * tanh(raw / c)`` with ``c = 2``, so each layer
  scales each value by a factor in ``[e^-2, e^2]`` in *both* directions; ``raw = 0`` gives scale 1
  (identity). The shift is not bounded, so this caps the scale's growth, not every growth.
- ``"sigmoid"`` (LLFlow/SRFlow): ``scale = sigmoid(raw + 2) + 1e-4``, which can only shrink going forward
  (scale < 1.0001) and so can grow by up to 1e4 per layer in the inverse, the "exploding inverse".
  ``raw = 0`` gives ``sigmoid(2) + 1e-4 ~ 0.881``, as in SRFlow.

Both layers keep the contract of ``flow/base.py``. The code is the maths as written; at inference the fast path
applies the affine map in place, reusing one temporary instead of allocating three (same bits): that form is in
``runtime/fast_flow.py``, used when a layer's ``fast`` flag is set (``runtime/fastpath.py`` sets it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lolisr_lib.errors import ConfigError, UserError
from lolisr_lib.flow.base import InvertibleLayer
from lolisr_lib.runtime import fast_flow

SOFTCLAMP = 2.0  # c: the log-scale of one softclamp layer lies in [-c, c]
SIGMOID_SHIFT = 2.0  # SRFlow's offset: sigmoid(raw + 2), so raw = 0 is a mild shrink
SIGMOID_FLOOR = 1e-4  # SRFlow's floor on the scale, which caps the inverse growth at 1e4 per layer


def softclamp_log_scale(raw: torch.Tensor) -> torch.Tensor:
    """``log scale = c * tanh(raw / c)``, ``c = 2``: smooth, equal to ``raw`` near 0, bounded by ``c``."""
    return SOFTCLAMP * torch.tanh(raw / SOFTCLAMP)


def sigmoid_log_scale(raw: torch.Tensor) -> torch.Tensor:
    """``log scale = log(sigmoid(raw + 2) + 1e-4)`` (LLFlow/SRFlow): in ``(log 1e-4, log 1.0001)``."""
    return torch.log(torch.sigmoid(raw + SIGMOID_SHIFT) + SIGMOID_FLOOR)


LOG_SCALE_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softclamp": softclamp_log_scale,
    "sigmoid": sigmoid_log_scale,
}


def log_scale_function(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The function ``raw -> log scale`` called ``name`` (a key of :data:`LOG_SCALE_FUNCTIONS`)."""
    if name not in LOG_SCALE_FUNCTIONS:
        raise ConfigError(f"unknown scale_fn {name!r}; choose one of {', '.join(LOG_SCALE_FUNCTIONS)}")
    return LOG_SCALE_FUNCTIONS[name]


def coupling_subnet(in_channels: int, out_channels: int, hidden: int) -> nn.Sequential:
    """3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialised 3x3 conv (SRFlow's coupling network).

    The last convolution starts at zero, so the network outputs 0 and every affine layer starts at
    ``shift = 0, raw = 0``: the identity with softclamp, and a fixed mild shrink with sigmoid.
    """
    last = nn.Conv2d(hidden, out_channels, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    # In-place ReLUs: the preceding convolutions do not need their outputs for the backward pass, so this
    # only saves two allocations per call (no parameters, the state_dict keys are unchanged).
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, hidden, 1),
        nn.ReLU(inplace=True),
        last,
    )


def _affine(x: torch.Tensor, shift: torch.Tensor, log_scale: torch.Tensor, fast: bool) -> torch.Tensor:
    """``(x + shift) * exp(log_scale)``; with ``fast``, the fast path's in-place form of it."""
    if fast:
        return fast_flow.affine(x, shift, log_scale)
    return (x + shift) * torch.exp(log_scale)


def _affine_inverse(y: torch.Tensor, shift: torch.Tensor, log_scale: torch.Tensor, fast: bool) -> torch.Tensor:
    """``y * exp(-log_scale) - shift``, the inverse of :func:`_affine`; with ``fast``, its in-place form."""
    if fast:
        return fast_flow.affine_inverse(y, shift, log_scale)
    return y * torch.exp(-log_scale) - shift


def _at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 (float64 kept). Under bf16 autocast the networks run in bf16, but the log-scales are
    computed, applied and summed into the log-det in float32: bf16's 8-bit mantissa would round every
    scale by up to 0.4%, compounding over the flow's dozens of affine layers."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def _require_cond(cond, layer: str) -> torch.Tensor:
    if cond is None:
        raise UserError(f"{layer} needs a condition tensor cond of shape (B, cond_channels, H, W); got None")
    return cond


class AffineInjector(InvertibleLayer):
    """``(shift, raw) = NN(cond)``, ``y = (x + shift) * scale(raw)`` (SRFlow's affine injector).

    ``NN`` maps ``cond`` ``(B, cond_channels, H, W)`` to ``2 * channels`` maps: the first ``channels`` are
    the shift, the rest the raw scale. ``log|det| = sum log scale(raw)`` over ``(C, H, W)``.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int, scale_fn: str = "softclamp"):
        super().__init__()
        self.scale_fn = scale_fn
        self.log_scale_fn = log_scale_function(scale_fn)  # raw -> log scale
        self.net = coupling_subnet(cond_channels, 2 * channels, hidden)

    def _shift_log_scale(self, cond) -> tuple[torch.Tensor, torch.Tensor]:
        shift, raw = self.net(_require_cond(cond, "AffineInjector")).chunk(2, dim=1)  # 2 x (B, C, H, W)
        return shift, self.log_scale_fn(_at_least_float32(raw))

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_log_scale(cond)
        return _affine(x, shift, log_scale, self.fast), log_scale.sum(dim=(1, 2, 3))

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_log_scale(cond)
        return _affine_inverse(y, shift, log_scale, self.fast), -log_scale.sum(dim=(1, 2, 3))


class CondAffineCoupling(InvertibleLayer):
    """``x = (x1, x2)``; ``(shift, raw) = NN(cat(x1, cond))``; ``y = (x1, (x2 + shift) * scale(raw))`` (SRFlow).

    ``x1`` is the first ``ceil(C / 2)`` channels and passes through unchanged; ``x2`` the remaining
    ``floor(C / 2)``. ``log|det| = sum log scale(raw)`` over ``x2``'s ``(C, H, W)``. The preceding
    InvConv1x1 mixes channels, so which half is transformed changes from step to step.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int, scale_fn: str = "softclamp"):
        super().__init__()
        self.scale_fn = scale_fn
        self.log_scale_fn = log_scale_function(scale_fn)  # raw -> log scale
        self.split_sizes = (channels - channels // 2, channels // 2)  # (x1, x2)
        self.net = coupling_subnet(self.split_sizes[0] + cond_channels, 2 * self.split_sizes[1], hidden)

    def _shift_log_scale(self, x1: torch.Tensor, cond) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(torch.cat([x1, _require_cond(cond, "CondAffineCoupling")], dim=1))  # (B, 2*C2, H, W)
        shift, raw = h.chunk(2, dim=1)  # 2 x (B, C2, H, W)
        return shift, self.log_scale_fn(_at_least_float32(raw))

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        x1, x2 = x.split(self.split_sizes, dim=1)
        shift, log_scale = self._shift_log_scale(x1, cond)
        return torch.cat([x1, _affine(x2, shift, log_scale, self.fast)], dim=1), log_scale.sum(dim=(1, 2, 3))

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        y1, y2 = y.split(self.split_sizes, dim=1)
        shift, log_scale = self._shift_log_scale(y1, cond)
        y2 = _affine_inverse(y2, shift, log_scale, self.fast)
        return torch.cat([y1, y2], dim=1), -log_scale.sum(dim=(1, 2, 3))
