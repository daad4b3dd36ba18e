"""Figures of notebook 02 (the RELLISUR dataset): exposure windows, mean brightness per EV, histograms of a dark
input and its target, the two real pairs, registration of a wide view to its target, the five exposures that
share one target, and paired training crops.

Pure render functions: data in (rows of :func:`lolisr_lib.data.inventory.brightness_table`, images, dataset
items), a matplotlib figure out. RELLISUR: Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lolisr_lib.data.inventory import REAL_LLLR_MEAN, REAL_TARGET_MEAN
from lolisr_lib.errors import UserError
from lolisr_lib.viz import stretch, to_image

CHANNEL_COLOURS = ("tab:red", "tab:green", "tab:blue")


def render_windows(scene_evs: dict[str, list[float]], windows: dict[str, tuple[float, ...]]):
    """One row per scene (ordered by id) with a dot at each of its exposures, coloured by its window.

    ``scene_evs``: scene id -> its EVs; ``windows``: a name -> the five EVs of each known window.
    """
    names = {tuple(sorted(evs)): name for name, evs in windows.items()}
    colours = {name: f"C{k}" for k, name in enumerate(windows)}
    scenes = sorted(scene_evs)
    fig, ax = plt.subplots(figsize=(6.4, 0.17 * len(scenes) + 1.2))
    seen = set()
    for row, scene in enumerate(scenes):
        evs = sorted(scene_evs[scene])
        name = names.get(tuple(evs), "other")
        colour = colours.get(name, "0.5")
        label = None if name in seen else f"{name}: {evs[-1]:g} .. {evs[0]:g} EV"
        seen.add(name)
        ax.plot(evs, [row] * len(evs), "o-", color=colour, ms=4, lw=1, label=label)
    ax.set_yticks(range(len(scenes)), scenes, fontsize=6)
    ax.set_xlabel("exposure (EV)")
    ax.set_ylabel("scene id")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def render_brightness_per_ev(rows, reference: dict[float, float] = REAL_LLLR_MEAN,
                             target_range: tuple[float, float] = REAL_TARGET_MEAN):
    """Mean pixel value of every input (dots) and of its target (crosses) against EV, the median input per EV
    (line), and RELLISUR's published figures (stars, grey band for the targets)."""
    rows = list(rows)
    evs = np.array([row.ev for row in rows])
    lq = np.array([row.lq_mean for row in rows])
    gt = np.array([row.gt_mean for row in rows])
    jitter = np.random.default_rng(0).uniform(-0.08, 0.08, len(rows))  # fixed: the figure is reproducible
    fig, ax = plt.subplots(figsize=(8.4, 4.0))
    ax.axhspan(*target_range, color="0.85", label="RELLISUR targets (about)")
    ax.plot(evs + jitter, gt, "x", color="C2", ms=4, alpha=0.6, label="target (NLHR) of each input")
    ax.plot(evs + jitter, lq, "o", color="C0", ms=3, alpha=0.6, label="input (LLLR)")
    levels = np.unique(evs)
    ax.plot(levels, [np.median(lq[evs == ev]) for ev in levels], "-", color="C0", label="median input")
    ax.plot(list(reference), list(reference.values()), "*", color="C3", ms=12, label="RELLISUR inputs (about)")
    ax.set_xlabel("exposure of the input (EV)")
    ax.set_ylabel("mean pixel value (0..255)")
    ax.set_ylim(0, max(150.0, float(gt.max()) + 10))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def render_histograms(lq, gt, title: str = ""):
    """Per-channel histograms (log counts) of a dark input and of its target: where the codes of each sit."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.2), sharey=True)
    bins = np.arange(257) - 0.5
    for ax, img, name in ((axes[0], lq, "dark input (LLLR)"), (axes[1], gt, "target (NLHR)")):
        codes = np.round(to_image(img) * 255.0)
        for channel, colour in enumerate(CHANNEL_COLOURS):
            ax.hist(codes[..., channel].ravel(), bins=bins, histtype="step", color=colour, log=True)
        ax.set_title(f"{name}: mean {codes.mean():.1f}, {len(np.unique(codes))} distinct codes", fontsize=9)
        ax.set_xlabel("8-bit code value")
        ax.set_xlim(-3, 258)
    axes[0].set_ylabel("pixels (log scale)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def render_exposure_series(inputs, evs, target, size: float = 1.9):
    """Many-to-one pairing: the five inputs of one scene (as stored above, stretched for display below) and
    the one target they share."""
    n = len(inputs)
    fig, axes = plt.subplots(2, n + 1, figsize=(size * (n + 1), 2 * size + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (img, ev) in enumerate(zip(inputs, evs)):
        axes[0, k].imshow(to_image(img), interpolation="nearest")
        axes[0, k].set_title(f"EV {ev:g}, mean {to_image(img).mean() * 255:.1f}", fontsize=8)
        shown, gain = stretch(img)
        axes[1, k].imshow(shown, interpolation="nearest")
        axes[1, k].set_title(f"shown x{gain:.0f}", fontsize=8)
    axes[0, n].imshow(to_image(target), interpolation="nearest")
    axes[0, n].set_title("the shared target", fontsize=8)
    fig.tight_layout()
    return fig


def render_scene(dataset, scene: str):
    """:func:`render_exposure_series` of one scene of a :class:`lolisr_lib.data.RellisurDataset` (whole images:
    build the dataset without ``patch_size``). Reads the scene's few images, so it can sit behind a slider."""
    items = [dataset[k] for k, pair in enumerate(dataset.pairs) if pair.scene == scene]
    if not items:
        scenes = sorted({pair.scene for pair in dataset.pairs})
        raise UserError(f"scene {scene!r} is not in this dataset; it holds {', '.join(scenes[:10])}"
                        + (" ..." if len(scenes) > 10 else ""))
    return render_exposure_series([item["lq"] for item in items], [item["ev"] for item in items], items[0]["gt"])


def render_pairs(items, size: float = 1.9):
    """Paired training crops: each item's LR crop (stretched for display) above its HR crop.

    ``items``: dicts of :class:`lolisr_lib.data.RellisurDataset` (``lq``, ``gt``, ``scene``, ``ev``).
    """
    n = len(items)
    fig, axes = plt.subplots(2, n, figsize=(size * n, 2 * size + 0.9), squeeze=False)
    for k, item in enumerate(items):
        shown, gain = stretch(item["lq"])
        axes[0, k].imshow(shown, interpolation="nearest")
        lq_side, gt_side = item["lq"].shape[-1], item["gt"].shape[-1]
        axes[0, k].set_title(f"{item['scene']} EV {item['ev']:g}\nLR {lq_side} px, shown x{gain:.0f}", fontsize=8)
        axes[1, k].imshow(to_image(item["gt"]), interpolation="nearest")
        axes[1, k].set_title(f"HR {gt_side} px", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def render_real_pairs(rows, size: float = 2.6):
    """Real pairs, one row each: the input as stored, the input stretched for display, the target, and the
    input's per-channel code histogram (log counts).

    ``rows``: dicts with ``title``, ``lq`` and ``gt`` (uint8 ``(h, w, 3)`` images of any size).
    """
    rows = list(rows)
    fig, axes = plt.subplots(len(rows), 4, figsize=(size * 4.4, size * len(rows) + 0.2), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.4]})
    for (stored_ax, shown_ax, target_ax, hist_ax), row in zip(axes, rows):
        lq, gt = np.asarray(row["lq"]), np.asarray(row["gt"])
        shown, gain = stretch(lq)
        panels = ((stored_ax, to_image(lq), f"{row['title']}: input as stored\n{lq.shape[0]} x {lq.shape[1]}, "
                                             f"mean {lq.mean():.1f}"),
                  (shown_ax, shown, f"the input, shown x{gain:.0f}"),
                  (target_ax, to_image(gt), f"its target\n{gt.shape[0]} x {gt.shape[1]}, mean {gt.mean():.1f}"))
        for ax, img, title in panels:
            ax.imshow(img, interpolation="antialiased")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
        top = int(np.percentile(lq, 99.9)) + 4
        for channel, colour in enumerate(CHANNEL_COLOURS):
            hist_ax.hist(lq[..., channel].ravel(), bins=np.arange(top + 2) - 0.5, histtype="step", color=colour,
                         log=True)
        hist_ax.set_xlim(-1, top)
        hist_ax.set_xlabel("8-bit code value of the input", fontsize=8)
        hist_ax.set_ylabel("pixels (log)", fontsize=8)
        hist_ax.set_title(f"{100 * np.mean(lq.max(axis=-1) == 0):.1f} % black pixels, "
                          f"{len(np.unique(lq))} distinct codes", fontsize=8)
    fig.tight_layout()
    return fig


def _outline(ax, transform, side: int, style: str, label: str) -> None:
    """Draw the target's outline mapped through ``transform`` (target -> view pixels) into ``ax``."""
    corners = np.array([[0.0, 0.0], [side, 0.0], [side, side], [0.0, side], [0.0, 0.0]])
    mapped = transform(corners)
    ax.plot(mapped[:, 0], mapped[:, 1], style, lw=1.4, label=label)


def render_registration(pair, registration, crops: dict, errors: dict):
    """Registering a wide view to its target. Left column: the target, and the view with the target's footprint
    (true, nominal, estimated) and the inlier matches. One column per crop of the view to the target: the crop
    (below) and its absolute difference to the target (above), titled with its corner error and PSNR.

    ``pair``: a :class:`lolisr_lib.lessons.registration.ViewPair`; ``registration``: a
    :class:`lolisr_lib.lessons.registration.Registration`; ``crops``: name -> the view resampled into the target's grid;
    ``errors``: the same names -> ``(corner error in px, PSNR in dB)``.
    """
    side = pair.target.shape[0]
    cols = 1 + len(crops)
    fig, axes = plt.subplots(2, cols, figsize=(3.1 * cols, 7.2), squeeze=False, layout="constrained")
    axes[0, 0].imshow(pair.target)
    axes[0, 0].set_title("target (long focal length)", fontsize=9)
    view_ax = axes[1, 0]
    view_ax.imshow(pair.view)
    _outline(view_ax, pair.true, side, "-", "true footprint")
    _outline(view_ax, pair.nominal, side, "--", "nominal (focal lengths only)")
    _outline(view_ax, registration.transform, side, ":", "estimated (features + RANSAC)")
    inliers = registration.view_points[registration.inlier_mask]
    view_ax.plot(inliers[:, 0], inliers[:, 1], ".", ms=2.5, color="yellow", label="inlier matches")
    view_ax.set_xlim(0, side)
    view_ax.set_ylim(side, 0)
    view_ax.set_title(f"wide view (short focal length)\n{registration.matches} matches, "
                      f"{registration.inliers} inliers", fontsize=9)
    view_ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.02), frameon=False)
    differences = {name: np.abs(crop - pair.target).mean(axis=-1) for name, crop in crops.items()}
    limit = max(float(np.percentile(d, 99)) for d in differences.values())
    for k, (name, crop) in enumerate(crops.items(), start=1):
        error, quality = errors[name]
        image = axes[0, k].imshow(differences[name], cmap="magma", vmin=0, vmax=limit)
        axes[0, k].set_title(f"|crop - target|\ncorners off by {error:.2f} px\nPSNR {quality:.1f} dB", fontsize=9)
        axes[1, k].imshow(crop)
        axes[1, k].set_title(f"view cropped to the target:\n{name}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[0, 1:].tolist(), shrink=0.8, label="mean |difference|\nover R, G, B")
    return fig
