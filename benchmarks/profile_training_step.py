"""Where a training step's time goes, in the bench's reference and fast modes: the PyTorch profiler over a few steps.

    python benchmarks/profile_training_step.py --preset paper-x4 --device cuda --json runs/bench/profile.json
    OMP_NUM_THREADS=1 python benchmarks/profile_training_step.py --preset tiny-x2 --device cpu --batch-size 2

`bench` says how long a step takes; this says why. Per mode it prints the wall time of a step, the time the
device spent in kernels during it (on CUDA: the sum of the kernels' durations, so "busy" near 100 % means the
GPU is the limit and near 0 % that the host is: Python, kernel launches, synchronisations), the number of
kernels launched and of host-device synchronisations, and the operators that took the most device time (CPU:
the most self CPU time). The step is the bench's (``lolisr_lib.bench.runs.training_step``): forward, backward,
clipping, the NaN guard, Adam, on one random batch, with the weights of ``bench``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from lolisr_lib.bench.measure import synchronize, time_interleaved
from lolisr_lib.bench.modes import bench_model, make_modes
from lolisr_lib.bench.runs import training_step
from lolisr_lib.config import preset
from lolisr_lib.runtime.device import resolve_device


def profile_steps(step, device: torch.device, steps: int) -> dict:
    """Profile ``steps`` calls of ``step``; per-step figures and the top operators."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    synchronize(device)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        synchronize(device)
    on_device = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    host_names = [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]
    launches = sum(name in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC") for name in host_names)
    syncs = sum("Synchronize" in name for name in host_names)
    kernel_us = sum(e.device_time_total for e in on_device) if on_device else None
    key = "self_device_time_total" if on_device else "self_cpu_time_total"
    top = sorted(prof.key_averages(), key=lambda e: getattr(e, key), reverse=True)[:20]
    return {
        "kernel_seconds_per_step": None if kernel_us is None else kernel_us / 1e6 / steps,
        "kernels_per_step": len(on_device) / steps if on_device else None,
        "launches_per_step": launches / steps,
        "synchronizations_per_step": syncs / steps,
        "top_by": key,
        "top": [{"name": e.key, "calls_per_step": e.count / steps,
                 "seconds_per_step": getattr(e, key) / 1e6 / steps} for e in top],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper-x4")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, help="training batch (default: the preset's)")
    parser.add_argument("--patch-size", type=int, help="HR patch side (default: the preset's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mode (default 5)")
    parser.add_argument("--profiled", type=int, default=3, help="profiled steps per mode (default 3)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    for name in ("repeats", "profiled"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    device = resolve_device(args.device)
    config = preset(args.preset)
    scale, t = config.model.scale, config.train
    batch, patch = args.batch_size or t.batch_size, args.patch_size or t.patch_size
    if patch % scale:
        parser.error(f"--patch-size {patch} must be a multiple of the scale {scale}")
    base = bench_model(config, device, seed=0)
    generator = torch.Generator().manual_seed(0)
    lq = torch.rand(batch, 3, patch // scale, patch // scale, generator=generator).to(device)
    gt = torch.rand(batch, 3, patch, patch, generator=generator).to(device)
    reference, fast = make_modes(device, "off")
    steps = {mode.name: (mode, training_step(base, mode, config, lq, gt, device, 0)) for mode in (reference, fast)}
    for _, step in steps.values():  # the first step initialises ActNorm and allocates Adam's state
        step()
    timings = time_interleaved({name: step for name, (_, step) in steps.items()}, device, repeats=args.repeats,
                               warmup=1)
    result = {"preset": args.preset, "device": str(device), "batch_size": batch, "patch_size": patch,
              "torch": torch.__version__, "modes": {}}
    print(f"{args.preset} training step, batch {batch} x patch {patch}, on {device} (torch {torch.__version__})")
    for name, (mode, step) in steps.items():
        figures = profile_steps(step, device, args.profiled)
        wall = statistics.median(timings[name].seconds)
        figures["wall_seconds_per_step"] = wall
        result["modes"][name] = figures
        busy = figures["kernel_seconds_per_step"]
        print(f"\n## {name} ({mode.dtype}): {wall:.3f} s per step"
              + ("" if busy is None else f", kernels {busy:.3f} s ({100 * busy / wall:.0f} % busy), "
                 f"{figures['kernels_per_step']:.0f} kernels")
              + f", {figures['launches_per_step']:.0f} launches, {figures['synchronizations_per_step']:.0f} syncs")
        print(f"| operator | calls/step | {figures['top_by'].replace('_total', '')} s/step |\n|---|---|---|")
        for row in figures["top"]:
            print(f"| {row['name'][:90]} | {row['calls_per_step']:.0f} | {row['seconds_per_step']:.4f} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
