"""The multi-scale conditional flow of LoLiSRFlow: ``z = F(gt; cond)`` and ``gt = F^-1(z; cond)``.

LoLiSRFlow (arXiv 2402.18871) stacks 3 levels of 12 conditional flow steps as SRFlow/LLFlow do
(``docs/model.md`` sections 1 and 4). Level ``l`` (1-based) is: Squeeze, ``unconditional_steps`` x
(ActNorm, InvConv1x1), ``steps`` x FlowStep conditioned on ``cond[l-1]``, then, with ``split=True``
and except at the last level, a Split that factors out half the channels. The flow tensor of level ``l``
and its condition both have the spatial size ``H / 2**l``.

At ``levels=3`` on an RGB image without split the final latent is ``(B, 192, H/8, W/8)``; with split
it is ``(B, 48, H/8, W/8)`` and the factored halves are ``(B, 6, H/2, W/2)`` and ``(B, 12, H/4, W/4)``.
The prior of the final latent (the CR-map mean, ``docs/model.md`` section 5) is the model's business, not the
flow's: the flow returns latents, log-det and the split priors' log-probability. A list of latents and a list of
conditions in, so not an ``InvertibleLayer``; ``flow/base.py`` says how its signature differs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lolisr_lib.errors import ConfigError, UserError
from lolisr_lib.flow.layers import Squeeze, is_channels_last
from lolisr_lib.flow.split import Split
from lolisr_lib.flow.step import FlowSequence, FlowStep, UnconditionalStep


def _like(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """``x`` in the memory layout of its condition: a channels-last encoder (the fast path) makes the whole
    flow run channels-last, so that no layer converts layouts back and forth; otherwise ``x`` unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if is_channels_last(cond) else x


def _per_level(cond_channels: int | Sequence[int], levels: int) -> tuple[int, ...]:
    if isinstance(cond_channels, int):
        return (cond_channels,) * levels
    cond_channels = tuple(cond_channels)
    if len(cond_channels) != levels:
        raise ConfigError(f"cond_channels must be an int or one int per level ({levels}), got {cond_channels}")
    return cond_channels


class ConditionalFlow(nn.Module):
    """``levels`` x [Squeeze, unconditional steps, ``steps`` FlowSteps, optional Split].

    ``forward(x, cond) -> (latents, logdet, split_log_prob)``: ``latents[-1]`` is the final latent,
    ``latents[:-1]`` the halves factored out at levels ``1 .. levels-1`` (empty without split);
    ``logdet`` ``(B,)`` is ``log|det dz/dx|`` of the whole flow and ``split_log_prob`` ``(B,)`` the
    log-probability of the factored halves under their learned priors (zeros without split).

    ``inverse(latents, cond, *, temperature=0.0, generator=None) -> (x, logdet)``: ``latents`` is the
    list ``forward`` returns, or only the final latent; missing (or ``None``) factored halves are drawn
    from the split priors at ``temperature`` (0 = their means) with ``generator``. The final latent's own
    prior (its mean, any noise) is the caller's: pass the latent itself.

    ``cond`` is a sequence of ``levels`` tensors, ``cond[l]`` of shape
    ``(B, cond_channels[l], H / 2**(l+1), W / 2**(l+1))``; :meth:`cond_shapes` lists them.
    """

    def __init__(self, in_channels: int = 3, levels: int = 3, steps: int = 12,
                 cond_channels: int | Sequence[int] = 128, hidden: int = 64, *, split: bool = False,
                 scale_fn: str = "softclamp", unconditional_steps: int = 2):
        super().__init__()
        if levels < 1:
            raise ConfigError(f"levels must be at least 1, got {levels}")
        self.in_channels = in_channels
        self.cond_channels = _per_level(cond_channels, levels)
        self.levels = nn.ModuleList()
        self.splits = nn.ModuleList()
        self.latent_channels: list[int] = []  # channels of each latent, in the order forward returns them
        channels = in_channels
        for level in range(levels):
            channels *= 4
            c_cond = self.cond_channels[level]
            self.levels.append(FlowSequence(
                [Squeeze()]
                + [UnconditionalStep(channels) for _ in range(unconditional_steps)]
                + [FlowStep(channels, c_cond, hidden, scale_fn) for _ in range(steps)]
            ))
            if split and level < levels - 1:
                self.splits.append(Split(channels, c_cond, hidden))
                self.latent_channels.append(channels // 2)
                channels -= channels // 2
        self.latent_channels.append(channels)

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def _check_size(self, H: int, W: int) -> None:
        factor = 2 ** self.num_levels
        if H % factor or W % factor:
            raise UserError(f"image size {H}x{W} is not divisible by 2**levels = {factor}; pad or crop "
                            f"the high-resolution image to a multiple of {factor}")

    def latent_shapes(self, B: int, H: int, W: int) -> list[tuple[int, int, int, int]]:
        """Shapes of the latents ``forward`` returns for a ``(B, in_channels, H, W)`` input, final last."""
        self._check_size(H, W)
        sizes = [2 ** (level + 1) for level in range(len(self.splits))] + [2 ** self.num_levels]
        return [(B, c, H // f, W // f) for c, f in zip(self.latent_channels, sizes)]

    def latent_shape(self, B: int, H: int, W: int) -> tuple[int, int, int, int]:
        """Shape of the final latent for a ``(B, in_channels, H, W)`` input."""
        return self.latent_shapes(B, H, W)[-1]

    def cond_shapes(self, B: int, H: int, W: int) -> list[tuple[int, int, int, int]]:
        """Shapes of the conditions ``cond[l]`` for a ``(B, in_channels, H, W)`` input."""
        self._check_size(H, W)
        return [(B, c, H // 2 ** (level + 1), W // 2 ** (level + 1)) for level, c in enumerate(self.cond_channels)]

    def _check_cond(self, cond: Sequence[torch.Tensor], B: int, H: int, W: int) -> None:
        expected = self.cond_shapes(B, H, W)
        got = [tuple(c.shape) for c in cond] if isinstance(cond, (list, tuple)) else type(cond).__name__
        if got != expected:
            raise UserError(f"cond must be a list of {len(expected)} tensors (one per level) of shapes "
                            f"{expected} for a {H}x{W} image; got {got}")

    def forward(self, x: torch.Tensor, cond: Sequence[torch.Tensor]
                ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise UserError(f"the flow input must be (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        B, _, H, W = x.shape
        self._check_cond(cond, B, H, W)
        latents = []
        logdet = x.new_zeros(B)
        split_log_prob = x.new_zeros(B)
        for level, (steps, c) in enumerate(zip(self.levels, cond)):
            x, level_logdet = steps(_like(x, c), c)
            logdet = logdet + level_logdet
            if level < len(self.splits):
                x, z, log_prob = self.splits[level](x, c)
                latents.append(z)
                split_log_prob = split_log_prob + log_prob
        latents.append(x)
        return latents, logdet, split_log_prob

    def _unpack(self, latents) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The final latent and one factored half (or None) per split, from a list or a single tensor."""
        if isinstance(latents, torch.Tensor):
            return latents, [None] * len(self.splits)
        latents = list(latents)
        if len(latents) == 1:
            return latents[0], [None] * len(self.splits)
        if len(latents) != len(self.splits) + 1:
            raise UserError(f"latents must be the final latent or a list of {len(self.splits) + 1} tensors "
                            f"(factored halves, then the final latent), got a list of {len(latents)}")
        return latents[-1], latents[:-1]

    def inverse(self, latents: torch.Tensor | Sequence[torch.Tensor | None], cond: Sequence[torch.Tensor], *,
                temperature: float = 0.0, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        z, factored = self._unpack(latents)
        if not isinstance(z, torch.Tensor) or z.dim() != 4:
            raise UserError(f"the final latent must be a (B, C, h, w) tensor, got {getattr(z, 'shape', z)!r}")
        B, _, h, w = z.shape
        H, W = h * 2 ** self.num_levels, w * 2 ** self.num_levels
        if tuple(z.shape) != self.latent_shape(B, H, W):
            raise UserError(f"the final latent must be {self.latent_shape(B, H, W)}, got {tuple(z.shape)}")
        self._check_cond(cond, B, H, W)
        x = z
        logdet = z.new_zeros(B)
        for level in reversed(range(self.num_levels)):
            if level < len(self.splits):
                x, _ = self.splits[level].inverse(x, factored[level], cond[level],
                                                  temperature=temperature, generator=generator)
            x, level_logdet = self.levels[level].inverse(_like(x, cond[level]), cond[level])
            logdet = logdet + level_logdet
        return x, logdet
