"""How the bench measures: interleaved median timings, peak memory, FLOP counts, and known device peaks.

- Time: every function is warmed up, then the functions are timed in turn, repetition after repetition
  (reference, fast, reference, fast, ...), so a change in the machine's load hits every mode alike; the
  median is reported. CUDA work is synchronised before the clock stops. Process CPU time is recorded too:
  on a shared CPU it is far less noisy than the wall clock (which is what the targets use).
- Peak memory, CUDA: ``torch.cuda.max_memory_allocated`` during the call minus what was allocated before it.
  CPU: the same quantity from the torch profiler's memory events (every tensor allocation and release in
  order; the running total's maximum), i.e. the peak of tensor bytes alive at once during the call, on top
  of what existed before. It leaves out allocator slack and non-tensor memory, so the process's resident
  size grows by at least this much.
- FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products; element-wise ops
  are not counted, so achieved FLOP/s slightly understates the work).
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

# Dense (no sparsity) peak TFLOP/s from the vendors' data sheets: name fragment -> {precision: TFLOP/s}.
# Looked up in order, so the more specific name comes first. CPUs have no entry: their peak is "n/a".
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),
    ("H100 PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),
    ("A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    ("L40S", {"bf16": 362.0, "tf32": 183.0, "fp32": 91.6}),
    ("L4", {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3}),
)


@dataclass(frozen=True)
class Timing:
    seconds: tuple[float, ...]  # wall-clock time of each timed repetition
    cpu_seconds: tuple[float, ...]  # process CPU time of each repetition (all threads)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(fns: dict[str, Callable[[], object]], device: torch.device, *, repeats: int,
                     warmup: int) -> dict[str, Timing]:
    """Warm each function up ``warmup`` times, then time them in turn ``repeats`` times (see module docstring)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    synchronize(device)
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            synchronize(device)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: Timing(tuple(wall[name]), tuple(cpu[name])) for name in fns}


def peak_memory(fn: Callable[[], object], device: torch.device) -> int | None:
    """Peak bytes of tensors allocated by ``fn()`` and alive at the same time (module docstring); None when
    this device or torch offers no way to measure it."""
    gc.collect()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    if device.type == "cpu":
        return _cpu_peak_memory(fn)
    return None


def _cpu_peak_memory(fn: Callable[[], object]) -> int | None:
    from torch.profiler import ProfilerActivity, profile

    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    try:
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:  # the raw event list is not public API; newer torch may move it
        return None
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        if event.device_type() == torch.autograd.DeviceType.CPU:
            live += event.nbytes()  # > 0: allocated, < 0: released
            peak = max(peak, live)
    return peak


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null: the profiler's C++ side logs two lines per use to it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of ``fn()`` as ``FlopCounterMode`` counts them (a multiply-add is 2 FLOPs)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def peak_tflops(name: str, precision: str) -> float | None:
    """The data-sheet peak of the device called ``name`` at ``precision`` ("bf16", "tf32", "fp32"), if known."""
    for fragment, peaks in PEAK_TFLOPS:
        if fragment in name:
            return peaks.get(precision)
    return None
