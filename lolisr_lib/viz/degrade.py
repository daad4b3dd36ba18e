"""Figures of notebooks 00 and 01: the degradation step by step, real captures beside simulated ones, SNR
against exposure, the capture explorer, noise amplification, noise blobs after upscaling, the error budget of a
sequential pipeline, and the problem in one picture.

Pure render functions: data in, a matplotlib figure out (``render_capture`` runs the fast simulator itself so
that it can sit behind sliders). The physics is in :mod:`lolisr_lib.image.degrade` and the measurements in
:mod:`lolisr_lib.lessons.noise_analysis`; RELLISUR (Aakerberg et al., NeurIPS 2021) is the capture imitated.
"""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np

from lolisr_lib.image.degrade import DegradeParams, degrade, downscale_target
from lolisr_lib.lessons.noise_analysis import SequentialErrors, SnrCurve, ideal_brighten, noise_std, simulate_noise_free
from lolisr_lib.viz import stretch, to_image

DARK_MEAN = 0.15  # render_steps stretches a step only when its mean (as a fraction of white) is below this


def _gain_note(gain: float) -> str:
    return "" if gain < 1.05 else f"\n(shown x{gain:.0f})" if gain >= 10 else f"\n(shown x{gain:.1f})"


def render_steps(steps, cols: int = 5, size: float = 2.4):
    """Each :class:`~lolisr_lib.lessons.degrade_steps.Step` as an image, numbered, with its value range, and one more
    panel: the stored file as it looks.

    Values are divided by the step's white; dark steps (mean below ``DARK_MEAN``, after the exposure) are
    multiplied for display and the title says by how much. Linear-light steps are shown without the sRGB
    curve, as the numbers are.
    """
    rows = (len(steps) + cols) // cols  # room for every step and the spare panel
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, step) in enumerate(zip(axes.flat, steps), start=1):
        values = np.clip(np.asarray(step.image, dtype=np.float64) / step.white, 0.0, 1.0)
        shown, gain = stretch(values) if values.mean() < DARK_MEAN else (values, 1.0)
        ax.imshow(shown, interpolation="nearest")
        low, high = float(np.min(step.image)), float(np.max(step.image))
        unit = "e-" if step.white not in (1.0, 255.0) else ""
        ax.set_title(f"{k}. {step.name}\n{step.image.shape[0]}x{step.image.shape[1]}, "
                     f"{low:.3g}..{high:.4g} {unit}{_gain_note(gain)}", fontsize=8)
    ax = axes.flat[len(steps)]  # the spare panel: the stored frame as it really looks, not stretched
    ax.imshow(to_image(np.clip(np.asarray(steps[-1].image) / steps[-1].white, 0.0, 1.0)), interpolation="nearest")
    ax.set_title("the stored file, not stretched\n(what it looks like)", fontsize=8)
    fig.tight_layout()
    return fig


def render_real_vs_simulated(rows, size: float = 2.9):
    """Real captures beside simulated ones: per row, the real dark frame and the simulated one (both multiplied
    by the same display gain, the real frame's), and the per-channel histograms of their code values (real
    solid, simulated dashed; log counts).

    ``rows``: dicts with ``title`` (the pair, e.g. its scene and EV), ``real`` and ``sim`` (uint8 ``(h, w, 3)``).
    """
    rows = list(rows)
    fig, axes = plt.subplots(len(rows), 3, figsize=(size * 3.6, size * len(rows) + 0.2), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1.6]})
    for (real_ax, sim_ax, hist_ax), row in zip(axes, rows):
        real, sim = np.asarray(row["real"]), np.asarray(row["sim"])
        shown, gain = stretch(real)
        for ax, img, name in ((real_ax, real, "real"), (sim_ax, sim, "simulated")):
            ax.imshow(np.clip(to_image(img) * gain, 0.0, 1.0), interpolation="nearest")
            ax.set_title(f"{row['title']}: {name}\nmean {img.mean():.2f}, black "
                         f"{100 * np.mean(img.max(axis=-1) == 0):.1f} %{_gain_note(gain)}", fontsize=8)
            ax.axis("off")
        top = int(max(np.percentile(real, 99.9), np.percentile(sim, 99.9))) + 4
        bins = np.arange(top + 2) - 0.5
        for channel, colour in enumerate(("tab:red", "tab:green", "tab:blue")):
            hist_ax.hist(real[..., channel].ravel(), bins=bins, histtype="step", color=colour, log=True)
            hist_ax.hist(sim[..., channel].ravel(), bins=bins, histtype="step", color=colour, log=True, ls="--")
        hist_ax.plot([], [], color="0.3", label="real")
        hist_ax.plot([], [], color="0.3", ls="--", label="simulated")
        hist_ax.set_xlim(-1, top)
        hist_ax.set_xlabel("8-bit code value (R, G, B)", fontsize=8)
        hist_ax.set_ylabel("pixels (log)", fontsize=8)
        hist_ax.set_title(f"{row['title']}: code histograms", fontsize=8)
        hist_ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def render_snr_curve(curve: SnrCurve, read_noise_e: float):
    """Measured SNR of a flat patch against EV, over the square-root law and its two asymptotes."""
    per_stop = float(curve.signal[0] / 2.0 ** curve.evs[0])  # electrons at 0 EV
    evs = np.linspace(curve.evs.min() - 0.25, curve.evs.max() + 0.25, 200)
    signal = per_stop * 2.0**evs
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(evs, signal / np.sqrt(signal + read_noise_e**2), color="C0", label=r"theory $S/\sqrt{S+\sigma_r^2}$")
    ax.plot(evs, np.sqrt(signal), ":", color="C2", label=r"shot-noise limit $\sqrt{S}$")
    ax.plot(evs, signal / read_noise_e, "--", color="C3", label=r"read-noise limit $S/\sigma_r$")
    ax.plot(curve.evs, curve.measured, "o", color="C1", label="measured (simulated grey card)")
    crossover = np.log2(read_noise_e**2 / per_stop)  # S = sigma_r^2: the two noises are equal
    ax.axvline(crossover, color="0.6", lw=0.8)
    ax.text(crossover, 0.7, f" S = $\\sigma_r^2$ = {read_noise_e**2:g} e-", fontsize=8, color="0.4")
    ax.set_yscale("log")
    ax.set_ylim(0.5, 2 * np.sqrt(signal.max()))
    ax.set_xlabel("exposure (EV, stops from normal)")
    ax.set_ylabel("SNR (mean / std)")
    top = ax.secondary_xaxis(
        "top", functions=(lambda ev: per_stop * 2.0**ev, lambda s: np.log2(np.maximum(s, 1e-12) / per_stop))
    )
    top.set_xlabel("mean photo-electrons per pixel S")
    top.set_xticks([s for s in (1, 3, 10, 30, 100, 300, 1000, 3000) if signal.min() <= s <= signal.max()])
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def render_capture(hr: np.ndarray, ev: float = -3.0, iso_gain: float = DegradeParams.iso_gain, scale: int = 4,
                   seed: int = 0, params: DegradeParams = DegradeParams()):
    """The explorer: the target, its simulated capture at ``ev`` and ``iso_gain``, and the capture brightened.

    Runs the simulator (fast: milliseconds on a 256 px image). Titles give the capture's mean code value, its
    noise (std against the noise-free capture) and the PSNR of the ideal brightening against the clean LR target.
    """
    params = replace(params, iso_gain=iso_gain)
    lq = degrade(hr, scale, ev, params, seed=seed)
    clean = simulate_noise_free(hr, scale, ev, params)
    bright = ideal_brighten(lq, ev, params)
    target = downscale_target(hr, scale) if scale > 1 else hr
    error = np.mean((bright * 255.0 - target.astype(np.float64)) ** 2)
    psnr = 10 * np.log10(255.0**2 / error) if error > 0 else np.inf
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.6))
    panels = [
        (hr, f"normal-light target\n{hr.shape[0]}x{hr.shape[1]}"),
        (lq, f"capture: EV {ev:g}, ISO gain {iso_gain:g}, x{scale}\n{lq.shape[0]}x{lq.shape[1]}, mean {lq.mean():.1f}, "
             f"noise std {noise_std(lq, clean):.2f}"),
        (bright, f"ideal brightening of the capture\nPSNR {psnr:.1f} dB vs clean LR, "
                 f"clipped {100 * np.mean(lq == 255):.1f} %"),
    ]
    for ax, (img, title) in zip(axes, panels):
        ax.imshow(to_image(img), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def render_amplification(dark, dark_clean, bright, bright_clean):
    """Brightening amplifies noise: the dark frame and its brightened version above, their noise below
    (``noisy - clean`` in 8-bit codes, on one shared colour scale)."""
    noise_dark = to_image(dark) * 255.0 - to_image(dark_clean) * 255.0
    noise_bright = to_image(bright) * 255.0 - to_image(bright_clean) * 255.0
    limit = float(np.percentile(np.abs(noise_bright), 99))
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 7.0))
    shown, gain = stretch(dark)
    axes[0, 0].imshow(shown, interpolation="nearest")
    axes[0, 0].set_title(f"dark capture, mean {to_image(dark).mean() * 255:.1f}{_gain_note(gain)}", fontsize=9)
    axes[0, 1].imshow(to_image(bright), interpolation="nearest")
    axes[0, 1].set_title(f"brightened, mean {to_image(bright).mean() * 255:.1f}", fontsize=9)
    for ax, noise, name in ((axes[1, 0], noise_dark, "dark"), (axes[1, 1], noise_bright, "brightened")):
        image = ax.imshow(noise.mean(axis=2), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"noise of the {name} image\nstd {noise.std():.2f} codes", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.colorbar(image, ax=axes[1, :], shrink=0.8, label="noisy - clean (8-bit codes, channel mean)")
    return fig


def render_noise_blobs(noise_lr: np.ndarray, noise_hr: np.ndarray, acf_lr: np.ndarray, acf_hr: np.ndarray,
                       scale: int, crop: int = 16):
    """Noise before and after bicubic upscaling (the same scene region, ``crop`` LR pixels square) and the
    autocorrelation of each against the lag in its own pixels."""
    lr = noise_lr[:crop, :crop].mean(axis=2)
    hr = noise_hr[: scale * crop, : scale * crop].mean(axis=2)
    limit = float(np.percentile(np.abs(lr), 99))
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.6), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    axes[0].imshow(lr, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    axes[0].set_title(f"noise after brightening (LR)\n{crop}x{crop} pixels", fontsize=9)
    axes[1].imshow(hr, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    axes[1].set_title(f"the same noise after bicubic x{scale} (HR)\n{scale * crop}x{scale * crop} pixels",
                      fontsize=9)
    for ax in axes[:2]:
        ax.axis("off")
    axes[2].plot(np.arange(len(acf_lr)), acf_lr, "o-", label="LR noise, lag in LR pixels")
    axes[2].plot(np.arange(len(acf_hr)), acf_hr, "s-", label="HR noise, lag in HR pixels")
    axes[2].axhline(0, color="0.5", lw=0.8)
    axes[2].axvline(scale, color="0.7", lw=0.8, ls="--")
    axes[2].set_xlabel("lag (pixels of that image)")
    axes[2].set_ylabel("autocorrelation")
    axes[2].set_title("independent pixels vs blobs", fontsize=9)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def render_error_budget(errors: SequentialErrors):
    """The sequential pipeline's error budget: PSNR of each stage alone and of the chain (left), and the MSE of
    the chain against the sum of its parts (right)."""
    psnr = errors.psnr()
    labels = ["LLE alone\n(LR)", "SR alone\n(oracle LLE)", "LLE error\nafter SR", "LLE then SR\n(sequential)"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    values = [psnr["lle"], psnr["sr"], psnr["propagated"], psnr["sequential"]]
    bars = left.bar(labels, values, color=["C0", "C2", "C1", "C3"])
    left.bar_label(bars, fmt="%.2f dB", fontsize=8)
    left.set_ylabel("PSNR (dB)")
    left.set_ylim(min(values) - 4, max(values) + 2)
    left.set_title("each stage alone, and the chain", fontsize=9)
    right.bar(["SR + LLE after SR"], [errors.sr], color="C2", label="SR stage")
    right.bar(["SR + LLE after SR"], [errors.propagated], bottom=[errors.sr], color="C1", label="LLE error after SR")
    right.bar(["sequential"], [errors.sequential], color="C3", label="measured chain")
    right.set_ylabel("MSE (8-bit codes squared)")
    right.set_title(f"errors add up: ratio {errors.additivity:.2f}", fontsize=9)
    right.set_ylim(0, 1.5 * max(errors.sequential, errors.sr + errors.propagated))
    right.legend(fontsize=8, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def render_problem(panels, notes, size: float = 2.8):
    """The problem in one picture: ``panels`` is a list of ``(title, image)``, ``notes`` one line of text (the
    scores) under each. Images of different sizes are shown at the same display size."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.8), squeeze=False)
    for ax, (title, img), note in zip(axes[0], panels, notes):
        ax.imshow(to_image(img), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(note, fontsize=9)
    fig.tight_layout()
    return fig
