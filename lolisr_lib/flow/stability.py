"""How far the inverse flow blows up from random latents: the "exploding inverse" measured.

With LLFlow/SRFlow's ``scale = sigmoid(raw + 2) + 1e-4`` every affine layer can only shrink going forward,
so the inverse can grow by up to 1e4 per layer; sampling at temperature > 0 (or any latent the training
data never produced) can then overflow to inf/NaN. The bounded soft-clamped scale (``docs/model.md`` section 4)
caps the growth at ``e^2`` per layer. :func:`inverse_blowup` measures this on a given flow, and
:func:`log_scale_spread` how strongly the affine layers scale the data, so that two flows are compared
at the same spread: near ``raw = 0`` the sigmoid's log-scale has slope ``1 - sigmoid(2) ~ 0.12`` against
softclamp's 1, so equal network weights do *not* mean equal scaling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lolisr_lib.flow.coupling import AffineInjector, CondAffineCoupling
from lolisr_lib.flow.likelihood import sample_gaussian
from lolisr_lib.flow.multiscale import ConditionalFlow


@torch.no_grad()
def inverse_blowup(flow: ConditionalFlow, cond: Sequence[torch.Tensor], mean: torch.Tensor, *,
                   temperature: float = 1.0, generator: torch.Generator | None = None,
                   threshold: float = 10.0) -> dict[str, float]:
    """Invert latents ``mean + temperature * eps`` (split halves drawn likewise) and summarise the outputs.

    ``mean`` has the final latent's shape ``(B, C, h, w)``; ``cond`` is the flow's condition list for
    batch ``B``. Returns ``max_abs`` (largest finite ``|x|``; images live in [0, 1]), ``nonfinite``
    (fraction of samples with an inf/NaN value) and ``blown_up`` (fraction of samples that are non-finite
    or exceed ``threshold`` in absolute value).
    """
    z = sample_gaussian(mean, temperature, generator)
    x, _ = flow.inverse(z, cond, temperature=temperature, generator=generator)
    values = x.flatten(1)  # (B, C*H*W)
    finite = torch.isfinite(values)
    finite_abs = torch.where(finite, values.abs(), torch.zeros_like(values))
    sample_finite = finite.all(dim=1)  # (B,)
    return {
        "max_abs": float(finite_abs.max()),
        "nonfinite": float((~sample_finite).float().mean()),
        "blown_up": float((~sample_finite | (finite_abs.amax(dim=1) > threshold)).float().mean()),
    }


@torch.no_grad()
def log_scale_spread(flow: ConditionalFlow, x: torch.Tensor, cond: Sequence[torch.Tensor]) -> dict[str, float]:
    """``std``, ``min`` and ``max`` of ``log scale(raw)`` over every affine layer and value in ``flow(x, cond)``.

    Call it on an eval-mode flow (in training mode an uninitialised ActNorm would initialise on ``x``).
    """
    values = []

    def record(layer):
        def hook(net, inputs, output):
            raw = output.chunk(2, dim=1)[1]  # (B, C_out, H, W): the net's second half is the raw scale
            values.append(layer.log_scale_fn(raw).flatten())
        return hook

    handles = [m.net.register_forward_hook(record(m))
               for m in flow.modules() if isinstance(m, (AffineInjector, CondAffineCoupling))]
    try:
        flow(x, cond)
    finally:
        for handle in handles:
            handle.remove()
    log_scale = torch.cat(values)
    return {"std": float(log_scale.std()), "min": float(log_scale.min()), "max": float(log_scale.max())}
