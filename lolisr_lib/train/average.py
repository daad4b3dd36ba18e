"""An exponential moving average of the weights (Polyak averaging), the model that is validated and shipped.

With Adam at a constant learning rate the weights keep moving around a good region; for LoLiSRFlow the
visible symptom is the output's global brightness, which drifts by tens of code values from one validation
to the next (data/pretrained/README.md). Averaging the recent weights cancels most of that drift at no cost
to the training itself: the optimiser keeps stepping the raw weights, the average only follows them.

After ``t`` updates with decay ``d`` the average is

    w_avg(t) = sum_k (1 - d) d^(t-k) w(k) / (1 - d^t),

the bias-corrected average Adam uses for its moments, so it is a proper weighted mean of the weights seen so
far from the first update on (the first update copies the weights), and it forgets with a half-life of
``ln 2 / (1 - d)`` steps. The recursion is ``w_avg += (1 - d) / (1 - d^t) * (w - w_avg)``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The running average of ``model``'s parameters (buffers are copied, not averaged)."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"train.ema_decay={decay} must lie in (0, 1), or be 0 to switch the average off")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` into the average."""
        self.updates += 1
        blend = (1.0 - self.decay) / (1.0 - self.decay**self.updates)  # 1 at the first update: a copy
        for mine, theirs in zip(self.model.parameters(), model.parameters()):
            mine.lerp_(theirs.detach(), blend)
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["weights"])
