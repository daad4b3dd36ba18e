"""Figures of notebook 09 (reproducing the tables): measured vs reported PSNR, PSNR per exposure, the
GT-mean cheat, and a grid of inputs, outputs and targets.

Pure render functions: data in (the outputs of :mod:`lolisr_lib.lessons.reproduce` and
:func:`lolisr_lib.evaluate.published.comparison_rows`), a matplotlib figure out. Tables follow RELLISUR (Aakerberg et
al., NeurIPS 2021 Datasets and Benchmarks, Table 7) and LoLiSRFlow (arXiv 2402.18871).
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from lolisr_lib.evaluate.metrics import psnr
from lolisr_lib.viz import show_panels, to_image

DISPLAY_MEAN = 0.35  # a dark input is shown multiplied so that its mean reaches this (its title says by how much)
KIND_COLOURS = {"measured": "C1", "reported": "C0"}


def _short_source(row: dict) -> str:
    return "ours" if row["kind"] == "measured" else row["source"].split(" (")[0].split(",")[0]


def render_comparison(rows: list[dict], metric: str = "psnr"):
    """Horizontal bars of ``metric`` for :func:`~lolisr_lib.evaluate.published.comparison_rows` output, measured rows
    in one colour, reported rows in another, each labelled with its source."""
    if not rows:
        raise ValueError("no rows to draw")
    labels = [f"{r['method']}  [{_short_source(r)}]" for r in rows]
    values = [r[metric] for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.24 * len(rows)))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, values, color=[KIND_COLOURS[r["kind"]] for r in rows], edgecolor="white")
    for yy, v in zip(y, values):
        ax.text(v, yy, f" {v:.2f}" if metric == "psnr" else f" {v:.3f}", va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    kinds = [r["kind"] for r in rows]
    for k in range(1, len(rows)):  # a rule between the measured block and the reported one
        if kinds[k] != kinds[k - 1]:
            ax.axhline(y[k] + 0.5, color="0.3", lw=0.8, ls="--")
    ax.legend(handles=[Patch(color=c, label=kind) for kind, c in KIND_COLOURS.items()], fontsize=8, loc="upper right")
    ax.set_xlabel("PSNR (dB)" if metric == "psnr" else metric.upper())
    ax.set_title("Measured here vs reported in papers (different data and protocols: read the labels)", fontsize=9)
    ax.set_xlim(0, max(values) * 1.15)
    fig.tight_layout()
    return fig


def render_per_ev(per_ev: dict[str, dict[float, float]], ylabel: str = "PSNR (dB)"):
    """One line per method of a metric against the exposure; darker inputs to the right."""
    fig, ax = plt.subplots(figsize=(8.6, 3.8))
    for k, (name, values) in enumerate(per_ev.items()):
        evs = sorted(values, reverse=True)
        ax.plot(evs, [values[ev] for ev in evs], "o-", color=f"C{k % 10}", label=name)
    ax.invert_xaxis()
    ax.set_xlabel("exposure of the input (EV)")
    ax.set_ylabel(ylabel)
    ax.set_title("Per-EV breakdown (darker inputs to the right)", fontsize=9)
    ax.grid(alpha=0.3)
    # beside the axes: with eight methods a legend inside would hide some of their lines
    ax.legend([textwrap.fill(name, 30) for name in per_ev], fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def render_cheat(effect: dict[str, tuple[float, float]]):
    """Paired bars per method: the honest PSNR and the PSNR after GT-mean rescaling (hatched: a cheat)."""
    names = list(effect)
    raw = [effect[n][0] for n in names]
    cheat = [effect[n][1] for n in names]
    y = np.arange(len(names))[::-1]
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.45 * len(names)))
    ax.barh(y + 0.2, raw, height=0.4, color="C0", label="PSNR as reported here (no rescaling)")
    ax.barh(y - 0.2, cheat, height=0.4, color="C3", hatch="//", alpha=0.7,
            label="after rescaling to the GT mean (CHEAT: reads the target)")
    for yy, a, b in zip(y, raw, cheat):
        ax.text(a, yy + 0.2, f" {a:.2f}", va="center", fontsize=7)
        ax.text(b, yy - 0.2, f" {b:.2f} ({b - a:+.2f})", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel("PSNR (dB)")
    ax.set_xlim(0, max(raw + cheat) * 1.3)
    ax.set_title("LLFlow's GT-mean rescaling hides brightness errors", fontsize=9)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.06), ncol=1, frameon=False)
    fig.tight_layout()
    return fig


def _shown_input(lq) -> tuple[np.ndarray, float]:
    img = to_image(lq)
    gain = float(np.clip(DISPLAY_MEAN / max(img.mean(), 1e-6), 1.0, 255.0))
    return np.clip(img * gain, 0.0, 1.0), gain


def render_method_grid(examples, names=None, rows=None, size: float = 1.6):
    """Rows: examples; columns: the dark input (brightened for display), each method's output with its PSNR,
    the target. ``examples``: a :class:`~lolisr_lib.lessons.reproduce.Examples`; ``names``: methods to show (all);
    ``rows``: indices of the examples to show (all)."""
    names = list(examples.outputs) if names is None else list(names)
    rows = list(range(len(examples.lq))) if rows is None else list(rows)
    cols = len(names) + 2
    if not rows:
        raise ValueError("no examples to draw")
    fig, axes = plt.subplots(len(rows), cols, figsize=(size * cols, size * len(rows) + 0.4), squeeze=False)
    for line, r in zip(axes, rows):
        shown, gain = _shown_input(examples.lq[r])
        panels = [(shown, f"input {examples.scene[r]} {examples.ev[r]:+.1f} EV\n(shown x{gain:.0f})")]
        panels += [(to_image(examples.outputs[m][r]),
                    f"{textwrap.fill(m, 24)}\n{psnr(examples.outputs[m][r], examples.gt[r]):.2f} dB") for m in names]
        panels.append((to_image(examples.gt[r]), "target (NLHR)"))
        show_panels(line, panels, fontsize=7)
    fig.tight_layout()
    return fig


def render_example(examples, index: int = 0):
    """One example of :func:`render_method_grid` (for a slider over the examples)."""
    return render_method_grid(examples, rows=[index], size=2.4)


__all__ = ["render_cheat", "render_comparison", "render_example", "render_method_grid", "render_per_ev"]
