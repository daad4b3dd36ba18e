"""Flow steps: chains of invertible layers, and the two kinds of step LoLiSRFlow stacks.

- :class:`FlowStep` = ActNorm, InvConv1x1, AffineInjector, CondAffineCoupling (SRFlow's conditional
  step; LoLiSRFlow arXiv 2402.18871 lists the same four layers), ``docs/model.md`` section 4.
- :class:`UnconditionalStep` = ActNorm, InvConv1x1 (LLFlow puts two after every squeeze).

A chain's log-det is the sum of its layers' log-dets (chain rule; each layer returns its own), and its
inverse runs the layers' inverses in reverse order. A chain keeps the same contract as its layers
(``flow/base.py``), so chains nest.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from lolisr_lib.errors import ConfigError
from lolisr_lib.flow.base import InvertibleLayer
from lolisr_lib.flow.coupling import AffineInjector, CondAffineCoupling
from lolisr_lib.flow.layers import ActNorm, InvConv1x1


class FlowSequence(InvertibleLayer):
    """Invertible layers applied in order: ``forward`` runs them first to last, ``inverse`` last to first.

    Every layer gets the same ``cond``; unconditional layers ignore it. The running log-det starts from
    the first layer's instead of a zeros tensor, so a call allocates no constants.
    """

    def __init__(self, layers: Iterable[InvertibleLayer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        if len(self.layers) == 0:
            raise ConfigError("a FlowSequence needs at least one layer")

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = None
        for layer in self.layers:
            x, layer_logdet = layer(x, cond)
            logdet = layer_logdet if logdet is None else logdet + layer_logdet
        return x, logdet

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = None
        for layer in reversed(self.layers):
            y, layer_logdet = layer.inverse(y, cond)
            logdet = layer_logdet if logdet is None else logdet + layer_logdet
        return y, logdet


class UnconditionalStep(FlowSequence):
    """ActNorm then InvConv1x1; ignores ``cond``."""

    def __init__(self, channels: int):
        super().__init__([ActNorm(channels), InvConv1x1(channels)])


class FlowStep(FlowSequence):
    """ActNorm, InvConv1x1, AffineInjector, CondAffineCoupling: one conditional step of the flow."""

    def __init__(self, channels: int, cond_channels: int, hidden: int, scale_fn: str = "softclamp"):
        super().__init__([
            ActNorm(channels),
            InvConv1x1(channels),
            AffineInjector(channels, cond_channels, hidden, scale_fn),
            CondAffineCoupling(channels, cond_channels, hidden, scale_fn),
        ])
