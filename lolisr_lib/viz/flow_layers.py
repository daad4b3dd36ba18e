"""Figures of notebook 04 (flow layers): ActNorm's initialisation, matrices and Jacobians, the squeeze layout,
the two affine scale functions, their worst-case inverse growth, and the measured inverse blow-up.

Pure render functions: data in, a matplotlib figure out. The layers are in :mod:`lolisr_lib.flow` (Glow,
arXiv 1807.03039; SRFlow, arXiv 2006.14200); the measurements in :mod:`lolisr_lib.flow.stability` and
:mod:`lolisr_lib.lessons.scale_comparison`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from lolisr_lib.flow.coupling import SOFTCLAMP, sigmoid_log_scale

FLOAT32_MAX = float(np.finfo(np.float32).max)  # where a float32 value overflows to inf
SUBPIXEL_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")  # one colour per (dy, dx) = (0,0) (0,1) (1,0) (1,1)
SCALE_FN_COLORS = {"softclamp": "#4c72b0", "sigmoid": "#c44e52"}


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def render_channel_stats(mean_before, std_before, mean_after, std_after, *, size: float = 3.2):
    """Per-channel mean and standard deviation of a batch before and after ActNorm, as grouped bars."""
    stats = [(_numpy(mean_before), _numpy(mean_after), "mean", 0.0),
             (_numpy(std_before), _numpy(std_after), "standard deviation", 1.0)]
    channels = np.arange(len(stats[0][0]))
    fig, axes = plt.subplots(1, 2, figsize=(2 * size * 1.4, size))
    for ax, (before, after, name, target) in zip(axes, stats):
        ax.bar(channels - 0.2, before, width=0.4, label="before (input)", color="#999999")
        ax.bar(channels + 0.2, after, width=0.4, label="after ActNorm", color="#4c72b0")
        ax.axhline(target, color="k", lw=0.8, ls="--")
        ax.set_xticks(channels)
        ax.set_xlabel("channel")
        ax.set_title(f"per-channel {name}", fontsize=10)
    axes[0].legend(fontsize=8)
    axes[0].annotate(f"after: max |mean| = {np.abs(stats[0][1]).max():.0e}", (0.98, 0.80), xycoords="axes fraction",
                     ha="right", fontsize=8)
    fig.tight_layout()
    return fig


def render_matrices(matrices: Mapping[str, object], *, blocks: Mapping[str, int] | None = None,
                    size: float = 2.8, suptitle: str | None = None, linthresh: float | None = None):
    """Each matrix as an image, on a symmetric colour scale (red positive, blue negative, white zero).

    ``blocks`` maps a title to an index where a block boundary is drawn (rows and columns), e.g. the split
    of a coupling layer's channels. ``linthresh`` switches to a symmetric log scale, linear within
    ``+-linthresh``, so that small entries stay visible next to large ones while exact zeros stay white.
    """
    blocks = blocks or {}
    fig, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices), size + 0.4), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        m = _numpy(matrix).astype(np.float64)
        vmax = max(float(np.abs(m).max()), 1e-12)
        norm = (plt.matplotlib.colors.SymLogNorm(linthresh, vmin=-vmax, vmax=vmax) if linthresh
                else plt.matplotlib.colors.Normalize(-vmax, vmax))
        image = ax.imshow(m, cmap="RdBu_r", norm=norm, interpolation="nearest")
        if title in blocks:
            edge = blocks[title] - 0.5
            ax.axhline(edge, color="k", lw=0.8)
            ax.axvline(edge, color="k", lw=0.8)
        ax.set_title(f"{title}\n{m.shape[0]} x {m.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def _value_grid(ax, values: np.ndarray, classes: np.ndarray, title: str) -> None:
    """A grid of integer values, each cell coloured by its sub-pixel class (0..3)."""
    rgb = np.array([plt.matplotlib.colors.to_rgb(SUBPIXEL_COLORS[k]) for k in classes.ravel()])
    ax.imshow(rgb.reshape(*classes.shape, 3), interpolation="nearest")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{int(v)}", ha="center", va="center", color="white", fontsize=9, fontweight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def render_squeeze_layout(x, y, *, size: float = 1.15):
    """Where Squeeze puts each pixel: input ``x`` ``(C, H, W)`` on top, output ``y`` ``(4C, H/2, W/2)`` below.

    Every value is printed in its cell; the colour is the value's position ``(dy, dx)`` inside its 2x2 block
    of the input, so each output channel is one colour when the layout is ``4*c + 2*dy + dx``. Input channel
    ``c`` sits above its four output channels, drawn at the same cell size.
    """
    x, y = _numpy(x), _numpy(y)
    C, H, W = x.shape
    position = (np.arange(H)[:, None] % 2) * 2 + np.arange(W)[None, :] % 2  # (H, W): 2*dy + dx
    lookup = {int(v): int(position[i, j]) for c in range(C) for (i, j), v in np.ndenumerate(x[c])}
    cols = y.shape[0]
    fig = plt.figure(figsize=(size * cols, size * 3.3))
    grid = fig.add_gridspec(2, cols, height_ratios=[2, 1])
    for c in range(C):
        _value_grid(fig.add_subplot(grid[0, 4 * c + 1:4 * c + 3]), x[c], position, f"input channel {c}, {H} x {W}")
    for k in range(cols):
        classes = np.vectorize(lambda v: lookup.get(int(v), 0))(y[k])
        _value_grid(fig.add_subplot(grid[1, k]), y[k], classes, f"out {k} = 4*{k // 4}+{k % 4}")
    handles = [plt.matplotlib.patches.Patch(color=SUBPIXEL_COLORS[k], label=f"(dy, dx) = ({k // 2}, {k % 2})")
               for k in range(4)]
    fig.legend(handles=handles, loc="upper left", fontsize=8)
    fig.suptitle("Squeeze: output channel 4*c + 2*dy + dx holds input pixel (2i + dy, 2j + dx) of channel c",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def render_log_scale_functions(raw, log_scales: Mapping[str, object], *, size: float = 3.4):
    """Left: ``log scale`` against the network output ``raw``; right: the inverse gain ``1 / scale`` (log axis).

    ``log_scales`` maps a curve's label to its values on ``raw``. Each curve's extreme inverse gain over the
    plotted range is marked.
    """
    raw = _numpy(raw)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size * 1.3, size))
    for k, (label, values) in enumerate(log_scales.items()):
        values = _numpy(values)
        color = SCALE_FN_COLORS.get(label.split()[0].rstrip(",:"), f"C{k + 2}")
        axes[0].plot(raw, values, label=label, color=color)
        gain = np.exp(-values)
        axes[1].semilogy(raw, gain, label=label, color=color)
        axes[1].axhline(gain.max(), color=color, lw=0.8, ls=":")
        axes[1].annotate(f"max here {gain.max():.3g}", (raw[-1], gain.max()), ha="right", va="bottom",
                         fontsize=8, color=color)
    axes[0].axhline(0, color="k", lw=0.6)
    axes[0].axvline(0, color="k", lw=0.6)
    axes[0].set(xlabel="raw (network output)", ylabel="log scale", title="log-scale function")
    axes[1].axhline(1, color="k", lw=0.6)
    axes[1].set(xlabel="raw (network output)", ylabel="inverse gain 1 / scale",
                title="how much one layer's inverse can amplify")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def render_scale_bound(c: float = SOFTCLAMP, raw_limit: float = 12.0):
    """:func:`render_log_scale_functions` of SRFlow's sigmoid scale and the soft clamp ``c * tanh(raw / c)``.

    At the default ``c`` the soft clamp is the library's ``softclamp_log_scale``; other values show the
    trade-off a slider can explore: a larger bound scales more strongly, and its inverse can grow more.
    """
    raw = torch.linspace(-raw_limit, raw_limit, 961, dtype=torch.float64)
    return render_log_scale_functions(raw, {
        f"softclamp, c = {c:g}": c * torch.tanh(raw / c),
        "sigmoid (SRFlow, LLFlow)": sigmoid_log_scale(raw),
    })


def render_worst_case_growth(per_layer_gain: Mapping[str, float], *, layers: int = 72,
                             marks: Mapping[str, int] | None = None, size: float = 3.4):
    """Worst-case inverse growth ``gain ** n`` after ``n`` affine layers (log axis), with float32's limit.

    ``marks`` maps a label to a layer count drawn as a vertical line (e.g. the affine layers of a flow).
    """
    n = np.arange(0, layers + 1)
    fig, ax = plt.subplots(figsize=(size * 1.6, size))
    for k, (label, gain) in enumerate(per_layer_gain.items()):
        log10_growth = n * np.log10(gain)
        color = SCALE_FN_COLORS.get(label.split()[0].rstrip(",:"), f"C{k + 2}")
        ax.plot(n, log10_growth, label=f"{label}: {gain:.3g} per layer", color=color)
        overflow = np.log10(FLOAT32_MAX) / np.log10(gain)
        if overflow <= layers:
            ax.plot([overflow], [np.log10(FLOAT32_MAX)], "o", color=color)
            ax.annotate(f"float32 overflow\nafter {overflow:.1f} layers", (overflow, np.log10(FLOAT32_MAX)),
                        xytext=(6, -24), textcoords="offset points", fontsize=8, color=color)
    ax.axhline(np.log10(FLOAT32_MAX), color="k", lw=0.8, ls="--", label="float32 max (3.4e38)")
    for label, mark in (marks or {}).items():
        ax.axvline(mark, color="#888888", lw=0.8, ls=":")
        ax.annotate(label, (mark, 0.5), xycoords=("data", "axes fraction"), rotation=90, ha="right",
                    va="center", fontsize=8, color="#555555")
    ax.set(xlabel="affine layers inverted", ylabel="log10 of worst-case growth",
           title="worst case: every layer at its largest inverse gain")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def render_blowup_sweep(trials: Sequence, *, threshold: float = 10.0, matched: Sequence = (),
                        temperature: float = 1.0, size: float = 3.4):
    """Largest ``|y|`` (the generated image's values) of inverted random latents against the log-scale spread,
    one curve per scale function.

    ``trials`` are :class:`~lolisr_lib.lessons.scale_comparison.ScaleTrial` results measured at ``temperature``. A
    trial with non-finite samples is drawn at float32's limit with a cross and its non-finite fraction;
    ``matched`` trials are circled.
    """
    fig, ax = plt.subplots(figsize=(size * 1.7, size))
    names = list(dict.fromkeys(t.scale_fn for t in trials))
    for k, name in enumerate(names):
        group = sorted((t for t in trials if t.scale_fn == name), key=lambda t: t.spread["std"])
        std = np.array([t.spread["std"] for t in group])
        nonfinite = np.array([t.blowup["nonfinite"] for t in group])
        shown = np.where(nonfinite > 0, FLOAT32_MAX, [t.blowup["max_abs"] for t in group])
        color = SCALE_FN_COLORS.get(name, f"C{k}")
        ax.loglog(std, shown, "-", color=color, label=name)
        ax.loglog(std[nonfinite == 0], shown[nonfinite == 0], "o", color=color)
        ax.loglog(std[nonfinite > 0], shown[nonfinite > 0], "x", color=color, markersize=9, mew=2)
        for s, f in zip(std[nonfinite > 0], nonfinite[nonfinite > 0]):
            ax.annotate(f"{f:.0%} non-finite", (s, FLOAT32_MAX), xytext=(0, -14 - 10 * k),
                        textcoords="offset points", fontsize=7, color=color, ha="center")
    for t in matched:
        value = FLOAT32_MAX if t.blowup["nonfinite"] > 0 else t.blowup["max_abs"]
        ax.loglog([t.spread["std"]], [value], "o", ms=14, mfc="none", mec="k")
    ax.margins(x=0.15)  # room for the labels of the outermost points
    ax.axhline(threshold, color="k", lw=0.8, ls="--", label=f"exploded: |y| > {threshold:g}")
    ax.axhline(1, color="#888888", lw=0.6)
    ax.set(xlabel="log-scale spread (std over all affine layers, on the data)",
           ylabel="largest |y| of the inverted samples",
           title=f"inverting random latents: mean + {temperature:g} * N(0, 1)")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
