"""Looking inside the conditional encoder: shapes through a forward pass, fusion traffic, receptive field, CR error.

LoLiSRFlow (arXiv 2402.18871) conditions its flow on a multi-resolution parallel transformer (our MPCT,
``encoder/mpct.py``): parallel branches at the three condition resolutions, exchanging information by
cross-scale fusion (HRNet, Wang et al., TPAMI 2020), and a colour-ratio (CR) head. These probes measure a real
encoder without changing it:

- :func:`trace_shapes`: every branch's tensor after the stem, after each stage and at the heads (forward
  hooks), with its resolution relative to the LR input;
- :func:`fusion_traffic`: what each branch receives from each other branch at every fusion, and how strong
  (root mean square) each incoming message is;
- :func:`receptive_field`: ``|d cond / d features|`` for one condition pixel, the input region it depends on;
- :func:`cr_error`: mean absolute error of a CR map against ``CR(gt)``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lolisr_lib.encoder.fusion import CrossScaleFusion, Upsample
from lolisr_lib.errors import UserError
from lolisr_lib.image.color import cr_map


def relative_resolution(size: int, lr_size: int) -> str:
    """``size`` relative to ``lr_size`` as text: "LR x2", "LR", "LR/2", ..."""
    if size >= lr_size:
        factor = size // lr_size
        return "LR" if factor == 1 else f"LR x{factor}"
    return f"LR/{lr_size // size}"


@dataclass(frozen=True)
class ShapeRow:
    """One tensor of the encoder's forward pass."""

    where: str  # "features", "stem", "stage 1", "cond head", "CR head", ...
    branch: int | None  # branch (= flow level) index, 1 = finest; None for single tensors
    shape: tuple[int, ...]  # (B, C, H, W)
    resolution: str  # spatial size relative to the LR input, e.g. "LR x2"


def trace_shapes(encoder: nn.Module, lq: torch.Tensor) -> list[ShapeRow]:
    """The shapes of an ``MPCTEncoder``'s tensors on ``lq`` (B, 3, h, w), recorded with forward hooks.

    Rows: the input features, the stem, each branch when created, each branch after every stage (after the
    fusion), each condition and the CR map. The encoder is run once under ``no_grad``; hooks are removed after.
    """
    for name in ("features", "stem", "to_finest", "to_coarser", "stages", "cond_heads", "cr_head"):
        if not hasattr(encoder, name):
            raise UserError(f"trace_shapes needs an MPCTEncoder (it has no {name!r}); got {type(encoder).__name__}")
    lr = lq.shape[-1]
    rows: list[ShapeRow] = []

    def record(where, branch=None):
        def hook(module, inputs, output):
            outputs = output if isinstance(output, (list, tuple)) else [output]
            for b, out in enumerate(outputs):
                index = branch if branch is not None else (b + 1 if len(outputs) > 1 else None)
                rows.append(ShapeRow(where, index, tuple(out.shape), relative_resolution(out.shape[-1], lr)))
        return hook

    modules = [(encoder.features, record("features")), (encoder.stem, record("stem")),
               (encoder.to_finest, record("branch created", 1))]
    modules += [(down, record("branch created", b + 2)) for b, down in enumerate(encoder.to_coarser)]
    modules += [(stage, record(f"stage {s + 1} (after fusion)")) for s, stage in enumerate(encoder.stages)]
    modules += [(head, record("condition", b + 1)) for b, head in enumerate(encoder.cond_heads)]
    modules += [(encoder.cr_head, record("CR map"))]
    with _hooks([module.register_forward_hook(hook) for module, hook in modules]), torch.no_grad():
        encoder(lq)
    return rows


@contextmanager
def _hooks(handles):
    """Keep the forward hooks ``handles`` registered for the ``with`` block only, whatever happens in it."""
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _describe(resizer: nn.Module) -> str:
    """A resize path of ``CrossScaleFusion`` in words."""
    if isinstance(resizer, Upsample):
        return f"1x1 conv, bilinear x{resizer.factor}"
    convs = [m for m in resizer.modules() if isinstance(m, nn.Conv2d)]
    return f"{len(convs)} strided 3x3 conv" + ("s" if len(convs) > 1 else "")


@dataclass(frozen=True)
class Message:
    """What one branch sends to another at one fusion."""

    stage: int  # 1-based stage whose fusion this is
    source: int  # sending branch, 1 = finest
    target: int  # receiving branch
    path: str  # how it is resized ("1x1 conv, bilinear x2", "2 strided 3x3 convs")
    shape: tuple[int, ...]  # (B, C, H, W) after resizing, equal to the target's shape
    rms: float  # root mean square of the message
    target_rms: float  # root mean square of the target branch before fusion, for scale


def fusion_traffic(encoder: nn.Module, lq: torch.Tensor) -> list[Message]:
    """Every message of every cross-scale fusion of ``encoder`` on ``lq`` (one forward pass, no gradient)."""
    fusions = [m for m in encoder.modules() if isinstance(m, CrossScaleFusion)]
    if not fusions:
        raise UserError(f"{type(encoder).__name__} has no CrossScaleFusion; fusion_traffic needs an MPCTEncoder")
    captured: list[tuple[CrossScaleFusion, list[torch.Tensor]]] = []
    hooks = [f.register_forward_pre_hook(lambda module, args: captured.append((module, list(args[0]))))
             for f in fusions]
    with _hooks(hooks), torch.no_grad():
        encoder(lq)
        messages = []
        for stage, (fusion, xs) in enumerate(captured, start=1):
            for i, x in enumerate(xs):
                for j, target in enumerate(xs):
                    if i == j:
                        continue
                    resizer = fusion.resize[i][j]
                    message = resizer(x)  # (B, C_j, H_j, W_j)
                    messages.append(Message(stage, i + 1, j + 1, _describe(resizer), tuple(message.shape),
                                            _rms(message), _rms(target)))
    return messages


def _rms(t: torch.Tensor) -> float:
    return float(t.float().pow(2).mean().sqrt())


def receptive_field(encoder: nn.Module, features: torch.Tensor, level: int = 1,
                    position: tuple[int, int] | None = None) -> np.ndarray:
    """``sum_channels |d cond_level[0, :, i, j].sum() / d features|`` as an ``(h, w)`` array at LR.

    ``features``: the encoder's input features ``(B, F, h, w)`` (``encoder_features``); gradients are taken
    with respect to them rather than to ``lq``, so the map shows the network's reach, not the ``1 / lq`` of
    the log feature. ``level``: 1..3; ``position``: the condition pixel (default: its centre).
    """
    n_levels = len(encoder.cond_heads)
    if not 1 <= level <= n_levels:
        raise UserError(f"level={level} must be between 1 and {n_levels}")
    features = features.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        conds, _ = encoder.forward_features(features)
        cond = conds[level - 1]  # (B, C, H_l, W_l)
        i, j = position if position is not None else (cond.shape[-2] // 2, cond.shape[-1] // 2)
        if not (0 <= i < cond.shape[-2] and 0 <= j < cond.shape[-1]):
            raise UserError(f"position {(i, j)} is outside the level-{level} grid {tuple(cond.shape[-2:])}")
        (grad,) = torch.autograd.grad(cond[0, :, i, j].sum(), features)
    return grad[0].abs().sum(dim=0).cpu().numpy()  # (h, w)


def cond_pixel_center(cond_size: tuple[int, int], lr_size: tuple[int, int], position=None) -> tuple[float, float]:
    """Where condition pixel ``position`` (default: the centre) sits in LR coordinates (row, column)."""
    i, j = position if position is not None else (cond_size[0] // 2, cond_size[1] // 2)
    fy, fx = lr_size[0] / cond_size[0], lr_size[1] / cond_size[1]
    return ((i + 0.5) * fy - 0.5, (j + 0.5) * fx - 0.5)


def mass_radius(grad_map: np.ndarray, center: tuple[float, float], mass: float = 0.5) -> float:
    """Smallest radius (pixels) around ``center`` holding ``mass`` of the gradient magnitude's total."""
    if not 0 < mass <= 1:
        raise UserError(f"mass={mass} must be in (0, 1]")
    total = float(grad_map.sum())
    if total <= 0:
        raise UserError("the gradient map is zero everywhere; there is no receptive field to measure")
    yy, xx = np.indices(grad_map.shape)
    dist = np.hypot(yy - center[0], xx - center[1]).ravel()
    order = np.argsort(dist, kind="stable")
    cumulative = np.cumsum(grad_map.ravel()[order]) / total
    index = min(int(np.searchsorted(cumulative, mass)), len(cumulative) - 1)  # rounding can leave the total < 1
    return float(dist[order][index])


def cr_error(cr_hat: torch.Tensor, gt: torch.Tensor) -> float:
    """Mean absolute error between a predicted CR map and ``CR(gt)``, both ``(B, 3, H, W)``."""
    if cr_hat.shape != gt.shape:
        raise UserError(f"cr_hat {tuple(cr_hat.shape)} and gt {tuple(gt.shape)} must have the same shape")
    return float((cr_hat.detach() - cr_map(gt.detach())).abs().mean())


@dataclass(frozen=True)
class FlowLevelRow:
    """One flow level of a real forward pass: what goes in and what comes out, and its condition."""

    level: int  # 1 = the finest
    steps: int  # layers in the level: its squeeze, unconditional steps and conditional steps
    input_shape: tuple[int, ...]  # the tensor the level receives (B, C, H, W)
    output_shape: tuple[int, ...]  # after its squeeze and steps
    cond_shape: tuple[int, ...]  # the encoder's condition for this level


def trace_flow_levels(model: nn.Module, lq: torch.Tensor, gt: torch.Tensor) -> list[FlowLevelRow]:
    """The shapes through each level of ``model.flow`` in one real forward pass of ``gt`` given ``lq``."""
    seen: list[tuple] = []

    def hook(module, inputs, output):
        seen.append((tuple(inputs[0].shape), tuple(output[0].shape)))

    handles = [level.register_forward_hook(hook) for level in model.flow.levels]
    try:
        with torch.no_grad():
            conds, _ = model.encoder(lq)
            model.flow(gt, conds)
    finally:
        for handle in handles:
            handle.remove()
    levels = zip(seen, model.flow.levels, conds)
    return [FlowLevelRow(k + 1, len(level.layers), a, b, tuple(c.shape)) for k, ((a, b), level, c) in enumerate(levels)]
