"""Figures of notebook 06 (the conditional encoder): input features, attention cost, fusion traffic,
receptive fields and the colour-ratio head.

Pure render functions: data in, a matplotlib figure out. The measurements come from
:mod:`lolisr_lib.lessons.attention_cost` and :mod:`lolisr_lib.lessons.encoder_probe`; the encoder is LoLiSRFlow's
(arXiv 2402.18871) multi-resolution parallel transformer, ``lolisr_lib.encoder``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from lolisr_lib.encoder.features import LOG_FLOOR
from lolisr_lib.viz import show_panels, to_image

CR_DISPLAY_GAIN = 1.5  # a CR map is shown multiplied by this: grey (1/3 each) becomes mid-grey (0.5)


def _hwc(t) -> np.ndarray:
    """A (3, H, W) tensor (or (H, W, 3) array) as float HWC, not clipped."""
    if isinstance(t, torch.Tensor):
        t = t.detach().float().cpu()
        t = t[0] if t.dim() == 4 else t
        return t.permute(1, 2, 0).numpy()
    return np.asarray(t, dtype=np.float64)


def _stretch(img: np.ndarray, target_mean: float = 0.35) -> tuple[np.ndarray, float]:
    """A dark image multiplied (by 1 to 100) so that its mean reaches ``target_mean``, clipped; and the gain."""
    gain = float(np.clip(target_mean / max(float(img.mean()), 1e-6), 1.0, 100.0))
    return np.clip(img * gain, 0, 1), gain


def render_input_features(lq, features, size: float = 2.4):
    """The dark input and the encoder's four 3-channel views of it, each mapped to [0, 1] for display.

    ``lq``: (3, h, w); ``features``: (12, h, w) as ``encoder_features`` returns them with every view on (log,
    HE, CR, noise). The log view is shown as ``(log x - log 1e-3) / -log 1e-3``, the CR map times 1.5 and the
    noise map divided by its 99th percentile.
    """
    lq_img = _hwc(lq)
    views = [_hwc(features[3 * v: 3 * v + 3]) for v in range(4)]
    log_floor = np.log(LOG_FLOOR)
    noise_scale = max(float(np.percentile(views[3], 99)), 1e-6)
    shown_lq, gain = _stretch(lq_img)
    panels = [
        (np.clip(lq_img, 0, 1), f"input lq (mean {lq_img.mean():.3f})"),
        (shown_lq, f"input, shown x{gain:.1f}"),
        (np.clip((views[0] - log_floor) / -log_floor, 0, 1), "1. log(clamp(lq, 1e-3))"),
        (np.clip(views[1], 0, 1), "2. histogram-equalised"),
        (np.clip(views[2] * CR_DISPLAY_GAIN, 0, 1), "3. CR map (x1.5)"),
        (np.clip(views[3] / noise_scale, 0, 1), f"4. noise map (/{noise_scale:.3f})"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.4))
    show_panels(axes, panels)
    fig.tight_layout()
    return fig


def render_attention_cost(costs, marks: dict | None = None, fit_from: dict | None = None):
    """Log-log plots of measured time (left) and counted FLOPs and map memory (right) against pixels.

    ``costs``: :class:`~lolisr_lib.lessons.attention_cost.AttentionCost` per kind; ``marks``: optional
    ``{label: pixels}`` drawn as vertical lines (e.g. the miniature's LR image, the paper's patch);
    ``fit_from``: ``{kind: pixels}``, the smallest size of each kind's slope fit (default: all sizes), where a
    grey line of slope 1 (channel) or 2 (spatial) is anchored for comparison. The counted curves run to the
    largest mark with their exact formulas.
    """
    from lolisr_lib.lessons.attention_cost import attention_flops, attention_map_bytes

    marks, fit_from = marks or {}, fit_from or {}
    fig, (ax_t, ax_c) = plt.subplots(1, 2, figsize=(11, 4.4))
    colors = {"channel": "C0", "spatial": "C3"}
    theory = {"channel": 1, "spatial": 2}
    top = max([int(c.pixels.max()) for c in costs] + list(marks.values()))
    for cost in costs:
        color = colors.get(cost.kind, "C2")
        start = fit_from.get(cost.kind, int(cost.pixels.min()))
        slope = cost.slope("seconds", min_pixels=start)
        ax_t.loglog(cost.pixels, cost.seconds * 1e3, "o-", color=color,
                    label=f"{cost.kind}: slope {slope:.2f} for N >= {start}")
        if cost.kind in theory:
            anchor = int(np.argmax(cost.pixels >= start))
            n = cost.pixels[anchor:]
            ref = cost.seconds[anchor] * 1e3 * (n / n[0]) ** theory[cost.kind]
            ax_t.loglog(n, ref, ":", color="0.5", lw=1.2)
            ax_t.text(n[-1], ref[-1], f" N^{theory[cost.kind]}", fontsize=8, color="0.4", va="center")
        n = np.geomspace(cost.pixels.min(), top, 60)
        flops = [attention_flops(cost.kind, cost.channels, int(p)) for p in n]
        mem = [attention_map_bytes(cost.kind, cost.channels, int(p)) for p in n]
        ax_c.loglog(n, flops, "-", color=color, label=f"{cost.kind}: FLOPs")
        ax_c.loglog(n, mem, "--", color=color, label=f"{cost.kind}: map bytes")
    for ax in (ax_t, ax_c):
        for k, (label, pixels) in enumerate(marks.items()):
            ax.axvline(pixels, color="0.6", lw=0.8, ls=":")
            ax.text(pixels, 0.03 + 0.07 * k, f" {label}", transform=ax.get_xaxis_transform(), fontsize=7,
                    color="0.35")
        ax.set_xlabel("pixels N per image (tokens for spatial attention)")
        ax.grid(True, which="major", alpha=0.3)
    ax_t.set_ylabel("time of one attention core (ms, best of repeats)")
    ax_t.set_title("measured (grey: the ideal slope from the first fitted point)", fontsize=10)
    ax_c.set_ylabel("FLOPs / bytes")
    ax_c.set_title(f"counted (c = {costs[0].channels} channels, 1 head)", fontsize=10)
    ax_t.legend(fontsize=8, loc="upper left")
    ax_c.legend(fontsize=7, ncol=2, loc="upper left")
    ax_t.set_xlim(right=top * 2)
    ax_t.set_ylim(top=max(float(c.seconds.max()) for c in costs) * 1e3 * 30)  # room for the legend
    fig.tight_layout()
    return fig


def render_fusion_traffic(messages, stage: int = 1):
    """Heat map of the messages of one fusion: cell (target, source) is the message's RMS relative to the
    target branch's RMS, annotated with the resize path."""
    chosen = [m for m in messages if m.stage == stage]
    n = max(max(m.source, m.target) for m in chosen)
    ratio = np.full((n, n), np.nan)
    fig, ax = plt.subplots(figsize=(1.9 * n + 1.6, 1.5 * n + 0.8))
    for m in chosen:
        ratio[m.target - 1, m.source - 1] = m.rms / max(m.target_rms, 1e-12)
    image = ax.imshow(ratio, cmap="viridis", vmin=0)
    for m in chosen:
        ax.text(m.source - 1, m.target - 1, f"{ratio[m.target - 1, m.source - 1]:.2f}\n{m.path}",
                ha="center", va="center", fontsize=7, color="w")
    for b in range(n):
        ax.text(b, b, "itself\n(kept)", ha="center", va="center", fontsize=7, color="0.3")
    ax.set_xticks(range(n), [f"from {b + 1}" for b in range(n)])
    ax.set_yticks(range(n), [f"to {b + 1}" for b in range(n)])
    ax.set_title(f"fusion after stage {stage}: RMS(message) / RMS(receiving branch)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def render_receptive_fields(maps, centers, titles, size: float = 2.8):
    """``log10`` of gradient magnitudes ``(h, w)``, each normalised to its maximum, with the pixel marked."""
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps) + 0.8, size + 0.4), squeeze=False)
    image = None
    for ax, grad, center, title in zip(axes[0], maps, centers, titles):
        shown = np.log10(np.maximum(grad / max(float(grad.max()), 1e-30), 1e-8))
        image = ax.imshow(shown, cmap="magma", vmin=-8, vmax=0, interpolation="nearest")
        ax.plot(center[1], center[0], "c+", ms=10, mew=1.5)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(image, ax=list(axes[0]), fraction=0.03, label="log10 |gradient| / max")
    return fig


def render_cr_maps(reference, predictions: dict, errors: dict | None = None, size: float = 2.6):
    """CR maps side by side, times 1.5 for display: ``reference`` (CR(gt)) first, then each prediction.

    Maps are (3, H, W) tensors or (H, W, 3) arrays; ``errors``: optional ``{name: mean absolute error}``.
    """
    errors = errors or {}
    panels = [("CR(gt), the target", reference)] + list(predictions.items())
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.5))
    for ax, (name, cr) in zip(np.atleast_1d(axes), panels):
        ax.imshow(to_image(_hwc(cr) * CR_DISPLAY_GAIN), interpolation="nearest")
        note = f"\nMAE {errors[name]:.4f}" if name in errors else ""
        ax.set_title(f"{name}{note}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig
