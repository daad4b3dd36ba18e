"""Checks for invertible layers, shared by the tests and the notebooks (``docs/CONVENTIONS.md``, Tests).

- :func:`autograd_logdet`: the exact ``log|det J|`` of a map, from its full Jacobian (autograd) and
  ``slogdet``: the ground truth a layer's closed-form log-det is compared against. Tiny inputs only.
- :func:`check_invertible`: round trip ``inverse(forward(x)) == x`` and ``logdet_inverse == -logdet``.
- :func:`perturb_parameters`: move every parameter off its initial value, because zero-initialised
  coupling networks make a fresh layer the identity, on which every check passes trivially.

These are developer checks: a failure raises ``AssertionError`` with a readable message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from lolisr_lib.flow.layers import ActNorm

# default tolerances of check_invertible by dtype: (atol, rtol); rtol is relative to max |x| (round trip)
# and to max |logdet| (log-det), which grows with the number of dimensions
DEFAULT_TOLERANCES = {torch.float64: (1e-10, 0.0), torch.float32: (1e-5, 1e-4)}


def _sample(cond, i: int):
    """Sample ``i`` of a condition that is a tensor or a sequence of tensors, keeping a batch dim of 1."""
    if isinstance(cond, torch.Tensor):
        return cond[i:i + 1]
    return [c[i:i + 1] for c in cond]


def autograd_logdet(fn: Callable, x: torch.Tensor, cond: torch.Tensor | Sequence[torch.Tensor] | None = None
                    ) -> torch.Tensor:
    """Exact per-sample ``log|det d fn(x) / dx|`` ``(B,)`` by autograd, for a map ``(B, ...) -> (B, ...)``.

    ``fn`` is applied to one sample at a time (a batch of one): ``fn(x_i)``, or ``fn(x_i, cond_i)`` when
    ``cond`` is given (a tensor or a list of tensors, sliced per sample the same way). It must return a
    tensor with as many values as its input (e.g. ``lambda x, c: layer(x, c)[0]``). The Jacobian is
    ``D x D`` for ``D`` values per sample: keep ``D`` in the hundreds, and use float64.
    """
    logdets = []
    for i in range(x.shape[0]):
        cond_i = None if cond is None else _sample(cond, i)

        def flat(x_i: torch.Tensor) -> torch.Tensor:
            return (fn(x_i) if cond_i is None else fn(x_i, cond_i)).reshape(-1)

        jacobian = torch.autograd.functional.jacobian(flat, x[i:i + 1])  # (D_out, 1, *sample shape)
        jacobian = jacobian.reshape(jacobian.shape[0], -1)  # (D_out, D_in)
        if jacobian.shape[0] != jacobian.shape[1]:
            raise AssertionError(f"the map is not dimension-preserving: {jacobian.shape[1]} values in, "
                                 f"{jacobian.shape[0]} out, so it has no Jacobian determinant")
        logdets.append(torch.linalg.slogdet(jacobian).logabsdet)
    return torch.stack(logdets)


def _check_logdet_tensor(logdet, x: torch.Tensor, where: str) -> None:
    if not isinstance(logdet, torch.Tensor) or logdet.shape != (x.shape[0],):
        raise AssertionError(f"{where} must return a per-sample log-det tensor of shape ({x.shape[0]},), "
                             f"got {getattr(logdet, 'shape', type(logdet).__name__)}")
    if logdet.dtype != x.dtype or logdet.device != x.device:
        raise AssertionError(f"{where} returned a log-det of {logdet.dtype} on {logdet.device}; "
                             f"the input is {x.dtype} on {x.device}")


def check_invertible(layer: nn.Module, x: torch.Tensor, cond=None, *, atol: float | None = None,
                     rtol: float | None = None) -> dict[str, float]:
    """Check ``layer.inverse(layer(x, cond)) == x`` and ``logdet_inverse == -logdet``; return the errors.

    Works for every layer, step and the whole :class:`~lolisr_lib.flow.ConditionalFlow` (its latent list
    goes back into its inverse as is). An error passes when ``error <= atol + rtol * reference`` with
    reference ``max |x|`` (round trip) or ``max |logdet|``; defaults by dtype in
    :data:`DEFAULT_TOLERANCES`. Returns ``max_abs_error``, ``max_rel_error`` (over ``max |x|``) and
    ``max_logdet_error``; raises ``AssertionError`` naming the layer when a tolerance is exceeded.
    """
    default_atol, default_rtol = DEFAULT_TOLERANCES.get(x.dtype, (1e-3, 1e-2))
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    name = type(layer).__name__
    with torch.no_grad():
        outputs = layer(x, cond)
        y, logdet = outputs[0], outputs[1]
        x_back, logdet_inverse = layer.inverse(y, cond)
    _check_logdet_tensor(logdet, x, f"{name}.forward")
    _check_logdet_tensor(logdet_inverse, x, f"{name}.inverse")
    if x_back.shape != x.shape:
        raise AssertionError(f"{name}: inverse(forward(x)) has shape {tuple(x_back.shape)}, "
                             f"x has {tuple(x.shape)}")
    x_scale, logdet_scale = float(x.detach().abs().max()), float(logdet.detach().abs().max())
    error = float((x_back - x).detach().abs().max())
    errors = {
        "max_abs_error": error,
        "max_rel_error": error / max(x_scale, 1e-300),
        "max_logdet_error": float((logdet_inverse + logdet).detach().abs().max()),
    }
    if not errors["max_abs_error"] <= atol + rtol * x_scale:
        raise AssertionError(f"{name}: round-trip error max|inverse(forward(x)) - x| = "
                             f"{errors['max_abs_error']:.3g} exceeds {atol:g} + {rtol:g} * {x_scale:.3g}")
    if not errors["max_logdet_error"] <= atol + rtol * logdet_scale:
        raise AssertionError(f"{name}: log-dets disagree, max|logdet_inverse + logdet_forward| = "
                             f"{errors['max_logdet_error']:.3g} exceeds {atol:g} + {rtol:g} * {logdet_scale:.3g}")
    return errors


@torch.no_grad()
def perturb_parameters(module: nn.Module, scale: float = 0.1, generator: torch.Generator | None = None, *,
                       net_scale: float | None = None, x: torch.Tensor | None = None, cond=None) -> nn.Module:
    """Add Gaussian noise to every parameter of ``module``, then put it in eval mode; returns ``module``.

    Noise std: ``scale / sqrt(fan_in)`` for weights with 2 or more dims (``fan_in`` = values per output
    unit, so a perturbed layer's output changes by about ``scale`` times its input's magnitude, as with a
    standard initialisation), ``scale`` for biases and log-scales. ``net_scale``, if given, replaces
    ``scale`` for the parameters of ``nn.Conv2d`` modules: in the flow these are the sub-networks of the
    affine layers and split priors, whose zero-initialised last convolution decides how far each affine
    layer is from the identity (the InvConv1x1 weights are not ``nn.Conv2d``). Noise is drawn on the CPU
    from ``generator`` (reproducible) and moved to the parameter's device.

    If ``x`` (and ``cond``) are given, one training-mode ``module(x, cond)`` follows the noise, so every
    ActNorm not yet initialised replaces its parameters by the data-dependent initialisation on the
    perturbed activations: activations stay near unit variance through a deep flow, as in a trained model.
    Every ActNorm is then marked initialised, so a later training call keeps the values.
    """
    for m in module.modules():
        std = net_scale if (net_scale is not None and isinstance(m, nn.Conv2d)) else scale
        for p in m.parameters(recurse=False):
            fan_in = p[0].numel() if p.dim() >= 2 else 1
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
            p.add_(noise * (std / math.sqrt(fan_in)))
    if x is not None:
        module.train()
        module(x, cond)
    for m in module.modules():
        if isinstance(m, ActNorm):
            m.initialized.fill_(True)
    return module.eval()
