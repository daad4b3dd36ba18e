"""Figures of the change-of-variables notebook (03): densities in 1-D and 2-D, warped grids, a fitted flow.

Pure render functions: data (or a map to draw) in, a matplotlib figure out; nothing here trains. The
maths they illustrate is the change of variables of normalizing flows, ``p_y(y) = p_z(f(y)) |det df/dy|``
(Rezende & Mohamed 2015, arXiv 1505.05770; RealNVP, Dinh et al. 2017, arXiv 1605.08803).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from lolisr_lib.lessons.toy2d import sample_toy_flow
from lolisr_lib.viz import finish_axes

DEFAULT_EXTENT = (-4.0, 4.0, -3.0, 3.0)  # (x0, x1, y0, y1) of the 2-D toy plots


def _numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def render_densities_1d(grids, densities, samples, titles, *, bins: int = 80):
    """One panel per density: the formula's curve over a normalised histogram of samples.

    ``grids[i]`` and ``densities[i]`` are the x values and ``p(x)`` of panel ``i``; ``samples[i]`` are
    draws (or None); ``titles[i]`` its title.
    """
    fig, axes = plt.subplots(1, len(grids), figsize=(3.6 * len(grids), 3.0), squeeze=False)
    for ax, grid, density, draws, title in zip(axes[0], grids, densities, samples, titles):
        grid = _numpy(grid)
        if draws is not None:
            ax.hist(_numpy(draws), bins=bins, range=(grid.min(), grid.max()), density=True, color="0.8",
                    label="histogram of samples")
        ax.plot(grid, _numpy(density), color="C3", lw=2, label="density formula")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("value")
    axes[0, 0].set_ylabel("density")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _grid_lines(extent, n_lines: int, n_points: int = 200) -> list[torch.Tensor]:
    """Horizontal and vertical lines ``(n_points, 2)`` float64 covering ``extent``."""
    x0, x1, y0, y1 = extent
    along_x = torch.linspace(x0, x1, n_points, dtype=torch.float64)
    along_y = torch.linspace(y0, y1, n_points, dtype=torch.float64)
    lines = [torch.stack([along_x, torch.full_like(along_x, float(y))], 1) for y in torch.linspace(y0, y1, n_lines)]
    lines += [torch.stack([torch.full_like(along_y, float(x)), along_y], 1) for x in torch.linspace(x0, x1, n_lines)]
    return lines


def render_warp(transform, *, extent=(-2.0, 2.0, -2.0, 2.0), n_lines: int = 11, title: str = "f",
              square=((0.0, 0.0), (1.0, 1.0)), points=None, latent_extent=None):
    """A grid before and after ``transform`` (``(N, 2)`` float64 tensor to ``(N, 2)``), with one cell shaded.

    The shaded unit square ``square = (corner, opposite corner)`` and its image show the local change of area,
    which is ``|det J|``. ``points`` ``(N, 2)``, if given, are scattered on both sides (before and mapped).
    ``latent_extent = (x0, x1, y0, y1)`` crops the right panel (a flow can send far grid lines very far). The
    panels are titled in notebook 03's notation: data ``y``, latent ``z = title(y)``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6))
    (ax0, ax1) = axes
    with torch.no_grad():
        if points is not None:
            points = torch.as_tensor(points, dtype=torch.float64)
            ax0.scatter(*_numpy(points).T, s=1, color="C1", alpha=0.3)
            ax1.scatter(*_numpy(transform(points)).T, s=1, color="C1", alpha=0.3)
        for line in _grid_lines(extent, n_lines):
            mapped = _numpy(transform(line))
            ax0.plot(*_numpy(line).T, color="0.6", lw=0.7)
            ax1.plot(*mapped.T, color="0.6", lw=0.7)
        (a, b), (c, d) = square
        edge = torch.linspace(0, 1, 50, dtype=torch.float64)
        outline = torch.cat([
            torch.stack([a + (c - a) * edge, torch.full_like(edge, b)], 1),
            torch.stack([torch.full_like(edge, c), b + (d - b) * edge], 1),
            torch.stack([c - (c - a) * edge, torch.full_like(edge, d)], 1),
            torch.stack([torch.full_like(edge, a), d - (d - b) * edge], 1),
        ])  # (200, 2): the square's boundary, counter-clockwise
        mapped_outline = _numpy(transform(outline))
        ax0.fill(*_numpy(outline).T, color="C0", alpha=0.5)
        ax1.fill(*mapped_outline.T, color="C0", alpha=0.5)
    areas = [_polygon_area(_numpy(outline)), _polygon_area(mapped_outline)]
    if latent_extent is not None:
        ax1.set_xlim(*latent_extent[:2])
        ax1.set_ylim(*latent_extent[2:])
    ax0.set_title(f"y (data space); shaded area {areas[0]:.2f}", fontsize=10)
    ax1.set_title(f"z = {title}(y) (latent space); shaded area {areas[1]:.2f}", fontsize=10)
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xlabel("coordinate 1")
        ax.set_ylabel("coordinate 2")
    fig.tight_layout()
    return fig


def _polygon_area(outline: np.ndarray) -> float:
    """Area of a closed polygon ``(N, 2)`` by the shoelace formula."""
    x, y = outline[:, 0], outline[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _show_density(ax, xs, ys, density, title: str) -> None:
    xs, ys = _numpy(xs), _numpy(ys)
    ax.imshow(_numpy(density), origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap="magma",
              aspect="equal", interpolation="bilinear")
    ax.set_title(title, fontsize=10)


def render_flow_fit(data, densities: dict, samples, *, extent=DEFAULT_EXTENT):
    """The fit at a glance: a seaborn KDE of the data, each density on a grid, and samples from the flow.

    ``densities`` maps a title to ``(xs, ys, density)`` as :func:`lolisr_lib.lessons.toy2d.density_grid` returns.
    """
    import seaborn as sns

    n = len(densities) + 2
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.9))
    data = _numpy(data)
    sns.kdeplot(x=data[:, 0], y=data[:, 1], fill=True, cmap="magma", levels=12, thresh=0.02, ax=axes[0])
    axes[0].set_title(f"data: seaborn KDE of {len(data)} points", fontsize=10)
    for ax, (title, (xs, ys, density)) in zip(axes[1:], densities.items()):
        _show_density(ax, xs, ys, density, title)
    draws = _numpy(samples)
    axes[-1].scatter(draws[:, 0], draws[:, 1], s=2, alpha=0.4, color="C0")
    axes[-1].set_title(f"{len(draws)} samples y = f^-1(z)", fontsize=10)
    for ax in axes:
        _plane_axes(ax, extent)
    fig.tight_layout()
    return fig


def _plane_axes(ax, extent) -> None:
    """Show the plane's ``(x0, x1, y0, y1)`` window at equal scale, without ticks."""
    x0, x1, y0, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def render_nll_curve(history, references: dict | None = None, *, window: int = 20):
    """Batch NLL (nats per point) per iteration, its running mean, and horizontal reference levels."""
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    values = np.asarray(history, dtype=np.float64)
    ax.plot(values, color="0.75", lw=0.8, label="batch NLL")
    if len(values) >= window:
        running = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(values)), running, color="C0", lw=2, label=f"running mean ({window})")
    for i, (label, level) in enumerate((references or {}).items()):
        ax.axhline(level, color=f"C{i + 1}", ls="--", lw=1.2, label=f"{label}: {level:.2f}")
    return finish_axes(fig, ax, "iteration", "NLL (nats per point)")


def render_samples_grid(samples: dict, data=None, *, extent=DEFAULT_EXTENT):
    """One scatter panel per entry of ``samples`` (title -> ``(N, 2)`` points), data faint behind."""
    n = len(samples)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.6), squeeze=False)
    for ax, (title, points) in zip(axes[0], samples.items()):
        if data is not None:
            background = _numpy(data)
            ax.scatter(background[:, 0], background[:, 1], s=1, color="0.85")
        points = _numpy(points)
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, color="C0")
        ax.set_title(str(title), fontsize=10)
        _plane_axes(ax, extent)
    fig.tight_layout()
    return fig


def render_flow_samples(flow, temperature: float = 1.0, data=None, *, n: int = 1000, seed: int = 0,
                      extent=DEFAULT_EXTENT):
    """Samples of a fitted 2-D flow at one temperature (for a slider): ``y = f^-1(T * eps)``."""
    points = sample_toy_flow(flow, n, temperature, torch.Generator().manual_seed(seed))
    return render_samples_grid({f"temperature {temperature:.2f}": points}, data, extent=extent)


def render_dequantisation(sigmas, bpd_raw, bpd_dequantised, entropy: float):
    """Bits per dimension of spike densities of width ``sigma``, on raw and on dequantised 8-bit data.

    The raw curve falls without bound as the spikes narrow; the dequantised one never goes below the
    discrete entropy (dashed).
    """
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    sigmas = _numpy(sigmas)
    ax.semilogx(sigmas, _numpy(bpd_raw), "o-", color="C3", label="raw 8-bit values k/255")
    ax.semilogx(sigmas, _numpy(bpd_dequantised), "s-", color="C0", label="dequantised k/255 + U(0, 1/256)")
    ax.axhline(entropy, color="k", ls="--", lw=1.2, label=f"discrete entropy {entropy:.2f} bits")
    ax.axhspan(min(0.0, float(np.min(_numpy(bpd_raw)))) - 1, 0.0, color="C3", alpha=0.08)
    ax.text(sigmas.max(), -0.5, "below 0: no real code is this short ", ha="right", va="top", fontsize=8,
            color="C3")
    ax.axvline(1 / 256, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("spike width sigma (one 8-bit step is 1/255)")
    ax.set_ylabel("bits per dimension")
    ax.set_ylim(min(-2.0, float(np.min(_numpy(bpd_raw)))) - 0.5, max(12.0, entropy + 2))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


CONDITIONAL_EXTENT = (-2.6, 2.6, -2.0, 2.0)  # (y1 from, to, y2 from, to) of the pairs panel
_PREDICTION_MARKERS = ("X", "P", "D", "s")


def conditional_window(x: float, half_width: float = 1.4, half_height: float = 2.0) -> tuple[float, ...]:
    """The ``(y1 from, to, y2 from, to)`` window of a ``p(y | x)`` panel: centred on ``y1 = 2x``, where the toy's
    branches sit (:mod:`lolisr_lib.lessons.conditional_toy`)."""
    return (2 * x - half_width, 2 * x + half_width, -half_height, half_height)


def render_conditional_toy(x, y, curves: dict, slices: list, *, extent=CONDITIONAL_EXTENT):
    """The conditional toy: the training pairs and the regressions' answers (left), then ``p(y | x)`` at a few
    inputs with a conditional flow's samples and the regressions' predictions.

    ``x`` ``(N, 1)`` and ``y`` ``(N, 2)``: the pairs, coloured by ``x``. ``curves``: a name -> ``(x_grid (M,),
    y_hat (M, 2))``, a regression's prediction along the inputs. ``slices``: dicts with ``x`` (the input),
    ``density`` (``(ys1, ys2, density)`` as :func:`lolisr_lib.lessons.toy2d.density_grid` returns; drawn as contours at
    1, 2 and 3 noise stds from a branch, and its grid sets the panel's window), ``samples`` ``(S, 2)`` and
    ``predictions`` (the same names as ``curves`` -> a point ``(2,)``).
    """
    n = 1 + len(slices)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.6), squeeze=False)
    axes = axes[0]
    pairs_y, pairs_x = _numpy(y), _numpy(x)[:, 0]
    shown = axes[0].scatter(pairs_y[:, 0], pairs_y[:, 1], c=pairs_x, s=2, cmap="viridis", alpha=0.6)
    for k, (name, (_, predicted)) in enumerate(curves.items()):
        predicted = _numpy(predicted)
        axes[0].plot(predicted[:, 0], predicted[:, 1], color="k" if k == 0 else "C3", ls="-" if k == 0 else "--",
                     lw=1.8, label=name)
    axes[0].set_title("pairs (x, y), coloured by x;\nlines: the regressions' y(x)", fontsize=9)
    axes[0].legend(fontsize=7, loc="lower left")
    _plane_axes(axes[0], extent)
    axes[0].set_xlabel("y1")
    axes[0].set_ylabel("y2")
    fig.colorbar(shown, ax=axes[0], shrink=0.7, label="input x")
    for ax, piece in zip(axes[1:], slices):
        ys1, ys2, density = (_numpy(v) for v in piece["density"])
        peak = float(density.max())
        ax.contour(ys1, ys2, density, levels=peak * np.exp(-0.5 * np.array([3.0, 2.0, 1.0]) ** 2), colors="k",
                   linewidths=0.8)
        draws = _numpy(piece["samples"])
        ax.scatter(draws[:, 0], draws[:, 1], s=3, alpha=0.3, color="C0", label="flow samples")
        ax.plot([], [], color="k", lw=0.8, label="true p(y | x): 1, 2, 3 std")
        for k, (name, point) in enumerate(piece["predictions"].items()):
            point = _numpy(point).reshape(2)
            ax.plot(point[0], point[1], _PREDICTION_MARKERS[k % 4], ms=10, mec="k", mfc="w" if k == 0 else "C3",
                    label=name)
        ax.set_title(f"x = {piece['x']:g}: p(y | x) and flow samples", fontsize=9)
        _plane_axes(ax, (ys1[0], ys1[-1], ys2[0], ys2[-1]))
    if slices:
        handles, labels = axes[1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.6, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
