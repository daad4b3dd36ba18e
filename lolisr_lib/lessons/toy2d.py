"""Toy densities and a small coupling flow for the change-of-variables notebook (03).

Normalizing flows (NICE, Dinh et al. 2014, arXiv 1410.8516; RealNVP, Dinh et al. 2017, arXiv 1605.08803;
Glow, Kingma & Dhariwal 2018, arXiv 1807.03039) are easiest to see in two dimensions, where a density is a
picture. This module holds what notebook 03 needs beyond the flow package:

- two 2-D toy densities with an exact log-density (``"moons"``: two noisy half circles; ``"ring"``: a ring of
  Gaussians), both written as equal-weight mixtures of isotropic Gaussians around points of their support;
- :class:`ToyFlow2d`: a 2-D point is a ``(B, 2, 1, 1)`` "image" (two channels, one pixel), pushed through the
  *library's own* layers (ActNorm, InvConv1x1, CondAffineCoupling) with an empty condition, so the toy is the
  real model's machinery at the smallest size; :func:`fit_toy_flow` trains it by maximum likelihood in seconds;
- :func:`toy_coupling`: the affine coupling written out for one 2-D point, the teaching version of
  :class:`~lolisr_lib.flow.CondAffineCoupling` (the notebook checks that both agree);
- densities of 8-bit data for the dequantisation demonstration (Theis et al. 2016, arXiv 1511.01844): narrow
  "spikes" on the 256 levels, whose likelihood of undequantised data grows without bound, and the piecewise
  constant density on the dequantisation cells, whose bits per dimension equal the discrete entropy.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn
from tqdm.auto import trange

from lolisr_lib.errors import UserError
from lolisr_lib.flow import (
    ActNorm,
    CondAffineCoupling,
    FlowSequence,
    InvConv1x1,
    gaussian_log_prob,
    sample_gaussian,
)
from lolisr_lib.flow.coupling import SOFTCLAMP

TOY_DENSITIES = ("moons", "ring")
MOON_RADIUS = 2.0  # radius of each half circle
MOON_NOISE = 0.2  # std of the isotropic Gaussian noise around the arcs
RING_MODES = 8  # Gaussians on the ring
RING_RADIUS = 2.0  # radius of the ring their centres sit on
RING_STD = 0.25  # std of each Gaussian: wide enough for a small flow to fit in seconds
ARC_POINTS = 256  # quadrature points per half circle: spacing 0.025, far below MOON_NOISE
LEVELS = 256  # 8-bit data: values k / 255 for k = 0..255
BEND_EXTENT = 3.0  # bent_coupling follows its target functions for x1 in [-3, 3]


def _check_name(name: str) -> None:
    if name not in TOY_DENSITIES:
        raise UserError(f"unknown toy density {name!r}; choose one of {', '.join(TOY_DENSITIES)}")


def _moon_arcs(t: torch.Tensor) -> torch.Tensor:
    """Points at angles ``t`` (n,) in [0, pi] of both moons: ``(2n, 2)``, the upper arc then the lower one.

    Scikit-learn's ``make_moons`` layout, scaled by ``MOON_RADIUS`` and centred near the origin.
    """
    upper = torch.stack([MOON_RADIUS * torch.cos(t) - 1.0, MOON_RADIUS * torch.sin(t) - 0.5], dim=1)
    lower = torch.stack([1.0 - MOON_RADIUS * torch.cos(t), 0.5 - MOON_RADIUS * torch.sin(t)], dim=1)
    return torch.cat([upper, lower])


def support_points(name: str) -> tuple[torch.Tensor, float]:
    """The Gaussian centres ``(M, 2)`` of the density (float64) and the std of each Gaussian.

    Both toys are ``p(x) = mean_m N(x; c_m, std^2 I)``: for the ring the centres are its modes; for the moons
    they are a fine midpoint quadrature of the two arcs, which approximates the integral over the angle.
    """
    _check_name(name)
    if name == "ring":
        angles = torch.arange(RING_MODES, dtype=torch.float64) * (2 * math.pi / RING_MODES)
        return RING_RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1), RING_STD
    t = (torch.arange(ARC_POINTS, dtype=torch.float64) + 0.5) * (math.pi / ARC_POINTS)
    return _moon_arcs(t), MOON_NOISE


def sample_toy(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples ``(n, 2)`` float32 of the toy density ``name`` (``"moons"`` or ``"ring"``)."""
    _check_name(name)
    if name == "ring":
        centres, std = support_points(name)
        which = torch.randint(0, RING_MODES, (n,), generator=generator)
        points = centres[which].float()
    else:
        t = torch.rand(n, generator=generator) * math.pi
        upper = torch.rand(n, generator=generator) < 0.5
        both = _moon_arcs(t)  # (2n, 2)
        points = torch.where(upper[:, None], both[:n], both[n:])
        std = MOON_NOISE
    return points + std * torch.randn(n, 2, generator=generator)


def toy_log_prob(name: str, x: torch.Tensor) -> torch.Tensor:
    """Exact ``log p(x)`` ``(N,)`` of the toy density at points ``x`` ``(N, 2)`` (natural log)."""
    centres, std = support_points(name)
    centres = centres.to(x.dtype)
    squared = torch.cdist(x, centres) ** 2  # (N, M)
    log_normal = -squared / (2 * std**2) - math.log(2 * math.pi * std**2)
    return torch.logsumexp(log_normal, dim=1) - math.log(centres.shape[0])


def on_support_fraction(name: str, x: torch.Tensor, within: float = 3.0) -> float:
    """Fraction of points ``x`` ``(N, 2)`` within ``within`` noise stds of the density's noise-free support."""
    centres, std = support_points(name)
    nearest = torch.cdist(x.double(), centres).min(dim=1).values  # (N,)
    return float((nearest <= within * std).double().mean())


def density_grid(log_prob_fn, extent: tuple[float, float, float, float] = (-4.0, 4.0, -3.0, 3.0),
                 n: int = 120, device: torch.device | str | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Evaluate ``exp(log_prob_fn(points))`` on an ``n x n`` grid over ``extent = (x0, x1, y0, y1)``.

    ``log_prob_fn`` maps ``(N, 2)`` float32 points (moved to ``device``) to ``(N,)``; call a flow's
    ``log_prob`` in eval mode, or its ActNorm layers initialise from the grid. Returns the grid ``xs, ys``
    ``(n,)`` and the density ``(n, n)`` on the CPU, indexed ``[y, x]`` (the layout of ``imshow``).
    """
    x0, x1, y0, y1 = extent
    xs, ys = torch.linspace(x0, x1, n), torch.linspace(y0, y1, n)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")  # (n, n) each
    points = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)  # (n * n, 2)
    with torch.no_grad():
        density = torch.exp(log_prob_fn(points.to(device))).cpu().reshape(n, n)  # (n, n), [y, x]
    return xs, ys, density


def _no_condition(x: torch.Tensor) -> torch.Tensor:
    """An empty condition ``(B, 0, 1, 1)``: the coupling network then sees only the untouched half."""
    return x.new_zeros(x.shape[0], 0, 1, 1)


class ToyFlow2d(nn.Module):
    """An unconditional 2-D flow made of the library's layers: ``steps`` x (ActNorm, InvConv1x1, coupling).

    A point ``(B, 2)`` becomes a one-pixel, two-channel image ``(B, 2, 1, 1)``; the coupling gets an empty
    condition, so its network is a small MLP of the untouched coordinate (its 3x3 convolutions see one pixel
    and zero padding). The 1x1 convolution is a learned 2x2 matrix that mixes the coordinates, so the next
    coupling transforms a different direction. Interface of every flow layer: ``forward(x, cond=None) ->
    (z, logdet)`` from data to latent, ``inverse(z) -> (x, logdet)``, log-dets ``(B,)``; ``cond`` is ignored.
    """

    def __init__(self, steps: int = 5, hidden: int = 32, scale_fn: str = "softclamp"):
        super().__init__()
        if steps < 1 or hidden < 1:
            raise UserError(f"ToyFlow2d needs steps >= 1 and hidden >= 1; got steps={steps}, hidden={hidden}")
        layers = []
        for _ in range(steps):
            layers += [ActNorm(2), InvConv1x1(2), CondAffineCoupling(2, 0, hidden, scale_fn)]
        self.flow = FlowSequence(layers)

    @staticmethod
    def _as_image(points: torch.Tensor) -> torch.Tensor:
        if points.ndim != 2 or points.shape[1] != 2:
            raise UserError(f"ToyFlow2d takes 2-D points of shape (B, 2); got {tuple(points.shape)}")
        return points.reshape(points.shape[0], 2, 1, 1)  # (B, 2) -> (B, 2, 1, 1)

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        image = self._as_image(x)
        z, logdet = self.flow(image, _no_condition(image))
        return z.reshape(x.shape[0], 2), logdet  # (B, 2), (B,)

    def inverse(self, z: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        image = self._as_image(z)
        x, logdet = self.flow.inverse(image, _no_condition(image))
        return x.reshape(z.shape[0], 2), logdet  # (B, 2), (B,)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x) = log N(f(x); 0, I) + log|det df/dx|``, natural log, ``(B,)``."""
        z, logdet = self(x)
        return gaussian_log_prob(z) + logdet


def toy_nll(flow: ToyFlow2d, data: torch.Tensor) -> float:
    """Mean negative log-likelihood of ``data`` ``(N, 2)`` under ``flow``, in nats per point (eval mode)."""
    was_training = flow.training
    flow.eval()
    with torch.no_grad():
        nll = float(-flow.log_prob(data).mean())
    flow.train(was_training)
    return nll


def fit_toy_flow(flow: ToyFlow2d, data: torch.Tensor, *, iterations: int = 300, batch_size: int = 512,
                 lr: float = 1e-2, seed: int = 0, progress: bool = True) -> list[float]:
    """Fit ``flow`` to ``data`` ``(N, 2)`` by minimising the NLL with Adam; returns the NLL of every batch.

    Batches are drawn with replacement from a generator seeded with ``seed``. The first batch initialises
    every ActNorm (data-dependent), so the flow starts as a Gaussian fitted to the data, rotated. The
    defaults take a few seconds on one CPU core. The flow is left in eval mode.
    """
    if data.ndim != 2 or data.shape[1] != 2 or data.shape[0] < 2:
        raise UserError(f"data must be a (N, 2) tensor of 2-D points with N >= 2; got {tuple(data.shape)}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)

    def batch_nll():
        batch = data[torch.randint(0, data.shape[0], (batch_size,), generator=generator).to(data.device)]
        return -flow.log_prob(batch).mean()

    return fit_by_nll(flow, batch_nll, optimizer, iterations, desc="fitting the toy flow", progress=progress)


def fit_by_nll(flow: nn.Module, batch_nll, optimizer, iterations: int, *, schedule=None, desc: str = "fitting",
               progress: bool = True) -> list[float]:
    """The training loop of the toy flows: ``iterations`` Adam steps on ``batch_nll()`` (a fresh batch's mean NLL
    each call), on one CPU thread; returns every batch's NLL and leaves ``flow`` in eval mode."""
    flow.train()
    history = []
    quiet = {} if progress else {"disable": True}  # else TQDM_DISABLE decides
    with one_cpu_thread():
        for _ in trange(iterations, desc=desc, **quiet):
            loss = batch_nll()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            history.append(loss.item())
    flow.eval()
    return history


@contextmanager
def one_cpu_thread():
    """Run on one CPU thread: the toy's tensors are tiny, so extra threads only add synchronisation, and on a
    busy machine OpenMP's waiting threads made the fit 4x slower (measured: 2.3 s vs 9.3 s for 30 steps)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def sample_toy_flow(flow: ToyFlow2d, n: int, temperature: float = 1.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples ``(n, 2)`` on the flow's device: ``x = f^-1(temperature * eps)``, ``eps ~ N(0, I)`` drawn
    on the CPU from ``generator`` (temperature 0: ``f^-1(0)``, repeated). Leaves the flow in eval mode."""
    flow.eval()
    weight = next(flow.parameters())
    with torch.no_grad():
        z = sample_gaussian(torch.zeros(n, 2, dtype=weight.dtype), temperature, generator)
        return flow.inverse(z.to(weight.device))[0]


def toy_coupling(x: torch.Tensor, layer: CondAffineCoupling) -> tuple[torch.Tensor, torch.Tensor]:
    """The affine coupling on 2-D points ``x`` ``(B, 2)``, written out (the teaching version of ``layer``).

    ``y1 = x1``; ``(t, r) = NN(x1)``; ``s = c * tanh(r / c)`` with ``c = 2`` (softclamp);
    ``y2 = (x2 + t) * exp(s)``. The Jacobian ``[[1, 0], [dy2/dx1, exp(s)]]`` is triangular, so
    ``log|det J| = s``. ``NN`` is ``layer``'s own network (built with no condition channels); returns
    ``(y (B, 2), logdet (B,))``.
    """
    if layer.scale_fn != "softclamp" or layer.split_sizes != (1, 1):
        raise UserError("toy_coupling writes out a 2-channel softclamp CondAffineCoupling(2, 0, hidden)")
    x1, x2 = x[:, :1], x[:, 1:]  # (B, 1) each
    out = layer.net(x1.reshape(-1, 1, 1, 1)).reshape(-1, 2)  # (B, 1, 1, 1) -> (B, 2, 1, 1) -> (B, 2)
    shift, raw = out[:, :1], out[:, 1:]
    log_scale = SOFTCLAMP * torch.tanh(raw / SOFTCLAMP)
    y = torch.cat([x1, (x2 + shift) * torch.exp(log_scale)], dim=1)
    return y, log_scale[:, 0]


def bend_shift(x1: torch.Tensor) -> torch.Tensor:
    """The shift ``t(x1) = 0.8 sin(1.5 x1)`` of :func:`bent_coupling`."""
    return 0.8 * torch.sin(1.5 * x1)


def bend_log_scale(x1: torch.Tensor) -> torch.Tensor:
    """The log-scale ``s(x1) = 0.5 tanh(x1)`` of :func:`bent_coupling`: squeeze on the left, stretch on the right."""
    return 0.5 * torch.tanh(x1)


def bent_coupling(hidden: int = 32) -> CondAffineCoupling:
    """A ``CondAffineCoupling(2, 0, hidden)`` whose network computes :func:`bend_shift` and
    :func:`bend_log_scale` of ``x1`` (to about 1e-2 on [-3, 3]), in eval mode: a visibly nonlinear coupling.

    A randomly initialised network is nearly constant over a plot's range, which hides what a coupling does.
    Here the weights are set, not trained: the first layer's units are ``relu(x1 - knot)`` at ``hidden``
    knots, the middle layer passes them through, and the last layer's weights are the least-squares
    coefficients of the two targets (the shift, and the raw value whose softclamp is the log-scale) in that
    piecewise-linear basis.
    """
    if hidden < 4:
        raise UserError(f"bent_coupling needs hidden >= 4 knots to draw its curves; got {hidden}")
    layer = CondAffineCoupling(2, 0, hidden)
    first, _, middle, _, last = layer.net
    # No knot at the right end: relu(x1 - 3) is 0 on [-3, 3], a zero column that made the basis rank-deficient,
    # where float32 LAPACK (gelsy) returned one of several solutions from run to run (51 bad fits in 200).
    knots = torch.linspace(-BEND_EXTENT, BEND_EXTENT, hidden + 1, dtype=torch.float64)[:-1]
    x1 = torch.linspace(-BEND_EXTENT, BEND_EXTENT, 16 * hidden, dtype=torch.float64)
    ones = torch.ones(len(x1), 1, dtype=x1.dtype)
    basis = torch.cat([torch.relu(x1[:, None] - knots), ones], dim=1)  # (n, hidden + 1)
    raw = SOFTCLAMP * torch.atanh(bend_log_scale(x1) / SOFTCLAMP)  # the inverse of the softclamp
    targets = torch.stack([bend_shift(x1), raw], dim=1)  # (n, 2)
    coefficients = torch.linalg.lstsq(basis, targets, driver="gelsd").solution.float()  # (hidden + 1, 2)
    knots = knots.float()
    with torch.no_grad():
        for conv in (first, middle, last):
            conv.weight.zero_()
        first.weight[:, 0, 1, 1] = 1.0  # the centre tap: a one-pixel input never reaches the others
        first.bias.copy_(-knots)
        middle.weight[:, :, 0, 0] = torch.eye(hidden)
        middle.bias.zero_()
        last.weight[:, :, 1, 1] = coefficients[:hidden].T
        last.bias.copy_(coefficients[hidden])
    return layer.eval()


def level_probs(codes: torch.Tensor) -> torch.Tensor:
    """Empirical probabilities ``(256,)`` float64 of the 8-bit codes (integers 0..255) in ``codes``."""
    codes = codes.reshape(-1).long()
    if codes.numel() == 0 or codes.min() < 0 or codes.max() >= LEVELS:
        raise UserError("codes must be a non-empty tensor of 8-bit values (integers 0..255)")
    return torch.bincount(codes, minlength=LEVELS).double() / codes.numel()


def entropy_bits(probs: torch.Tensor) -> float:
    """Shannon entropy ``-sum p log2 p`` of a discrete distribution, in bits (0 log 0 = 0)."""
    p = probs[probs > 0]
    return float(-(p * torch.log2(p)).sum())


def spike_log_prob(x: torch.Tensor, probs: torch.Tensor, sigma: float) -> torch.Tensor:
    """``log p(x)`` per sample ``(B,)`` of a density that puts a Gaussian of std ``sigma`` on each 8-bit level.

    Every value of ``x`` ``(B, ...)`` in [0, 1] is independent with density ``sum_k probs[k] N(x; k/255,
    sigma^2)``. As ``sigma -> 0`` the density *at* the levels grows like ``1 / sigma``: on undequantised
    8-bit data its likelihood has no upper bound.
    """
    levels = torch.nonzero(probs > 0)[:, 0]  # (K,): skip empty levels (log 0)
    centres = (levels.double() / (LEVELS - 1)).to(x.dtype)  # (K,)
    log_weights = torch.log(probs[levels]).to(x.dtype)  # (K,)
    values = x.reshape(x.shape[0], -1, 1)  # (B, D, 1)
    log_normal = -0.5 * ((values - centres) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(log_normal + log_weights, dim=2).sum(dim=1)  # (B, D, K) -> (B,)


def histogram_log_prob(x: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``log p(x)`` ``(B,)`` of the piecewise-constant density ``256 * probs[k]`` on each dequantisation cell.

    The cell of level ``k`` is ``[k/255, k/255 + 1/256)``, where :func:`~lolisr_lib.flow.dequantize` moves
    the value ``k/255``; the small gaps between cells get density 0 (``-inf``), so the density integrates to
    1. On dequantised data its bits per dimension equal the cross-entropy of the 8-bit values under
    ``probs``: with ``probs`` the data's own histogram, the discrete entropy, the lower bound.
    """
    scaled = x.double() * (LEVELS - 1)
    codes = torch.floor(scaled + 1e-9)  # the level whose cell may hold the value
    in_cell = (scaled - codes < (LEVELS - 1) / LEVELS) & (codes >= 0) & (codes < LEVELS)
    log_density = torch.log(probs * LEVELS)  # (256,): probability over the cell width 1/256
    per_value = torch.where(in_cell, log_density[codes.long().clamp(0, LEVELS - 1)], -math.inf)
    return per_value.reshape(x.shape[0], -1).sum(dim=1).to(x.dtype)  # (B,)
