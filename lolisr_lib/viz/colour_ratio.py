"""Figures of the colour-ratio notebook (05): CR maps, their invariance, and the encoder's four input views.

Pure render functions: images and measured numbers in, a matplotlib figure out. The CR map
``CR(I) = I / sum_c I`` (LLFlow, arXiv 2109.05923; LoLiSRFlow, arXiv 2402.18871) is shown as a
chromaticity image, ``CR / max_c CR``: every pixel's colour at full brightness, black where the image is.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from lolisr_lib.image.color import cr_map
from lolisr_lib.viz import finish_axes, stretch, to_image

LOG_FLOOR = 1e-3  # the encoder's clamp before the log; the log view is shown over [log 1e-3, 0]


def cr_display(cr: np.ndarray) -> np.ndarray:
    """A CR map ``(H, W, 3)`` as a displayable image: each pixel divided by its largest channel (0 stays 0)."""
    cr = np.asarray(cr, dtype=np.float64)
    peak = cr.max(axis=-1, keepdims=True)
    return np.divide(cr, peak, out=np.zeros_like(cr), where=peak > 0)


def _cr_of(img) -> np.ndarray:
    return cr_map(to_image(img).astype(np.float64))


def _off(axes) -> None:
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])


def render_cr_exposure_series(lq_by_ev: dict, gt, *, size: float = 2.1):
    """Top: every LLLR exposure (brightened for display, gain in the title) and the NLHR target; bottom: the
    CR map of each, as chromaticity. ``lq_by_ev`` maps EV to an image; ``gt`` is the x1 target."""
    n = len(lq_by_ev) + 1
    fig, axes = plt.subplots(2, n, figsize=(size * n, size * 2.15))
    for col, (ev, lq) in enumerate(lq_by_ev.items()):
        shown, gain = stretch(lq)
        axes[0, col].imshow(shown, interpolation="nearest")
        axes[0, col].set_title(f"{ev:+.1f} EV (x{gain:.0f} shown)", fontsize=9)
        axes[1, col].imshow(cr_display(_cr_of(lq)), interpolation="nearest")
    axes[0, -1].imshow(to_image(gt), interpolation="nearest")
    axes[0, -1].set_title("NLHR x1 target", fontsize=9)
    axes[1, -1].imshow(cr_display(_cr_of(gt)), interpolation="nearest")
    axes[1, 0].set_ylabel("CR map", fontsize=9)
    axes[0, 0].set_ylabel("image", fontsize=9)
    _off(axes)
    fig.tight_layout()
    return fig


def render_cr_pair(lq_by_ev: dict, gt, ev: float):
    """One exposure against the target (for a slider): the input, the two CR maps, the per-pixel CR error."""
    return render_cr_rows([{"title": f"{ev:+.1f} EV", "lq": lq_by_ev[ev], "gt": gt}], size=2.4)


def render_cr_rows(rows, *, size: float = 2.6, vmax: float = 0.4):
    """One row per pair: the input (brightened for display), its CR map, the target's CR map and the per-pixel
    CR error. ``rows``: dicts with ``title``, ``lq`` and ``gt`` (the target at the input's size)."""
    rows = list(rows)
    fig, axes = plt.subplots(len(rows), 4, figsize=(size * 4.3, size * len(rows) + 0.3), squeeze=False)
    for row_axes, row in zip(axes, rows):
        shown, gain = stretch(row["lq"])
        cr_lq, cr_gt = _cr_of(row["lq"]), _cr_of(row["gt"])
        error = np.abs(cr_lq - cr_gt).mean(axis=-1)
        panels = ((shown, f"{row['title']}: input (x{gain:.0f} shown)"), (cr_display(cr_lq), "CR(input)"),
                  (cr_display(cr_gt), "CR(target)"))
        for ax, (img, title) in zip(row_axes, panels):
            ax.imshow(img, interpolation="antialiased")
            ax.set_title(title, fontsize=9)
        image = row_axes[3].imshow(error, cmap="viridis", vmin=0, vmax=vmax, interpolation="antialiased")
        row_axes[3].set_title(f"|difference|, mean {error.mean():.3f}", fontsize=9)
        fig.colorbar(image, ax=row_axes[3], fraction=0.046)
    _off(axes)
    fig.tight_layout()
    return fig


def render_invariance(evs, errors: dict, baseline: float | None = None):
    """Grouped bars: one group per EV, one bar per entry of ``errors`` (label -> values per EV); an optional
    dashed baseline (the error of a colourless, grey guess)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    evs = list(evs)
    width = 0.8 / max(len(errors), 1)
    positions = np.arange(len(evs))
    for i, (label, values) in enumerate(errors.items()):
        ax.bar(positions + (i - (len(errors) - 1) / 2) * width, values, width, label=label, color=f"C{i}")
    if baseline is not None:
        ax.axhline(baseline, color="k", ls="--", lw=1, label=f"grey guess (CR = 1/3): {baseline:.3f}")
    ax.set_xticks(positions, [f"{ev:+.1f}" for ev in evs])
    return finish_axes(fig, ax, "exposure of the input (EV)", "mean |CR(input) - CR(target)|")


def render_error_by_brightness(edges, curves: dict, counts=None):
    """CR error per brightness bin (octaves of the 8-bit level), one line per entry of ``curves``; the pixel
    count per bin as bars on a second axis."""
    edges = np.asarray(edges, dtype=np.float64)
    labels = [f"{int(lo)}-{int(hi) - 1}" if hi - lo > 1 else f"{int(lo)}" for lo, hi in zip(edges[:-1], edges[1:])]
    positions = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(6.8, 3.4))
    if counts is not None:
        twin = ax.twinx()
        twin.bar(positions, counts, color="0.9", width=0.7)
        twin.set_ylabel("pixels in the bin", color="0.5")
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
    for i, (label, values) in enumerate(curves.items()):
        ax.plot(positions, values, "o-", color=f"C{i}", label=label)
    ax.set_xticks(positions, labels, rotation=30)
    ax.set_xlabel("brightness of the input pixel (mean 8-bit level)")
    ax.set_ylabel("mean |CR(input) - CR(target)|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def render_overexposure(rows: list[dict], gt, over, over_ev: float):
    """Synthetic over-exposure: the target, its over-exposed version, both CR maps, and the measured bias per
    EV (rows of :func:`lolisr_lib.lessons.cr_analysis.overexposure_bias`)."""
    fig = plt.figure(figsize=(9.6, 4.6))
    grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.9])
    panels = [(to_image(gt), "target"), (to_image(over), f"{over_ev:+.1f} EV, clipped"),
              (cr_display(_cr_of(gt)), "CR(target)"), (cr_display(_cr_of(over)), f"CR({over_ev:+.1f} EV)")]
    for index, (img, title) in enumerate(panels):
        ax = fig.add_subplot(grid[index // 2, index % 2])
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        _off(ax)
    ax = fig.add_subplot(grid[:, 2])
    evs = [row["ev"] for row in rows]
    ax.plot(evs, [row["cr_error_clipped"] for row in rows], "o-", color="C3", label="CR error, clipped pixels")
    ax.plot(evs, [row["cr_error"] for row in rows], "s-", color="C0", label="CR error, all pixels")
    ax.set_xlabel("exposure change (EV)")
    ax.set_ylabel("mean |CR - CR(target)|")
    twin = ax.twinx()
    twin.plot(evs, [row["clipped_fraction"] for row in rows], ":", color="0.4", label="clipped fraction")
    twin.set_ylabel("fraction clipped", color="0.4")
    twin.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def render_he_comparison(lq, he_per_channel, he_pooled, *, bins: int = 32):
    """Three images (input brightened, per-channel HE, pooled HE) over their per-channel histograms."""
    shown, gain = stretch(lq)
    images = [(shown, f"input (x{gain:.0f} shown)", to_image(lq)), (to_image(he_per_channel), "per-channel HE "
              "(library)", None), (to_image(he_pooled), "pooled HE (skimage)", None)]
    fig, axes = plt.subplots(2, 3, figsize=(9.0, 5.4), gridspec_kw={"height_ratios": [1.4, 1]})
    for col, (img, title, values) in enumerate(images):
        axes[0, col].imshow(img, interpolation="nearest")
        axes[0, col].set_title(title, fontsize=9)
        _off(axes[0, col])
        values = img if values is None else values
        for channel, colour in enumerate(("red", "green", "blue")):
            axes[1, col].hist(values[..., channel].ravel(), bins=bins, range=(0, 1), histtype="step",
                              color=colour, lw=1.3)
        axes[1, col].set_xlabel("value")
    axes[1, 0].set_ylabel("pixels per bin")
    fig.tight_layout()
    return fig


def render_encoder_features(features, *, noise_percentile: float = 99.0):
    """The encoder's four 3-channel views of one input, ``(1, 12, h, w)`` or ``(12, h, w)``: log, HE, CR, noise.

    Display scaling: log over ``[log 1e-3, 0]``; HE as is; CR as chromaticity; the noise map divided by its
    ``noise_percentile``-th percentile. Each title gives the view's value range.
    """
    if isinstance(features, torch.Tensor):
        features = features.detach().float().cpu()
        features = features[0] if features.dim() == 4 else features
        features = features.permute(1, 2, 0).numpy()  # (h, w, 12)
    views = [features[..., 3 * i:3 * i + 3] for i in range(4)]
    log_view, he_view, cr_view, noise_view = views
    shown = [
        np.clip((log_view - np.log(LOG_FLOOR)) / -np.log(LOG_FLOOR), 0, 1),
        np.clip(he_view, 0, 1),
        cr_display(cr_view),
        np.clip(noise_view / max(float(np.percentile(noise_view, noise_percentile)), 1e-8), 0, 1),
    ]
    names = ["log(clamp(lq, 1e-3))", "histogram-equalised", "colour ratio", "noise map"]
    fig, axes = plt.subplots(1, 4, figsize=(10.4, 3.0))
    for ax, img, raw, name in zip(axes, shown, views, names):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(f"{name}\n[{raw.min():.3g}, {raw.max():.3g}]", fontsize=9)
        _off(ax)
    fig.tight_layout()
    return fig
