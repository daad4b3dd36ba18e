"""The two affine scale functions of the flow compared fairly: same flow, same data, matched log-scale spread.

LLFlow/SRFlow scale with ``sigmoid(raw + 2) + 1e-4``; we default to the soft clamp ``2 * tanh(raw / 2)``
(``docs/model.md`` section 4, :mod:`lolisr_lib.flow.coupling`). Comparing them with *equal network weights* is
unfair: near ``raw = 0`` the sigmoid's log-scale has slope ~0.12 against the soft clamp's 1, so it barely
moves. :mod:`lolisr_lib.flow.stability` measures the spread of the log-scales and the inverse blow-up; this
module builds the random setup both flows share (one seed for the rotations, data, conditions and noise),
finds the sub-network perturbation that gives a scale function a target spread (:func:`match_spread`), and
measures one flow (:func:`run_trial`). The failure it exposes is the "exploding inverse" of Behrmann et al.
(AISTATS 2021, arXiv 2006.09347); notebook 04 shows the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lolisr_lib.errors import UserError
from lolisr_lib.flow.checks import perturb_parameters
from lolisr_lib.flow.layers import squeeze
from lolisr_lib.flow.multiscale import ConditionalFlow
from lolisr_lib.flow.stability import inverse_blowup, log_scale_spread
from lolisr_lib.image.color import cr_map


@dataclass(frozen=True)
class StabilityBench:
    """The random flow, images and conditions a comparison runs on (small enough for a CPU)."""

    batch: int = 32  # random images, and random latents inverted, per measurement
    size: int = 32  # image side; divisible by 2**levels
    levels: int = 3  # flow levels
    steps: int = 4  # FlowSteps per level (each has two affine layers)
    cond_channels: int = 16  # channels of every level's random condition
    hidden: int = 32  # width of the affine layers' sub-networks
    base_scale: float = 0.05  # perturbation of the parameters outside the sub-networks (ActNorm, InvConv1x1)
    seed: int = 0  # one seed for every draw, so two scale functions see the same flow, data and noise


@dataclass(frozen=True)
class ScaleTrial:
    """One perturbed flow measured: how strongly it scales the data, and what its inverse does to noise."""

    scale_fn: str  # "softclamp" or "sigmoid"
    net_scale: float  # perturbation of the sub-networks (``perturb_parameters``' net_scale)
    spread: dict[str, float]  # log_scale_spread on the bench's images: std, min, max
    blowup: dict[str, float]  # inverse_blowup from random latents: max_abs, nonfinite, blown_up


def perturbed_flow(scale_fn: str, net_scale: float, bench: StabilityBench = StabilityBench(), device="cpu"
                   ) -> tuple[ConditionalFlow, torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """A flow with perturbed sub-networks, its images, conditions and CR prior mean: ``(flow, x, cond, mean)``.

    ``x`` are uniform random images ``(B, 3, S, S)``, ``cond`` standard normal conditions, ``mean`` the CR map
    of ``x`` squeezed to the final latent's shape (the model's prior mean). Every ActNorm is initialised
    on ``x`` after the perturbation, so the flow maps the images to latents of about unit variance, as a
    trained flow would; the flow is returned in eval mode. The global RNG is left untouched.
    """
    B, S = bench.batch, bench.size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(bench.seed)  # the InvConv1x1 rotations
        flow = ConditionalFlow(levels=bench.levels, steps=bench.steps, cond_channels=bench.cond_channels,
                               hidden=bench.hidden, scale_fn=scale_fn)
    generator = torch.Generator().manual_seed(bench.seed)
    x = torch.rand(B, 3, S, S, generator=generator).to(device)  # (B, 3, S, S)
    cond = [torch.randn(shape, generator=generator).to(device) for shape in flow.cond_shapes(B, S, S)]
    flow.to(device)
    perturb_parameters(flow, bench.base_scale, generator, net_scale=net_scale, x=x, cond=cond)
    mean = squeeze(cr_map(x), times=bench.levels)  # (B, 3 * 4**levels, S / 2**levels, S / 2**levels)
    return flow, x, cond, mean


def run_trial(scale_fn: str, net_scale: float, bench: StabilityBench = StabilityBench(), *, temperature: float = 1.0,
              threshold: float = 10.0, device="cpu") -> ScaleTrial:
    """Build :func:`perturbed_flow`, measure its log-scale spread and invert ``mean + temperature * eps``."""
    flow, x, cond, mean = perturbed_flow(scale_fn, net_scale, bench, device)
    generator = torch.Generator(device=mean.device).manual_seed(bench.seed + 1)  # the latents' noise
    return ScaleTrial(scale_fn, net_scale, log_scale_spread(flow, x, cond),
                      inverse_blowup(flow, cond, mean, temperature=temperature, generator=generator,
                                     threshold=threshold))


def _spread_std(scale_fn: str, net_scale: float, bench: StabilityBench, device) -> float:
    flow, x, cond, _ = perturbed_flow(scale_fn, net_scale, bench, device)
    return log_scale_spread(flow, x, cond)["std"]


def match_spread(scale_fn: str, target_std: float, bench: StabilityBench = StabilityBench(), *, low: float = 0.05,
                 high: float = 4.0, rtol: float = 0.05, max_iterations: int = 10, device="cpu") -> float:
    """The ``net_scale`` in ``[low, high]`` at which ``scale_fn``'s log-scale spread (std) is ``target_std``.

    The spread grows with the perturbation, roughly as a power of it, so the root of
    ``log std - log target`` over ``log net_scale`` is found by false position (Illinois variant), which
    takes a few flows where bisection takes many. Stops when the spread is within ``rtol`` of the target
    (relative). Raises :class:`~lolisr_lib.errors.UserError` when ``[low, high]`` does not bracket the
    target or ``max_iterations`` do not reach it.
    """
    if not 0 < low < high:
        raise UserError(f"match_spread needs 0 < low < high, got low={low}, high={high}")

    def gap(log_scale: float) -> float:  # log(std / target): negative below the target
        return math.log(_spread_std(scale_fn, math.exp(log_scale), bench, device) / target_std)

    (x_lo, x_hi) = (math.log(low), math.log(high))
    f_lo, f_hi = gap(x_lo), gap(x_hi)
    if f_lo > 0 or f_hi < 0:
        raise UserError(f"match_spread: {scale_fn}'s log-scale std is {target_std * math.exp(f_lo):.3g} at "
                        f"net_scale {low} and {target_std * math.exp(f_hi):.3g} at {high}, which does not "
                        f"bracket the target {target_std:.3g}; widen low/high")
    side = 0  # which end stayed put last time (Illinois: halve its value so the bracket keeps shrinking)
    for _ in range(max_iterations):
        x = x_hi - f_hi * (x_hi - x_lo) / (f_hi - f_lo)
        f = gap(x)
        if abs(math.expm1(f)) <= rtol:
            return math.exp(x)
        if f < 0:
            x_lo, f_lo = x, f
            f_hi = f_hi / 2 if side == -1 else f_hi
            side = -1
        else:
            x_hi, f_hi = x, f
            f_lo = f_lo / 2 if side == 1 else f_lo
            side = 1
    raise UserError(f"match_spread: {max_iterations} iterations did not bring {scale_fn}'s log-scale std within "
                    f"{rtol:.0%} of {target_std:.3g} (last {target_std * math.exp(f):.3g} at net_scale "
                    f"{math.exp(x):.3g}); raise max_iterations or rtol")
