"""Figures of notebook 08 (training on GPU): the learning-rate schedule, the training curves, float formats.

Pure render functions: data in (configs, the rows of :func:`lolisr_lib.train.read_log`), a matplotlib figure
out. The schedule is the one of :mod:`lolisr_lib.train.schedule` (Adam, linear warm-up, the rate halved at
fixed fractions of the run; docs/model.md section 7), drawn from :func:`~lolisr_lib.train.lr_factor` itself.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from lolisr_lib.config import TrainConfig
from lolisr_lib.train import lr_factor

CURVE_LABELS = {  # log column -> panel title; panels appear in this order when the column is logged
    "loss": "loss (NLL + gamma L1)",
    "nll": "NLL (bits per HR pixel)",
    "l1": "L1 of the mean prediction",
    "lr": "learning rate",
    "grad_norm": "gradient norm (before clipping)",
    "images_per_s": "throughput (images / s)",
}
NOT_SMOOTHED = {"lr"}  # columns drawn as they are: a moving average would blur the schedule's steps
FORMATS = {  # name -> (dtype, colour)
    "float16": (torch.float16, "C3"),
    "bfloat16": (torch.bfloat16, "C0"),
    "float32": (torch.float32, "C2"),
}


def schedule_points(train: TrainConfig, points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Steps and learning rates of ``train``'s schedule: ``points`` steps plus both sides of every change."""
    n = train.steps
    steps = set(np.linspace(0, n - 1, min(points, n)).round().astype(int).tolist())
    for b in [train.warmup_steps] + [round(f * n) for f in train.decay_at]:  # both sides of each change: sharp
        steps.update(s for s in (b - 1, b) if 0 <= s < n)
    steps = np.array(sorted(steps))
    lrs = np.array([train.lr * lr_factor(int(s), total_steps=n, warmup_steps=train.warmup_steps,
                                         decay_at=train.decay_at) for s in steps])
    return steps, lrs


def render_lr_schedule(configs: dict[str, TrainConfig], logged: dict[str, list[dict]] | None = None):
    """One panel per named config: its learning rate against the step; warm-up shaded, halvings dashed.

    ``logged``: log rows of a run under the same name; their ``lr`` is drawn as dots (row ``step`` k used the
    rate of optimiser step k - 1).
    """
    logged = logged or {}
    fig, axes = plt.subplots(1, len(configs), figsize=(5.2 * len(configs), 3.4), squeeze=False)
    for ax, (name, train) in zip(axes[0], configs.items()):
        steps, lrs = schedule_points(train)
        ax.plot(steps, lrs, color="C0", label="lr_factor x lr")
        ax.axvspan(0, train.warmup_steps, color="C1", alpha=0.15, label=f"warm-up ({train.warmup_steps} steps)")
        for f in train.decay_at:
            ax.axvline(f * train.steps, color="0.5", ls="--", lw=0.8)
        rows = [r for r in logged.get(name, []) if "lr" in r]
        if rows:
            ax.plot([r["step"] - 1 for r in rows], [r["lr"] for r in rows], ".", color="C3", ms=3,
                    label="logged by the run")
        ax.set_title(f"{name}: {train.steps:,} steps, halved at {', '.join(f'{f:.0%}' for f in train.decay_at)}",
                     fontsize=9)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("learning rate")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def render_schedule(steps: int = 100_000, warmup_steps: int = 1000, lr: float = 5e-4):
    """The schedule of a run of ``steps`` steps with the paper's halvings (for sliders)."""
    return render_lr_schedule({"schedule": TrainConfig(steps=steps, warmup_steps=warmup_steps, lr=lr)})


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def render_training_curves(log_rows: list[dict], val_rows: list[dict] | None = None, *,
                           resume_step: int | None = None, keys=tuple(CURVE_LABELS)):
    """The logged columns among ``keys`` against the step (raw and a moving average), then Val PSNR with the
    best validation marked; a vertical line where the run was resumed."""
    present = [k for k in keys if any(k in r for r in log_rows)]
    panels = present + (["val"] if val_rows else [])
    if not panels:
        raise ValueError("nothing to plot: the log rows hold none of the requested columns and no Val rows")
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, key in zip(axes.flat, panels):
        if key == "val":
            _val_panel(ax, val_rows)
        else:
            pts = [(r["step"], r[key]) for r in log_rows if key in r and math.isfinite(r[key])]
            steps, values = (np.array(v, dtype=float) for v in zip(*pts)) if pts else (np.array([]), np.array([]))
            smooth = key not in NOT_SMOOTHED
            ax.plot(steps, values, color="C0", alpha=0.35 if smooth else 1.0, lw=0.8 if smooth else 1.5)
            window = max(1, len(values) // 15) if smooth else 1
            if window > 1:
                ax.plot(steps[window - 1:], _smooth(values, window), color="C0", lw=1.6, label=f"mean of {window}")
                ax.legend(fontsize=7)
            ax.set_title(CURVE_LABELS.get(key, key), fontsize=9)
        if resume_step is not None:
            ax.axvline(resume_step, color="C3", ls=":", lw=1.2)
            ax.text(resume_step, 0.02, " resumed", color="C3", fontsize=7, va="bottom",
                    transform=ax.get_xaxis_transform())
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def _val_panel(ax, val_rows: list[dict]) -> None:
    steps = [r["step"] for r in val_rows]
    values = [r["psnr"] for r in val_rows]
    ax.plot(steps, values, "o-", color="C2")
    best = int(np.argmax(values))
    ax.plot(steps[best], values[best], "*", color="C1", ms=14, label=f"best.pt (step {steps[best]})")
    ax.set_title("Val PSNR (dB): model selection", fontsize=9)
    ax.legend(fontsize=7)


def spacing(dtype: torch.dtype, magnitudes: np.ndarray) -> np.ndarray:
    """Gap between consecutive representable numbers of ``dtype`` near each magnitude (NaN past its range)."""
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))  # stored fraction bits: eps = 2 ** -mantissa
    exponent = np.floor(np.log2(magnitudes))
    gap = 2.0 ** (np.maximum(exponent, math.log2(info.tiny)) - mantissa)  # subnormals share the smallest gap
    gap[(magnitudes > info.max) | (magnitudes < info.tiny * info.eps)] = np.nan
    return gap


def render_float_formats(marks: dict[str, float] | None = None):
    """Spacing of representable numbers against magnitude for float16, bfloat16 and float32 (log-log).

    A curve stops where its format overflows (right) or rounds to zero (left); ``marks`` (label -> value)
    draws the magnitudes of quantities of a training step as vertical lines. The axis spans 1e-9 to 1e7 and
    every mark, with a decade of margin.
    """
    values = [abs(v) for v in (marks or {}).values() if v]
    lo, hi = min([1e-9] + [v / 10 for v in values]), max([1e7] + [v * 10 for v in values])
    x = np.logspace(math.log10(lo), math.log10(hi), 800)
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    for name, (dtype, colour) in FORMATS.items():
        info = torch.finfo(dtype)
        ax.plot(x, spacing(dtype, x), color=colour, label=f"{name}: max {info.max:.3g}, eps {info.eps:.2g}")
        if info.max < hi:
            ax.plot(info.max, float(spacing(dtype, np.array([info.max]))[0]), "x", color=colour, ms=10, mew=2)
            ax.text(info.max, float(spacing(dtype, np.array([info.max]))[0]), f"  overflow -> inf\n  ({name})",
                    color=colour, fontsize=7, va="top")
    for k, (label, value) in enumerate((marks or {}).items()):
        ax.axvline(abs(value), color=f"C{4 + k}", ls="--", lw=1)
        ax.text(abs(value), 0.03, f" {label}", color=f"C{4 + k}", fontsize=7, rotation=90, va="bottom",
                ha="right", transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("magnitude of the number")
    ax.set_ylabel("gap to the next representable number")
    ax.set_title("Range and precision: float16 overflows at 65504, bfloat16 keeps float32's range", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


__all__ = ["render_float_formats", "render_lr_schedule", "render_schedule", "render_training_curves",
           "schedule_points", "spacing"]
