"""The contract of an invertible layer, written once; every flow layer and step inherits it.

An invertible layer maps data ``x`` to a latent ``y`` and back:

- ``forward(x, cond=None) -> (y, logdet)``, with ``logdet = log|det dy/dx|``;
- ``inverse(y, cond=None) -> (x, logdet)``, with the log-det of the inverse map, ``log|det dx/dy|``.

``logdet`` is a per-sample ``(B,)`` tensor (the sum over one sample's values, never over the batch), and the two
directions agree: ``inverse(forward(x)[0])[0] == x`` up to float rounding, and the inverse's log-det is minus the
forward's at corresponding points. ``cond`` is the condition, a ``(B, cond_channels, H, W)`` tensor; layers that
need none accept it and ignore it, so that a chain of layers (``step.FlowSequence``) can call every layer the same
way. ``flow/checks.py`` verifies the contract numerically (``check_invertible``, ``autograd_logdet``).

Two flow modules keep the idea but not the signature, so they are not ``InvertibleLayer`` subclasses; each of their
methods returns one type, whatever it is given:

- ``split.Split`` factors out half of the channels. Its ``forward(x, cond) -> (kept, z, log_prob)`` returns *two*
  tensors, because ``z`` leaves the flow there, and a log-*probability* instead of a log-det: a partition of the
  channels has log-det 0, and what it adds to the likelihood is ``log p(z | kept, cond)`` under its learned prior.
  Its ``inverse(kept, z=None, cond=None, *, temperature, generator) -> (x, log_prob)`` takes the two parts back and
  may draw ``z`` from that prior, which no other layer can do.
- ``multiscale.ConditionalFlow`` is the whole multi-level flow. Its ``forward(x, cond) -> (latents, logdet,
  split_log_prob)`` returns a *list* of latents (always a list, the final latent last, the factored halves
  before it) and the splits' log-probability next to the log-det; ``cond`` is a *list*, one condition per level at
  that level's resolution. Its ``inverse(latents, cond, *, temperature, generator) -> (x, logdet)`` accepts that
  list or the final latent alone (missing halves are drawn from the split priors).

Speed: the layers are written in the plain form of their maths. ``runtime/fast_flow.py`` has faster forms of
some of it (in-place element-wise maths, cached 1x1 weights, a remembered ActNorm flag), which a layer uses when
its ``fast`` attribute is set; ``runtime.fastpath.prepare_for_inference`` and ``prepare_for_training`` set it.
"""

from __future__ import annotations

import torch
from torch import nn


class InvertibleLayer(nn.Module):
    """An invertible map with a per-sample log-det (module docstring): implement :meth:`forward` and :meth:`inverse`.

    ``forward(x, cond=None) -> (y, logdet)`` and ``inverse(y, cond=None) -> (x, logdet)``, ``logdet`` of shape
    ``(B,)``; ``inverse(forward(x)) == x`` and ``logdet_inverse == -logdet_forward``.
    """

    # Compute with the fast forms of runtime/fast_flow.py (the same values up to float rounding) instead of the
    # plain maths written in the layer. A class default, set per instance by fastpath.prepare_for_*; layers
    # without a fast form ignore it.
    fast: bool = False

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, cond=None) -> (y, logdet)")

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement inverse(y, cond=None) -> (x, logdet)")
