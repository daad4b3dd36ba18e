"""Figures for the notebooks: pure render functions (data in, matplotlib figure out).

Each notebook topic has its own module (``viz.degrade``, ``viz.dataset``, ``viz.flows``, ...). A render function
never trains or loads anything slow, so a notebook can call it once statically (papermill, nbval and GitHub
show the figure) and then hand it to ``ipywidgets.interact`` for sliders. The helpers here are shared.

Inside a Jupyter kernel, importing this package also makes ipywidgets draw each slider's figure in its own output
area under either name of the inline backend (``viz.widgets``: after ``%matplotlib inline`` ipywidgets redrew
nothing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lolisr_lib.viz.widgets import in_kernel, patch_ipywidgets_inline_flush

if in_kernel():
    patch_ipywidgets_inline_flush()


def to_image(img) -> np.ndarray:
    """Any image (torch (3,H,W) or (1,3,H,W), numpy HWC float or uint8) as a float HWC array in [0, 1]."""
    if isinstance(img, torch.Tensor):
        img = img.detach().float().cpu()
        if img.dim() == 4:
            img = img[0]
        img = img.permute(1, 2, 0).numpy()
    img = np.asarray(img)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    return np.clip(img, 0.0, 1.0)


def image_grid(images, titles=None, *, cols=None, size=3.0, suptitle=None):
    """Show images side by side (each with an optional title); returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    cols = cols or n
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(to_image(img), interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_panels(axes, panels, *, fontsize: int = 9) -> None:
    """Draw ``(image, title)`` panels into ``axes``, one each: pixels as they are, a title, no axis frame."""
    for ax, (img, title) in zip(axes, panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=fontsize)
        ax.axis("off")


def save_figure(fig, out_dir, name: str) -> Path | None:
    """Save ``fig`` as ``out_dir/name.png`` (out_dir None: do nothing); returns the path."""
    if out_dir is None:
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


DISPLAY_MEAN = 0.35  # a dark image is shown multiplied so that its mean reaches this (the title says by how much)


def stretch(img, mean: float = DISPLAY_MEAN) -> tuple[np.ndarray, float]:
    """A dark image made visible: ``(to_image(img) * gain).clip(0, 1)``, and the gain.

    The gain brings the mean to ``mean`` unless that would clip more than 1 % of the values to white (then the
    99th percentile becomes white); it is 1 for an image already bright enough, at most 255 for a black one.
    """
    img = to_image(img)
    wanted = mean / max(float(img.mean()), 1e-12)
    gain = float(np.clip(min(wanted, 1.0 / max(float(np.percentile(img, 99)), 1e-12)), 1.0, 255.0))
    return np.clip(img * gain, 0.0, 1.0), gain


def finish_axes(fig, ax, xlabel: str, ylabel: str, *, legend: bool = True):
    """Label a one-axes figure, add its legend, tighten the layout; returns ``fig``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
