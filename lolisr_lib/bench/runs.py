"""The bench's two measurements: ``enhance`` latency and memory per input size, and training throughput.

Each runs the reference and the fast mode side by side on the same inputs (see ``measure.py`` for how time
and memory are taken). The first call of each mode is timed on its own (it includes any compilation) and
its output is kept for the agreement check; a compiled mode that fails there falls back to eager and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from lolisr_lib.bench.measure import Timing, peak_memory, synchronize, time_interleaved
from lolisr_lib.bench.modes import Mode, image_agreement, inference_model, loss_agreement, training_model
from lolisr_lib.config import Config
from lolisr_lib.runtime import fastpath
from lolisr_lib.runtime.tiling import tile_starts
from lolisr_lib.train.schedule import make_optimizer

TILE_OVERLAP = 16  # LR pixels shared by neighbouring tiles, as in the enhance command


@dataclass(frozen=True)
class Case:
    lr_size: int  # side of the square LR input
    tile: int | None  # LR tile side, None for one untiled pass


def inference_cases(sizes: tuple[int, ...], tile: int | None, pad_multiple: int) -> list[Case]:
    """Every size untiled, and the largest also tiled when ``tile`` is smaller than it (where tiling takes over)."""
    cases = [Case(size, None) for size in sizes]
    largest = _padded(max(sizes), pad_multiple)
    if tile is not None and tile < largest:
        cases.append(Case(max(sizes), tile))
    return cases


def _padded(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def case_geometry(case: Case, scale: int, pad_multiple: int) -> dict:
    """Output size, and the HR pixels the model actually processes (padding and tile overlaps included)."""
    padded = _padded(case.lr_size, pad_multiple)
    if case.tile is None or case.tile >= padded:
        tiles, tile_side = 1, padded
    else:
        tiles, tile_side = len(tile_starts(padded, case.tile, TILE_OVERLAP)) ** 2, case.tile
    return {"lr_size": case.lr_size, "hr_size": scale * case.lr_size, "tile": case.tile, "tiles": tiles,
            "hr_megapixels": (scale * case.lr_size) ** 2 / 1e6,
            "processed_hr_pixels": tiles * (scale * tile_side) ** 2}


def _first_call(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start


def measure_inference(base: nn.Module, modes: dict[str, Mode], cases: list[Case], device: torch.device, *,
                      repeats: int, warmup: int, seed: int, flops_per_pixel: float, progress) -> tuple[list, dict]:
    """One row per case (module docstring); returns the rows and the modes (a failed compile changes one)."""
    models = {name: inference_model(base, mode) for name, mode in modes.items()}
    rows = []
    for case in cases:
        generator = torch.Generator().manual_seed(seed + case.lr_size)
        lq = (torch.rand(1, 3, case.lr_size, case.lr_size, generator=generator) * 0.3).to(device)
        row, modes = _inference_case(models, modes, case, lq, device, repeats=repeats, warmup=warmup)
        geometry = case_geometry(case, base.scale, base.pad_multiple)
        flops = flops_per_pixel * geometry["processed_hr_pixels"]
        for name in modes:
            row[name]["seconds_per_hr_mpix"] = row[name]["seconds"] / geometry["hr_megapixels"]
            row[name]["achieved_tflops"] = flops / row[name]["seconds"] / 1e12
        rows.append({**geometry, "flops": flops, **row})
        progress(f"enhance {case.lr_size}px{'' if case.tile is None else f' tiled {case.tile}'}")
    return rows, modes


def _enhance_fn(model: nn.Module, mode: Mode, lq: torch.Tensor, case: Case, device: torch.device):
    def run():
        with mode.context(device):
            return model.enhance(lq, tile=case.tile, overlap=TILE_OVERLAP)
    return run


def _inference_case(models, modes, case, lq, device, *, repeats, warmup) -> tuple[dict, dict]:
    fns, outputs, first = {}, {}, {}
    for name, mode in modes.items():
        fn = _enhance_fn(models[name], mode, lq, case, device)
        try:
            outputs[name], first[name] = _first_call(fn, device)
        except Exception as err:
            if not mode.compile:
                raise
            fastpath.drop_compiled(models[name])
            modes = {**modes, name: mode.compile_failed(err)}
            fn = _enhance_fn(models[name], modes[name], lq, case, device)
            outputs[name], first[name] = _first_call(fn, device)
        fns[name] = fn
    timings = time_interleaved(fns, device, repeats=repeats, warmup=max(warmup - 1, 0))
    row = {name: {**_timing_entry(timings[name]), "first_call_seconds": first[name],
                  "peak_memory_mb": _mb(peak_memory(fns[name], device))} for name in fns}
    row["speedup"] = timings["reference"].median / timings["fast"].median
    row["agreement"] = image_agreement(outputs["reference"], outputs["fast"], modes["fast"])
    return row, modes


def _timing_entry(timing: Timing) -> dict:
    return {"seconds": timing.median, "cpu_seconds": timing.cpu_median, "seconds_all": list(timing.seconds)}


def _mb(nbytes: int | None) -> float | None:
    return None if nbytes is None else nbytes / 2**20


def measure_training(base: nn.Module, modes: dict[str, Mode], config: Config, device: torch.device, *,
                     batch: int, patch: int, repeats: int, warmup: int, seed: int,
                     flops_per_step: float) -> tuple[dict, dict]:
    """Optimiser steps (forward, backward, gradient clipping, Adam) on one random batch, both modes."""
    s = config.model.scale
    generator = torch.Generator().manual_seed(seed)
    lq = torch.rand(batch, 3, patch // s, patch // s, generator=generator).to(device)  # (B, 3, h, w)
    gt = torch.rand(batch, 3, patch, patch, generator=generator).to(device)  # (B, 3, s*h, s*w)
    fns, losses = {}, {}
    for name, mode in modes.items():
        step, loss = _checked_training_step(base, mode, config, lq, gt, device, seed)
        if step is None:  # the compiled first step failed: measure eager instead
            modes = {**modes, name: mode.compile_failed(loss)}
            step, loss = _checked_training_step(base, modes[name], config, lq, gt, device, seed)
        fns[name], losses[name] = step, loss
    timings = time_interleaved(fns, device, repeats=repeats, warmup=max(warmup - 1, 0))
    hr_mpix = batch * patch**2 / 1e6
    result = {"batch_size": batch, "patch_size": patch, "flops_per_step": flops_per_step}
    for name, timing in timings.items():
        result[name] = {**_timing_entry(timing), "steps_per_s": 1 / timing.median,
                        "hr_mpix_per_s": hr_mpix / timing.median,
                        "achieved_tflops": flops_per_step / timing.median / 1e12}
    result["speedup"] = timings["reference"].median / timings["fast"].median
    result["agreement"] = loss_agreement(losses["reference"], losses["fast"], modes["fast"])
    return result, modes


def _checked_training_step(base, mode, config, lq, gt, device, seed):
    """A step function for ``mode`` and the loss terms of its first call; ``(None, error)`` if a compiled first
    call failed."""
    step = training_step(base, mode, config, lq, gt, device, seed)
    try:
        return step, step()
    except Exception as err:
        if not mode.compile:
            raise
        return None, err


def training_step(base, mode, config, lq, gt, device, seed) -> Callable[[], dict[str, float]]:
    """One optimiser step of a training copy of ``base`` in ``mode``, as the training loop (``train/loop.py``) takes
    it: zero_grad, forward under the mode's autocast, backward, clipping, the NaN/Inf guard (a device sync, as in
    the loop), Adam. Each call trains the copy on the same batch ``(lq, gt)``."""
    model, net = training_model(base, mode)
    optimizer = make_optimizer(model.parameters(), config.train)
    generator = torch.Generator(device=device).manual_seed(seed)  # the same noise in both modes
    clip = config.train.grad_clip or float("inf")

    def step() -> dict[str, float]:
        optimizer.zero_grad(set_to_none=True)
        with mode.context(device):
            out = net(lq, gt, generator=generator)
        with mode.backward_context(device):  # cuDNN's TF32 is on by default: keep the reference strict
            out["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        if bool(torch.isfinite(out["loss"]) & torch.isfinite(grad_norm)):
            optimizer.step()
        return {name: float(value.detach()) for name, value in out.items()
                if torch.is_tensor(value) and value.dim() == 0}  # the loss and its parts
    return step
