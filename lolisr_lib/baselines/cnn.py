"""Learned baselines: a joint EDSR-style CNN and a sequential pair of CNNs (enhance, then super-resolve).

RELLISUR (Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks, Table 7) compares *sequential* pipelines, a
low-light enhancement (LLE) network followed by an SR network, with *joint* networks trained directly on the
dark LR input and the normal-light HR target. These two small CNNs are our measurable stand-ins for both rows:

- :class:`JointCNN`: EDSR (Lim et al., CVPRW 2017) without batch norm: conv head, residual blocks with
  residual scaling 0.1, a conv, a global skip, a PixelShuffle upscaler and a conv tail; loss L1 to ``gt``.
- :class:`SequentialCNN`: an LLE CNN at LR (``lq -> lq + net(lq)``), then an SR CNN (LR -> HR), each with half
  the residual blocks so that both baselines have about the same size. The stages are trained on separate
  problems, LLE on ``(lq, gt_lr)`` and SR on ``(gt_lr, gt)`` with ``gt_lr`` the area-downscaled target, and
  no gradient flows between them, as when two published networks are chained. At test time the SR stage sees
  the LLE output instead of a clean ``gt_lr``, so the first stage's errors (residual noise, colour casts)
  reach the second, which never learned to handle them: the weakness the joint row avoids.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lolisr_lib.baselines.classical import as_batch, check_scale
from lolisr_lib.checkpoint import write_checkpoint
from lolisr_lib.config import Config, ModelConfig
from lolisr_lib.encoder.cnn import ResidualBlock
from lolisr_lib.errors import UserError
from lolisr_lib.runtime.tiling import choose_tile, tiled_apply

RES_SCALE = 0.1  # EDSR's residual scaling: keeps deep stacks of un-normalised blocks stable early in training


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class ResidualCNN(nn.Module):
    """EDSR-style network ``(B, 3, h, w) -> (B, 3, scale*h, scale*w)``: head, blocks, conv, global skip,
    one (conv to 4C, PixelShuffle(2)) per factor 2 of ``scale``, tail conv. Output unclamped."""

    def __init__(self, channels: int, blocks: int, scale: int):
        super().__init__()
        self.head = conv3x3(3, channels)
        blocks = [ResidualBlock(channels, negative_slope=0.0, res_scale=RES_SCALE) for _ in range(blocks)]
        self.body = nn.Sequential(*blocks, conv3x3(channels, channels))
        ups = []
        for _ in range({1: 0, 2: 1, 4: 2}[check_scale(scale)]):
            ups += [conv3x3(channels, 4 * channels), nn.PixelShuffle(2)]  # (B, 4C, h, w) -> (B, C, 2h, 2w)
        self.upsample = nn.Sequential(*ups)
        self.tail = conv3x3(channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)  # (B, C, h, w)
        feat = feat + self.body(feat)  # global skip: the blocks learn a correction of the head's features
        return self.tail(self.upsample(feat))  # (B, 3, s*h, s*w)


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()


class LearnedBaseline(nn.Module):
    """Shared plumbing: config (with ``model.arch`` set to this class's name), shape checks, enhance, save."""

    arch = ""

    def __init__(self, config: Config | ModelConfig):
        super().__init__()
        if isinstance(config, ModelConfig):
            config = Config(model=config)
        # The checkpoint rebuilds the class named by model.arch, so the stored config must name this one.
        self.config = replace(config, model=replace(config.model, arch=self.arch))
        self.scale = check_scale(config.model.scale)
        b = config.model.baseline
        if b.channels < 1 or b.blocks < 1:
            raise UserError(f"model.baseline.channels and blocks must be >= 1, got {b.channels} and {b.blocks}")

    def predict(self, lq: torch.Tensor) -> torch.Tensor:
        """The network output for ``(B, 3, h, w)``: ``(B, 3, scale*h, scale*w)``, unclamped, with gradient."""
        raise NotImplementedError

    def check_pair(self, lq: torch.Tensor, gt: torch.Tensor) -> None:
        B, _, h, w = as_batch(lq)[0].shape
        if gt.dim() != 4 or tuple(gt.shape) != (B, 3, self.scale * h, self.scale * w):
            raise UserError(
                f"gt has shape {tuple(gt.shape)}; expected ({B}, 3, {self.scale * h}, {self.scale * w}) "
                f"for lq of size {h}x{w} at scale {self.scale}"
            )

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor, *, tile: int | str | None = None, overlap: int = 16) -> torch.Tensor:
        """``(B, 3, h, w)`` or ``(3, h, w)`` in [0, 1] to ``scale`` times the size, in [0, 1]. ``tile`` (LR
        pixels) runs overlapping tiles one at a time, for images that do not fit in memory; ``"auto"`` and
        ``"off"`` run one pass (these small networks state no memory estimate)."""
        batch, single = as_batch(lq)
        tile = choose_tile(tile, batch.shape[-2:], self.scale, None, None, overlap=overlap, align=1)
        if tile is None or (tile >= batch.shape[-2] and tile >= batch.shape[-1]):
            out = self.predict(batch)
        else:
            out = tiled_apply(lambda t, _window: self.predict(t), batch, self.scale, tile, overlap, align=1)
        out = out.clamp(0, 1)
        return out[0] if single else out

    def save(self, path: str | Path) -> Path:
        """Weights + config, atomically; read back with ``lolisr_lib.model.build.load_model``."""
        return write_checkpoint(path, self.config, self.state_dict())


class JointCNN(LearnedBaseline):
    """One EDSR-style network from the dark LR input straight to the normal-light HR target, L1 loss."""

    arch = "joint-cnn"

    def __init__(self, config: Config | ModelConfig):
        super().__init__(config)
        b = self.config.model.baseline
        self.net = ResidualCNN(b.channels, b.blocks, self.scale)

    def predict(self, lq: torch.Tensor) -> torch.Tensor:
        return self.net(lq)

    def forward(self, lq: torch.Tensor, gt: torch.Tensor) -> dict:
        self.check_pair(lq, gt)
        loss = l1(self.predict(lq), gt)
        return {"loss": loss, "l1": loss}


class SequentialCNN(LearnedBaseline):
    """LLE CNN at LR (``lq + net(lq)``), then an SR CNN; trained as two separate problems (module docstring)."""

    arch = "sequential-cnn"

    def __init__(self, config: Config | ModelConfig):
        super().__init__(config)
        b = self.config.model.baseline
        half = max(1, b.blocks // 2)  # each stage gets half the blocks: about the size of JointCNN
        self.lle = ResidualCNN(b.channels, half, 1)
        self.sr = ResidualCNN(b.channels, half, self.scale)

    def enlighten(self, lq: torch.Tensor) -> torch.Tensor:
        """Stage 1, LR to LR normal light: the input plus a learned correction."""
        return lq + self.lle(lq)

    def predict(self, lq: torch.Tensor) -> torch.Tensor:
        return self.sr(self.enlighten(lq))

    def forward(self, lq: torch.Tensor, gt: torch.Tensor) -> dict:
        self.check_pair(lq, gt)
        gt_lr = F.interpolate(gt, size=lq.shape[-2:], mode="area")  # (B, 3, h, w): the LLE stage's target
        l1_lle = l1(self.enlighten(lq), gt_lr)
        l1_sr = l1(self.sr(gt_lr), gt)  # the SR stage sees clean LR images, never the LLE output
        return {"loss": l1_lle + l1_sr, "l1_lle": l1_lle, "l1_sr": l1_sr}


LEARNED_BASELINES = {cls.arch: cls for cls in (JointCNN, SequentialCNN)}
