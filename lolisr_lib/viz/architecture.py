"""An architecture diagram of LoLiSRFlow drawn from a real forward pass (notebook 07).

The boxes and their shapes come from :func:`lolisr_lib.lessons.encoder_probe.trace_shapes` (the encoder) and
:func:`lolisr_lib.lessons.encoder_probe.trace_flow_levels` (the flow), recorded with hooks on a real input, so the
diagram cannot disagree with the code: change the config and the diagram changes with it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ENCODER_COLOUR, FLOW_COLOUR, PRIOR_COLOUR = "#dbe9f6", "#fde8cf", "#e3f1dc"


def _shape(shape: tuple) -> str:
    return " x ".join(str(s) for s in shape[1:])


def _box(ax, x, y, w, h, text, colour, fontsize=7.5):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=colour, ec="#444",
                                lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=0.8, color="#444"))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.05, (start[1] + end[1]) / 2, text, fontsize=6.5, color="#333",
                va="center")


def render_architecture(encoder_rows, flow_rows, *, name: str = "", latent_shape=None):
    """Encoder branches (left), flow levels (right), the conditions between them and the CR prior at the end.

    ``encoder_rows``: :func:`trace_shapes` rows; ``flow_rows``: :func:`trace_flow_levels` rows; ``latent_shape``:
    the prior's mean shape (defaults to the last level's output)."""
    fig, ax = plt.subplots(figsize=(11, 6.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 7.2)
    ax.axis("off")
    features = next(r for r in encoder_rows if r.where == "features")
    stem = next(r for r in encoder_rows if r.where == "stem")
    branches = [r for r in encoder_rows if r.where == "branch created"]
    conds = [r for r in encoder_rows if r.where == "condition"]
    stages = sorted({r.where for r in encoder_rows if r.where.startswith("stage")})
    cr = next(r for r in encoder_rows if r.where == "CR map")
    _box(ax, 1.2, 6.6, 2.0, 0.6, f"dark input x\n{features.shape[0]} x 3 x {features.shape[-2]} x {features.shape[-1]}",
         "white")
    _box(ax, 1.2, 5.6, 2.0, 0.7, f"4 views: log, HE, CR, noise\n{_shape(features.shape)}", ENCODER_COLOUR)
    _box(ax, 1.2, 4.6, 2.0, 0.6, f"stem 3x3 conv\n{_shape(stem.shape)}", ENCODER_COLOUR)
    _arrow(ax, (1.2, 6.3), (1.2, 5.95))
    _arrow(ax, (1.2, 5.25), (1.2, 4.9))
    ys = [3.7 - 1.1 * k for k in range(len(branches))]
    for branch, cond, y in zip(branches, conds, ys):
        _box(ax, 3.4, y, 2.3, 0.8, f"branch {branch.branch} at {branch.resolution}\n{_shape(branch.shape)}\n"
             f"{len(stages)} stages of channel-attention blocks", ENCODER_COLOUR, 7)
        _arrow(ax, (2.2, 4.4), (2.25, y + 0.2))
        _box(ax, 5.6, y, 1.5, 0.6, f"condition {cond.branch}\n{_shape(cond.shape)}", ENCODER_COLOUR)
        _arrow(ax, (4.55, y), (4.85, y))
    ax.text(3.4, 4.3, "cross-scale fusion after every stage", fontsize=7, ha="center", style="italic")
    _box(ax, 5.6, 5.3, 2.3, 0.6, f"CR head (pixel shuffle, sigmoid)\nCR map {_shape(cr.shape)}", PRIOR_COLOUR, 7)
    _arrow(ax, (4.0, ys[0] + 0.4), (5.0, 5.0))
    # the flow: the target y goes down through the levels to the latent z
    first = flow_rows[0]
    _box(ax, 8.6, 6.6, 2.4, 0.6, f"target y\n{_shape(first.input_shape)}", "white")
    for row, y in zip(flow_rows, ys):
        _box(ax, 8.6, y, 2.6, 0.8, f"level {row.level}: squeeze + {row.steps - 1} steps\n"
             f"{_shape(row.input_shape)} -> {_shape(row.output_shape)}", FLOW_COLOUR, 7)
        _arrow(ax, (6.35, y), (7.3, y), "cond")
    _arrow(ax, (8.6, 6.3), (8.6, ys[0] + 0.4))
    for a, b in zip(ys, ys[1:]):
        _arrow(ax, (8.6, a - 0.4), (8.6, b + 0.4))
    latent = latent_shape or flow_rows[-1].output_shape
    _box(ax, 8.6, 0.4, 2.6, 0.55, f"latent z ~ N(mu, I)\n{_shape(latent)}", PRIOR_COLOUR)
    _arrow(ax, (8.6, ys[-1] - 0.4), (8.6, 0.68))
    _box(ax, 5.6, 0.4, 2.2, 0.55, f"mu = squeeze(CR map)\n{_shape(latent)}", PRIOR_COLOUR)
    _arrow(ax, (6.75, 5.0), (6.45, 0.68))
    _arrow(ax, (6.7, 0.4), (7.3, 0.4))
    ax.text(8.6, 7.05, "flow F: y -> z (training); prediction: y = F^-1(mu; x)", ha="center", fontsize=8)
    ax.text(3.4, 7.05, "encoder E(x)", ha="center", fontsize=8)
    if name:
        fig.suptitle(f"{name}: shapes recorded in a real forward pass", fontsize=10)
    fig.tight_layout()
    return fig
