"""Optimiser and learning-rate schedule of the training loop (docs/model.md section 7).

Adam with the configured betas really applied (LLFlow/SRFlow pass them under keys Adam ignores, so their
runs silently use the defaults), a linear warm-up, then the learning rate halved at each fraction of the
total steps listed in ``decay_at`` (paper preset: 50, 75, 90 and 95 %).

The schedule is a pure function of the step, so ``torch.optim.lr_scheduler.LambdaLR`` can carry it and a
resumed run continues on exactly the same curve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from lolisr_lib.config import TrainConfig


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, decay_at: Iterable[float]) -> float:
    """Multiplier of the base learning rate for optimiser step ``step`` (0 = the first step).

    Warm-up: ``(step + 1) / warmup_steps`` until it reaches 1, so the first step already moves the weights.
    Decay: ``0.5 ** k`` where ``k`` counts the boundaries ``round(f * total_steps)`` with ``step >= boundary``.
    """
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    halvings = sum(step >= round(f * total_steps) for f in decay_at)
    return warm * 0.5**halvings


def lr_lambda(train: TrainConfig) -> Callable[[int], float]:
    """``lr_factor`` bound to a config: the ``lr_lambda`` of a ``LambdaLR``."""

    def factor(step: int) -> float:
        return lr_factor(step, total_steps=train.steps, warmup_steps=train.warmup_steps, decay_at=train.decay_at)

    return factor


def make_optimizer(parameters: Iterable[torch.nn.Parameter], train: TrainConfig) -> torch.optim.Adam:
    """Adam with ``lr``, ``betas`` and ``weight_decay`` from the config (check: ``param_groups[0]["betas"]``)."""
    return torch.optim.Adam(
        parameters, lr=train.lr, betas=tuple(train.betas), weight_decay=train.weight_decay
    )


def make_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` following :func:`lr_factor`; call ``.step()`` once after every training step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(train))
