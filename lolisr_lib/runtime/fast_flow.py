"""Fast forms of the flow layers' maths: the same values as ``flow/layers.py`` and ``flow/coupling.py`` compute,
obtained with less work. A layer uses them when its ``fast`` attribute is set (``flow/base.py``), which
``fastpath.prepare_for_inference`` and ``prepare_for_training`` do (``fastpath.use_fast_flow``).

- **In-place affine maths at inference** (AffineInjector, CondAffineCoupling): ``(x + shift) * exp(log_scale)``
  and its inverse reuse one temporary instead of allocating three. Same bits; with autograd on, the plain formula.
- **Cached 1x1 weights at inference** (InvConv1x1): ``W`` and ``W^-1`` are kept between calls instead of being
  assembled from their LU factors (and two triangular solves) every call, since every pixel of every call uses
  the same weights. Keyed by the versions and storage of the parameters and buffers, so an in-place update,
  ``load_state_dict`` or ``.to()`` rebuilds them; with autograd on or in training mode they are always rebuilt
  (and a training-mode call drops the cache).
- **A remembered ActNorm flag** (ActNorm): once the ``initialized`` buffer reads true it is remembered in Python,
  because reading a GPU tensor is a device sync on every training call, and inside ``torch.compile`` a
  data-dependent branch that splits the graph. Forgotten when a state_dict is loaded.

Dropped: the soft clamp evaluated as ``2c sigmoid(2 raw / c) - c`` instead of ``c tanh(raw / c)``. It was chosen
when torch's CPU ``tanh`` ran 6-7x slower than ``sigmoid``; with torch 2.13 on an AVX-512 CPU the ``tanh`` form
is the faster one (``benchmarks/README.md``), so the layers keep the formula as written.

The flow layers import this module, so it imports nothing from the flow: it works on the layers' attributes.
:func:`use_weight_cache` and :func:`use_remembered_flag` switch one layer and start its state afresh;
``fastpath.use_fast_flow`` switches every layer of a model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


# ------------------------------------------------------------------------------------- in-place affine maths
def _in_place_ok(x: torch.Tensor, shift: torch.Tensor, log_scale: torch.Tensor) -> bool:
    """Whether the affine maths may reuse its temporaries: autograd needs none of them, and the result's dtype
    (``log_scale``'s, in place) is the one the out-of-place formula would promote to."""
    if torch.is_grad_enabled() and (x.requires_grad or shift.requires_grad or log_scale.requires_grad):
        return False
    return log_scale.dtype == torch.promote_types(torch.promote_types(x.dtype, shift.dtype), log_scale.dtype)


def affine(x: torch.Tensor, shift: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """``(x + shift) * exp(log_scale)``; at inference in place, saving two of three temporaries."""
    if not _in_place_ok(x, shift, log_scale):
        return (x + shift) * torch.exp(log_scale)
    return torch.exp(log_scale).mul_(x + shift)


def affine_inverse(y: torch.Tensor, shift: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """``y * exp(-log_scale) - shift``, the inverse of :func:`affine`; at inference in place (same bits)."""
    if not _in_place_ok(y, shift, log_scale):
        return y * torch.exp(-log_scale) - shift
    return log_scale.neg().exp_().mul_(y).sub_(shift)


# ------------------------------------------------------------------------------------------ cached 1x1 weights
def _is_compiling() -> bool:
    """True while torch.compile traces (``torch.compiler.is_compiling`` is missing from torch < 2.3)."""
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling()) if is_compiling is not None else False


def _weight_key(layer: nn.Module) -> tuple:
    """What the cached weights depend on: version, storage, dtype and device of every factor."""
    return tuple((t._version, t.data_ptr(), t.dtype, t.device)
                 for t in (layer.lower, layer.upper, layer.log_s, layer.permutation, layer.sign_s))


def use_weight_cache(layer: nn.Module, enabled: bool) -> None:
    """Switch an InvConv1x1 to its fast form (``enabled``) or back; either way its cache starts empty."""
    layer.fast = enabled
    layer._cache = {}  # method name -> (key, matrix)


def cached_weight(layer: nn.Module, build: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``build()`` (``layer.matrix`` or ``layer.inverse_matrix`` of an InvConv1x1), kept in ``layer._cache`` between
    inference calls under the method's name.

    Rebuilt in training mode and with autograd on, so that gradients reach the factors. Inside ``torch.compile``
    the key cannot be read, so a compiled call uses what the last eager call cached (:func:`fill_weight_cache`
    makes one), else builds the weights in the graph.
    """
    if layer.training or torch.is_grad_enabled():
        if layer.training and layer._cache:
            layer._cache.clear()  # the weights are about to change, which a compiled call could not tell
        return build()
    name = build.__name__
    if _is_compiling():
        entry = layer._cache.get(name)
        return entry[1] if entry is not None else build()
    key = _weight_key(layer)
    if name not in layer._cache or layer._cache[name][0] != key:
        layer._cache[name] = (key, build())
    return layer._cache[name][1]


@torch.no_grad()
def fill_weight_cache(layer: nn.Module) -> None:
    """Cache ``W`` and ``W^-1`` now (in eval mode; a no-op in training mode), e.g. before ``torch.compile``
    traces the layer and can no longer check the cache's key."""
    cached_weight(layer, layer.matrix)
    cached_weight(layer, layer.inverse_matrix)


# ---------------------------------------------------------------------------------------- remembered ActNorm flag
def actnorm_initialized(layer: nn.Module) -> bool:
    """``bool(layer.initialized)``: read from the buffer until it is true, then remembered in Python."""
    if not layer._known_initialized:
        layer._known_initialized = bool(layer.initialized)
    return layer._known_initialized


def _forget_initialized(layer: nn.Module, incompatible_keys) -> None:
    layer._known_initialized = False  # the loaded buffer may say otherwise: read it again


def use_remembered_flag(layer: nn.Module, enabled: bool) -> None:
    """Switch an ActNorm to its fast form (``enabled``) or back; either way the flag is read afresh when next needed."""
    layer.fast = enabled
    if "_known_initialized" not in vars(layer):  # once per layer: loading a state_dict forgets the flag
        layer.register_load_state_dict_post_hook(_forget_initialized)
    layer._known_initialized = False
