"""A conditional toy for notebook 03: why a regression lands between the answers and a conditional flow does not.

LoLiSRFlow (arXiv 2402.18871) learns ``p(y | x)``, the distribution of the normally lit target ``y`` given the
dark input ``x``, instead of one output per input. The reason is easiest to see on a toy in the seminar's
notation: ``x`` is a scalar (the input), ``y`` a 2-D point (the target), and for some ``x`` there are two right
answers. Here ``x ~ U(-1, 1)`` and

    y = c(x) + s * f(x) + sigma * eps,   c(x) = (2x, 0),   f(x) = (0, 1.5 max(x, 0)),   s = +-1 (equally likely),

with ``eps ~ N(0, I)``: for ``x <= 0`` one branch (one answer), for ``x > 0`` two branches ``c(x) +- f(x)`` that
separate as ``x`` grows (two answers, like the colour of a region that the dark input no longer shows).

- :func:`fit_regression` is the one-answer model: least squares (L2, closed form) or least absolute deviations
  (L1, by gradient descent) on a fixed basis of hinge features of ``x``. L2 returns the conditional mean, L1 the
  conditional median (per coordinate); where the branches are symmetric both land between them, where the true
  density is nearly zero.
- :class:`ConditionalToyFlow` is the many-answer model, made of the library's own conditional layers
  (:class:`~lolisr_lib.flow.FlowStep`: ActNorm, InvConv1x1, AffineInjector, CondAffineCoupling) at the smallest
  size: ``y`` is a one-pixel, two-channel image, and the condition is ``x`` itself as a one-pixel, one-channel
  image (in LoLiSRFlow the condition is the encoder's features of the dark image). :func:`fit_conditional_flow`
  trains it by maximum likelihood in seconds on one CPU thread; :func:`sample_conditional_flow` draws
  ``y = F^-1(z; x)``.
- :func:`true_log_prob` is the exact ``log p(y | x)``, and :func:`mode_fractions` counts how many samples land
  near each branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lolisr_lib.errors import UserError
from lolisr_lib.flow import FlowSequence, FlowStep, gaussian_log_prob, sample_gaussian
from lolisr_lib.lessons.toy2d import fit_by_nll

X_RANGE = (-1.0, 1.0)  # the input x is uniform on this interval
SLOPE = 2.0  # c(x) = (SLOPE * x, 0): the part of y that x determines
SPLIT = 1.5  # f(x) = (0, SPLIT * max(x, 0)): half the distance between the two branches
NOISE = 0.1  # std of the isotropic Gaussian noise around each branch
KNOTS = 16  # hinge features of the regressions


def _check_x(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[1] != 1:
        raise UserError(f"x must be a (N, 1) tensor of scalar inputs; got shape {tuple(x.shape)}")
    return x


def branch_centres(x: torch.Tensor) -> torch.Tensor:
    """The two branches ``c(x) + f(x)`` and ``c(x) - f(x)`` at inputs ``x`` ``(N, 1)``: ``(N, 2, 2)``
    (point, branch, coordinate). For ``x <= 0`` the two coincide."""
    x = _check_x(x)
    centre = torch.cat([SLOPE * x, torch.zeros_like(x)], dim=1)  # (N, 2)
    offset = torch.cat([torch.zeros_like(x), SPLIT * x.clamp(min=0)], dim=1)  # (N, 2)
    return torch.stack([centre + offset, centre - offset], dim=1)  # (N, 2, 2)


def sample_conditional_toy(n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` training pairs: inputs ``x`` ``(n, 1)`` uniform on ``X_RANGE`` and targets ``y`` ``(n, 2)``."""
    low, high = X_RANGE
    x = low + (high - low) * torch.rand(n, 1, generator=generator)
    branch = (torch.rand(n, generator=generator) < 0.5).long()  # 0: upper, 1: lower
    centres = branch_centres(x)[torch.arange(n), branch]  # (n, 2)
    return x, centres + NOISE * torch.randn(n, 2, generator=generator)


def true_log_prob(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Exact ``log p(y | x)`` ``(N,)``: an equal mixture of ``N(c(x) +- f(x), NOISE^2 I)`` (natural log).

    ``y`` ``(N, 2)``; ``x`` ``(N, 1)``, or ``(1, 1)`` for the same input at every point.
    """
    centres = branch_centres(x).to(y.dtype).expand(y.shape[0], 2, 2)  # (N, 2, 2)
    squared = ((y[:, None, :] - centres) ** 2).sum(dim=2)  # (N, 2)
    log_normal = -squared / (2 * NOISE**2) - math.log(2 * math.pi * NOISE**2)
    return torch.logsumexp(log_normal, dim=1) - math.log(2.0)


def mode_fractions(samples: torch.Tensor, x: float, within: float = 3.0) -> tuple[float, float]:
    """Fractions of ``samples`` ``(N, 2)`` within ``within`` noise stds of the upper and of the lower branch at
    input ``x`` (a point near both, for ``x <= 0``, counts for both)."""
    centres = branch_centres(torch.tensor([[float(x)]], dtype=samples.dtype))[0]  # (2, 2)
    distance = torch.cdist(samples, centres)  # (N, 2)
    near = distance <= within * NOISE
    return float(near[:, 0].double().mean()), float(near[:, 1].double().mean())


def hinge_features(x: torch.Tensor, knots: int = KNOTS) -> torch.Tensor:
    """The regression basis ``[1, x, relu(x - k_1), ..., relu(x - k_K)]`` ``(N, K + 2)`` in float64, with the
    knots ``k_j`` evenly inside ``X_RANGE``: any piecewise-linear function of ``x`` with those knots."""
    x = _check_x(x).double()
    low, high = X_RANGE
    at = torch.linspace(low, high, knots + 2, dtype=torch.float64)[1:-1]  # (K,)
    return torch.cat([torch.ones_like(x), x, torch.relu(x - at)], dim=1)


@dataclass(frozen=True)
class Regression:
    """A one-answer model: ``y_hat(x) = hinge_features(x) @ coefficients``."""

    loss: str  # "l2" (least squares) or "l1" (least absolute deviations)
    coefficients: torch.Tensor  # (K + 2, 2) float64

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions ``(N, 2)`` (float32) at inputs ``x`` ``(N, 1)``."""
        features = hinge_features(x, self.coefficients.shape[0] - 2)
        return (features @ self.coefficients).float()


def fit_regression(x: torch.Tensor, y: torch.Tensor, loss: str = "l2", knots: int = KNOTS,
                   iterations: int = 300, lr: float = 0.01) -> Regression:
    """Fit ``y ~ hinge_features(x) @ W`` by minimising the mean L2 error (closed form) or the mean L1 error.

    L1 starts from the L2 solution and takes ``iterations`` full-batch Adam steps on the mean absolute error, as a
    network trained with an L1 loss would. Its minimiser is the conditional median of each coordinate; where the
    two branches are equally likely every point between them is a median (the loss is flat there), and gradient
    descent from the mean stays near the middle. Deterministic; a fraction of a second.
    """
    if loss not in ("l1", "l2"):
        raise UserError(f"loss must be 'l1' or 'l2'; got {loss!r}")
    features, targets = hinge_features(x, knots), y.double()
    if targets.shape != (features.shape[0], 2):
        raise UserError(f"y must be (N, 2) with one row per input; got {tuple(y.shape)} for {features.shape[0]}")
    coefficients = torch.linalg.lstsq(features, targets, driver="gelsd").solution  # (K + 2, 2)
    if loss == "l1":
        weights = coefficients.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([weights], lr=lr)
        for _ in range(iterations):
            error = (features @ weights - targets).abs().mean()
            optimizer.zero_grad()
            error.backward()
            optimizer.step()
        coefficients = weights.detach()
    return Regression(loss, coefficients)


class ConditionalToyFlow(nn.Module):
    """``z = F(y; x)``: ``steps`` library :class:`~lolisr_lib.flow.FlowStep` s on a one-pixel, two-channel ``y``,
    each conditioned on ``x`` as a one-pixel, one-channel image.

    In every step the AffineInjector scales and shifts both coordinates by amounts computed from ``x`` alone,
    and the CondAffineCoupling transforms one (mixed) coordinate from the other and ``x``. ``forward(y, x) ->
    (z, logdet)``, ``inverse(z, x) -> (y, logdet)``, points ``(B, 2)``, inputs ``(B, 1)``, log-dets ``(B,)``.
    """

    def __init__(self, steps: int = 6, hidden: int = 64):
        super().__init__()
        if steps < 1 or hidden < 1:
            raise UserError(f"ConditionalToyFlow needs steps >= 1 and hidden >= 1; got {steps}, {hidden}")
        self.flow = FlowSequence([FlowStep(2, 1, hidden) for _ in range(steps)])

    @staticmethod
    def _images(points: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if points.ndim != 2 or points.shape[1] != 2:
            raise UserError(f"points must be (B, 2); got {tuple(points.shape)}")
        x = _check_x(x).to(points.dtype).expand(points.shape[0], 1)
        return points.reshape(-1, 2, 1, 1), x.reshape(-1, 1, 1, 1)  # (B, 2, 1, 1), (B, 1, 1, 1)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, cond = self._images(y, x)
        z, logdet = self.flow(image, cond)
        return z.reshape(-1, 2), logdet  # (B, 2), (B,)

    def inverse(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, cond = self._images(z, x)
        y, logdet = self.flow.inverse(image, cond)
        return y.reshape(-1, 2), logdet  # (B, 2), (B,)

    def log_prob(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(y | x) = log N(F(y; x); 0, I) + log|det dF/dy|``, natural log, ``(B,)``."""
        z, logdet = self(y, x)
        return gaussian_log_prob(z) + logdet


def fit_conditional_flow(flow: ConditionalToyFlow, x: torch.Tensor, y: torch.Tensor, *, iterations: int = 600,
                         batch_size: int = 512, lr: float = 5e-3, seed: int = 0, progress: bool = True) -> list[float]:
    """Fit ``flow`` to pairs ``(x, y)`` by minimising the conditional NLL with Adam; returns each batch's NLL.

    Batches are drawn with replacement (generator seeded with ``seed``); the first initialises the ActNorms.
    Runs on one CPU thread (the tensors are tiny); the flow is left in eval mode.
    """
    if y.ndim != 2 or y.shape[1] != 2 or _check_x(x).shape[0] != y.shape[0]:
        raise UserError(f"x (N, 1) and y (N, 2) must pair up; got {tuple(x.shape)} and {tuple(y.shape)}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, iterations)

    def batch_nll():
        pick = torch.randint(0, y.shape[0], (batch_size,), generator=generator).to(y.device)
        return -flow.log_prob(y[pick], x[pick]).mean()

    return fit_by_nll(flow, batch_nll, optimizer, iterations, schedule=schedule,
                      desc="fitting the conditional flow", progress=progress)


def sample_conditional_flow(flow: ConditionalToyFlow, x: float, n: int, temperature: float = 1.0,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples ``(n, 2)`` of ``y = F^-1(temperature * eps; x)`` at one input ``x`` (CPU noise)."""
    flow.eval()
    weight = next(flow.parameters())
    with torch.no_grad():
        z = sample_gaussian(torch.zeros(n, 2, dtype=weight.dtype), temperature, generator).to(weight.device)
        cond = torch.full((n, 1), float(x), dtype=weight.dtype, device=weight.device)
        return flow.inverse(z, cond)[0]
