"""Figures of notebook 07 (LoLiSRFlow end to end): parameter counts, the loss decomposed, a training curve,
the enhanced image, samples with their per-pixel spread, and the effect of the sampling temperature.

Pure render functions: data in, a matplotlib figure out. The model is :class:`lolisr_lib.model.LoLiSRFlow`
(arXiv 2402.18871); the sampling measurements come from :mod:`lolisr_lib.lessons.uncertainty`.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np

from lolisr_lib.viz import show_panels, to_image


def render_parameter_counts(counts: dict):
    """Stacked bars of each model's parameter shares: ``{model name: {part name: parameter count}}``.

    Every bar spans 100% of its model; the labels give the counts, the tick labels the totals.
    """
    fig, ax = plt.subplots(figsize=(7.5, 0.7 * len(counts) + 1.3))
    names = list(counts)
    for row, name in enumerate(names):
        total = sum(counts[name].values())
        left = 0.0
        for k, (part, n) in enumerate(counts[name].items()):
            share = n / total
            ax.barh(row, share, left=left, color=f"C{k}", label=part if row == 0 else None)
            ax.text(left + share / 2, row, f"{part}\n{n / 1e6:.2f} M ({100 * share:.0f}%)", ha="center",
                    va="center", fontsize=8, color="w")
            left += share
    ax.set_yticks(range(len(names)), [f"{name}\n{sum(counts[name].values()) / 1e6:.2f} M" for name in names])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the model's parameters")
    ax.set_title("where the parameters are", fontsize=10)
    fig.tight_layout()
    return fig


def loss_waterfall(log_prob: float, logdet: float, l1: float, gamma: float, H: int, W: int) -> list[tuple]:
    """The loss as steps in bits per HR pixel position: ``[(label, start, end), ...]``, total last.

    ``-log p(z)`` and ``-logdet`` (nats, batch means) are divided by ``ln 2 * H * W``; their sum is the NLL,
    to which ``gamma * l1`` is added.
    """
    per_pixel = math.log(2) * H * W
    prior, volume = -log_prob / per_pixel, -logdet / per_pixel
    nll = prior + volume
    return [
        ("-log p(z) (CR prior)", 0.0, prior),
        ("-sum log|det J|", prior, nll),
        ("= NLL", 0.0, nll),
        (f"+ {gamma:g} x L1", nll, nll + gamma * l1),
        ("= loss", 0.0, nll + gamma * l1),
    ]


def render_loss_decomposition(log_prob: float, logdet: float, l1: float, gamma: float, H: int, W: int):
    """Waterfall chart of :func:`loss_waterfall`: how the prior, the log-det and the L1 term make the loss."""
    steps = loss_waterfall(log_prob, logdet, l1, gamma, H, W)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for k, (label, start, end) in enumerate(steps):
        total = label.startswith("=")
        color = "0.35" if total else ("C3" if end > start else "C2")
        ax.bar(k, end - start, bottom=start, color=color, width=0.6)
        text = f"{end:.3f}" if total else f"{end - start:+.3f}"
        up = end >= start if not total else end >= 0
        ax.text(k, end, text, ha="center", va="bottom" if up else "top", fontsize=8)
    values = [v for _, start, end in steps for v in (start, end)]
    span = max(values) - min(values) or 1.0
    ax.set_ylim(min(values) - 0.12 * span, max(values) + 0.12 * span)  # room for the labels
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(len(steps)), [s[0] for s in steps], fontsize=8)
    ax.set_ylabel("bits per HR pixel position")
    ax.set_title("one training step's loss, term by term (red adds, green subtracts)", fontsize=10)
    fig.tight_layout()
    return fig


def render_loss_curve(rows: list[dict], keys=("loss", "nll", "l1")):
    """Training-log rows (``train.read_log``) as curves against step, one panel per key."""
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.0), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, key in zip(axes[0], keys):
        ax.plot(steps, [r.get(key, np.nan) for r in rows], color="C0")
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def render_enhancement(lq, pred, gt, scores: dict, size: float = 3.2):
    """Input (nearest-upscaled to the output size), prediction and target; ``scores``: ``{"psnr", "ssim"}``
    of the prediction, and optionally ``"input_psnr"`` (of the input upscaled)."""
    pred_img, gt_img = to_image(pred), to_image(gt)
    lq_img = to_image(lq)
    factor = gt_img.shape[0] // lq_img.shape[0]
    lq_big = np.repeat(np.repeat(lq_img, factor, axis=0), factor, axis=1)
    input_note = f"\nPSNR {scores['input_psnr']:.2f} dB" if "input_psnr" in scores else ""
    panels = [
        (lq_big, f"input lq {lq_img.shape[0]}x{lq_img.shape[1]} (x{factor} nearest){input_note}"),
        (pred_img, f"enhance(lq), temperature 0\nPSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.3f}"),
        (gt_img, f"target gt {gt_img.shape[0]}x{gt_img.shape[1]}"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(3 * size, size + 0.5))
    show_panels(axes, panels)
    fig.tight_layout()
    return fig


def grid_columns(panels: int, widest: int = 5) -> int:
    """The number of columns, 3 to ``widest``, that leaves the fewest empty cells (the wider on a tie)."""
    return min(range(3, widest + 1), key=lambda cols: (math.ceil(panels / cols) * cols - panels, -cols))


def render_samples(samples, std_map, temperature: float, error_map=None, size: float = 2.6, cols: int | None = None):
    """``samples`` (n, 3, H, W) at ``temperature`` in a grid, their mean, the per-pixel std map and, when given,
    an ``error_map`` (H, W) (e.g. the absolute error of the temperature-0 prediction), each heat map on its own
    colour scale (up to its 99.5th percentile) so that the patterns compare, not the magnitudes. ``cols`` (default:
    the grid with the fewest empty cells, e.g. 3 x 3 for six samples and three summaries)."""
    n = len(samples)
    panels = n + 2 + (error_map is not None)
    cols = cols or grid_columns(panels)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k in range(n):
        axes.flat[k].imshow(to_image(samples[k]), interpolation="nearest")
        axes.flat[k].set_title(f"sample {k + 1}, tau = {temperature:g}", fontsize=9)
    mean = np.mean([to_image(s) for s in samples], axis=0)
    axes.flat[n].imshow(mean, interpolation="nearest")
    axes.flat[n].set_title("mean of the samples", fontsize=9)
    heat = [("per-pixel std between samples", np.asarray(std_map, dtype=np.float64))]
    if error_map is not None:
        heat.append(("|prediction - gt| at tau = 0", np.asarray(error_map, dtype=np.float64)))
    for k, (title, values) in enumerate(heat):
        ax = axes.flat[n + 1 + k]
        vmax = float(np.percentile(values, 99.5)) or 1.0
        image = ax.imshow(values, cmap="inferno", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{title}\n(mean {values.mean():.4f})", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def render_temperature_sweep(sweep):
    """PSNR (mean +- std over samples) and sample diversity against temperature, from a ``TemperatureSweep``."""
    fig, (ax_p, ax_d) = plt.subplots(1, 2, figsize=(10, 3.6))
    t = sweep.temperatures
    ax_p.errorbar(t, sweep.psnr, yerr=sweep.psnr_std, fmt="o-", capsize=3, color="C0")
    ax_p.set_xlabel("temperature tau")
    ax_p.set_ylabel("PSNR of the samples (dB)")
    ax_p.set_title("fidelity", fontsize=10)
    ax_d.plot(t, sweep.diversity, "o-", color="C3")
    ax_d.set_xlabel("temperature tau")
    ax_d.set_ylabel("mean per-pixel std between samples")
    ax_d.set_title("diversity", fontsize=10)
    for ax in (ax_p, ax_d):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def render_temperature_samples(sweep, index: int = 0, size: float = 2.4):
    """The stored samples of one temperature of a ``TemperatureSweep`` (the slider's figure)."""
    samples = sweep.samples[index]
    fig, axes = plt.subplots(1, len(samples), figsize=(size * len(samples), size + 0.4), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.imshow(to_image(samples[k]), interpolation="nearest")
        ax.set_title(f"sample {k + 1}", fontsize=9)
        ax.axis("off")
    fig.suptitle(f"tau = {sweep.temperatures[index]:g}: PSNR {sweep.psnr[index]:.2f} dB, "
                 f"diversity {sweep.diversity[index]:.4f}", fontsize=10)
    fig.tight_layout()
    return fig


def render_method_row(lq, outputs: dict, gt, scores: dict, size: float = 3.0, title: str | None = None):
    """The dark input, each method's output and the target in one row; ``outputs``: name -> (3, H, W) image,
    ``scores``: name -> (PSNR, SSIM) of that output. The input is shown as it is (dark), nearest-upscaled."""
    lq_img, gt_img = to_image(lq), to_image(gt)
    factor = gt_img.shape[0] // lq_img.shape[0]
    panels = [(np.repeat(np.repeat(lq_img, factor, axis=0), factor, axis=1),
               f"dark input {lq_img.shape[0]}x{lq_img.shape[1]}\nmean {255 * lq_img.mean():.1f} / 255")]
    for name, out in outputs.items():
        p, s = scores[name]
        # a long method name would run into its neighbour's title: wrap it to about the panel's width
        panels.append((to_image(out), f"{textwrap.fill(name, width=int(11 * size))}\nPSNR {p:.2f} dB, SSIM {s:.3f}"))
    panels.append((gt_img, f"target {gt_img.shape[0]}x{gt_img.shape[1]}\nmean {255 * gt_img.mean():.1f} / 255"))
    title_lines = max(label.count("\n") + 1 for _, label in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * size, size + 0.35 * title_lines))
    show_panels(axes, panels)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def render_val_curves(runs: dict, keys=("psnr", "brightness_error"), reference: dict | None = None):
    """Validation curves of training runs side by side: ``runs`` maps a label to its ``val`` rows (dicts with
    ``step`` and the ``keys``); ``reference`` maps a label to a horizontal line drawn on the first panel."""
    labels = {"psnr": "Val PSNR (dB)", "ssim": "Val SSIM", "brightness_error": "|mean brightness error| (0..255)",
              "psnr_exposure": "Val PSNR, brightness from the EV (dB)"}
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, rows in runs.items():
            ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker="o", ms=3, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel(labels.get(key, key))
        ax.grid(alpha=0.3)
    psnr_axes = [ax for ax, key in zip(axes[0], keys) if key.startswith("psnr")]
    if len(psnr_axes) > 1:  # the two PSNRs on one scale, so that their wandering compares at a glance
        low = min(ax.get_ylim()[0] for ax in psnr_axes)
        high = max(ax.get_ylim()[1] for ax in psnr_axes)
        for ax in psnr_axes:
            ax.set_ylim(low, high)
    for label, value in (reference or {}).items():
        axes[0][0].axhline(value, ls="--", lw=1, color="grey")
        axes[0][0].annotate(label, (axes[0][0].get_xlim()[0], value), fontsize=8, va="bottom", color="grey")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
