"""One bench run: environment, FLOPs, training throughput, inference latency and memory, targets; a JSON-ready dict.

``run_bench(BenchOptions(preset="tiny-x4"))`` is what ``python -m lolisr_lib bench`` calls; ``--quick`` shrinks
every size and repetition count so that CI can run it in seconds (its timings mean nothing; its agreement
check does).
"""

from __future__ import annotations

import copy
import platform
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone

import torch

from lolisr_lib.bench.measure import count_flops, device_name, peak_tflops
from lolisr_lib.bench.modes import Mode, bench_model, make_modes
from lolisr_lib.bench.options import check_counts
from lolisr_lib.bench.runs import inference_cases, measure_inference, measure_training
from lolisr_lib.config import Config, preset
from lolisr_lib.errors import UserError
from lolisr_lib.runtime import hostmem
from lolisr_lib.runtime.device import resolve_device

SCHEMA = "lolisr-bench-v1"
QUICK_SIZES = (24, 40)  # LR sides of --quick (the larger one is also run in 32-pixel tiles)
QUICK_TILE = 32


@dataclass(frozen=True)
class BenchOptions:
    preset: str | None = None  # config preset (ignored when checkpoint is given: its stored config is used)
    checkpoint: str | None = None  # trained weights to measure instead of random ones
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    sizes: tuple[int, ...] = (128, 256, 625)  # LR input sides for enhance
    tile: int | None = 256  # LR tile side for the tiled run of the largest size (None: no tiled run)
    repeats: int = 5  # timed repetitions (the median is reported)
    warmup: int = 1  # untimed calls before timing (the first includes any compilation)
    batch_size: int | None = None  # training batch (default: the preset's)
    patch_size: int | None = None  # training HR patch side (default: the preset's)
    compile: str = "auto"  # torch.compile in fast mode: auto (CUDA only), on, off
    bf16: str = "auto"  # bf16 autocast in fast mode: auto (where the device has native bf16), off
    host_memory: str = "auto"  # keep freed host memory for the whole run, both modes: auto (CPU with glibc), off
    threads: int | None = None  # torch CPU threads (default: torch's choice)
    seed: int = 0  # random weights and inputs
    quick: bool = False  # tiny sizes, batch 2, 1 warm-up and 2 repetitions: for CI

    def resolved(self) -> BenchOptions:
        """The options with ``quick`` applied and every value checked."""
        options = self
        if self.quick:
            options = replace(self, sizes=QUICK_SIZES, tile=QUICK_TILE, repeats=min(self.repeats, 2), warmup=1,
                              batch_size=self.batch_size or 2)
        check_counts(options, {"repeats": 1, "warmup": 0, "threads": 1, "batch_size": 1, "patch_size": 1, "tile": 1})
        if not options.sizes or min(options.sizes) < 8:
            raise UserError(f"--sizes {options.sizes}: give LR sides of at least 8 pixels, e.g. 128,256,625")
        if options.host_memory not in ("auto", "off"):
            raise UserError(f"--host-memory {options.host_memory!r}: use auto or off")
        if options.tile is not None and options.tile % 8:
            raise UserError(f"--tile {options.tile} must be a multiple of 8 (LR pixels)")
        return options


def run_bench(options: BenchOptions, progress=print) -> dict:
    """Measure everything (module docstring); ``progress(message)`` is told what finished."""
    options = options.resolved()
    device = resolve_device(options.device)
    if options.threads:
        torch.set_num_threads(options.threads)
    config, state_dict = _config_and_weights(options)
    batch, patch = _training_shape(options, config)
    base = bench_model(config, device, seed=options.seed, state_dict=state_dict)
    reference, fast = make_modes(device, options.compile, options.bf16)
    modes = {"reference": reference, "fast": fast}
    flops = _flops(base, config, device, min(options.sizes), batch, patch)
    progress("FLOPs counted")
    keep = options.host_memory == "auto" and device.type == "cpu"
    with hostmem.freed_memory_kept(keep) as memory_kept:  # process-wide: both modes alike
        training, modes = measure_training(base, modes, config, device, batch=batch, patch=patch,
                                           repeats=options.repeats, warmup=options.warmup, seed=options.seed,
                                           flops_per_step=flops["training_step"])
        progress("training measured")
        cases = inference_cases(tuple(options.sizes), options.tile, base.pad_multiple)
        inference, modes = measure_inference(base, modes, cases, device, repeats=options.repeats,
                                             warmup=options.warmup, seed=options.seed,
                                             flops_per_pixel=flops["enhance_per_hr_pixel"], progress=progress)
    result = {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": asdict(options),
        "environment": {**_environment(device), "host_memory_kept": memory_kept},
        "model": {"preset": config.name, "scale": config.model.scale, "parameters": _parameters(base),
                  **flops},
        "modes": {name: mode.describe() for name, mode in modes.items()},
        "training": training,
        "inference": inference,
    }
    _add_peaks(result, device, modes)
    result["tiling"] = _tiling_estimate(inference, device)
    result["agreement_passed"] = training["agreement"]["passed"] and all(r["agreement"]["passed"] for r in inference)
    result["targets"] = evaluate_targets(result)
    return result


def _config_and_weights(options: BenchOptions) -> tuple[Config, dict | None]:
    if options.checkpoint:
        from lolisr_lib.checkpoint import checkpoint_config, inference_weights, read_checkpoint

        payload = read_checkpoint(options.checkpoint, map_location="cpu")
        return checkpoint_config(payload, options.checkpoint), inference_weights(payload)
    if not options.preset:
        raise UserError("bench needs --preset (e.g. tiny-x4 or paper-x4) or --checkpoint")
    return preset(options.preset), None


def _training_shape(options: BenchOptions, config: Config) -> tuple[int, int]:
    s = config.model.scale
    patch = options.patch_size or (16 * s if options.quick else config.train.patch_size)
    if patch % (8 * s):
        raise UserError(f"--patch-size {patch}: the HR patch must be a multiple of 8 * scale = {8 * s}")
    return options.batch_size or config.train.batch_size, patch


def _flops(base, config: Config, device: torch.device, lr_size: int, batch: int, patch: int) -> dict:
    """FLOPs of ``enhance`` (encoder + inverse flow) per processed HR pixel, counted at ``lr_size`` (padded), and
    of one training step (forward with its reverse L1 pass, then backward) at ``batch`` x ``patch``.

    The step is counted at batch 1 and 2 and extrapolated linearly: besides the per-pixel work it has a fixed
    part (assembling every ``W`` and ``W^-1`` from their LU factors, and its backward), and counting at the
    full batch would cost as much as the step itself.
    """
    s = config.model.scale
    side = -(-lr_size // base.pad_multiple) * base.pad_multiple
    lq = torch.rand(1, 3, side, side, device=device)
    enhance = count_flops(lambda: base.enhance(lq))
    model = copy.deepcopy(base).train()

    def step_flops(b: int) -> int:
        lq_t = torch.rand(b, 3, patch // s, patch // s, device=device)
        gt_t = torch.rand(b, 3, patch, patch, device=device)
        return count_flops(lambda: model(lq_t, gt_t)["loss"].backward())

    one, two = step_flops(1), step_flops(2)
    step = one + (batch - 1) * (two - one)
    return {"enhance_per_hr_pixel": enhance / (s * side) ** 2, "training_step": step,
            "training_step_per_hr_pixel": step / (batch * patch**2)}


def _parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _environment(device: torch.device) -> dict:
    return {"device": str(device), "device_name": device_name(device), "torch": torch.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads(),
            "cuda": torch.version.cuda if device.type == "cuda" else None}


def _precision(mode: Mode) -> str:
    return "bf16" if mode.bf16 else "fp32"


def _add_peaks(result: dict, device: torch.device, modes: dict[str, Mode]) -> None:
    """Percent of the device's data-sheet peak at each mode's precision, where the peak is known."""
    name = result["environment"]["device_name"]
    peaks = {mode: peak_tflops(name, _precision(m)) if device.type == "cuda" else None for mode, m in modes.items()}
    result["peak_tflops"] = peaks
    for entry in [result["training"], *result["inference"]]:
        for mode, peak in peaks.items():
            achieved = entry[mode]["achieved_tflops"]
            entry[mode]["percent_of_peak"] = None if peak is None else 100 * achieved / peak


def _tiling_estimate(inference: list[dict], device: torch.device) -> dict:
    """Where tiling takes over: the largest untiled LR side whose fast-mode peak memory fits the device,
    extrapolated from the memory per processed HR pixel of the largest untiled run."""
    untiled = [r for r in inference if r["tile"] is None and r["fast"]["peak_memory_mb"] is not None]
    if not untiled:
        return {"note": "no memory measurement on this device"}
    largest = max(untiled, key=lambda r: r["processed_hr_pixels"])
    per_pixel = largest["fast"]["peak_memory_mb"] * 2**20 / largest["processed_hr_pixels"]
    budget = _memory_budget(device)
    scale = largest["hr_size"] // largest["lr_size"]
    side = int((budget / per_pixel) ** 0.5 / scale) if budget else None
    return {"fast_bytes_per_hr_pixel": per_pixel, "memory_budget_bytes": budget, "largest_untiled_lr_side": side,
            "note": "peak memory grows linearly with pixels; beyond this side, use enhance --tile"}


def _memory_budget(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


# name, device-name fragment ("cpu" for any CPU), presets, LR size, measured value's description, bound
TARGETS = (
    ("training fast mode >= 2x reference throughput (paper presets, H200)", "H200", ("paper-x2", "paper-x4"),
     None, "training speedup", ">=", 2.0),
    ("enhance 625x625 x4 < 1 s in fast mode (paper-x4, H200)", "H200", ("paper-x4",), 625,
     "fast seconds", "<", 1.0),
    ("enhance 256x256 < 2 s in fast mode (tiny presets, this CPU)", "cpu", ("tiny-x1", "tiny-x2", "tiny-x4"), 256,
     "fast seconds", "<", 2.0),
)


def evaluate_targets(result: dict) -> list[dict]:
    """Each target of the issue: met (True/False) with the measured value, or not measured (None) and why."""
    env, preset_name = result["environment"], result["model"]["preset"]
    out = []
    for name, where, presets, size, what, op, bound in TARGETS:
        on_device = env["device"] == "cpu" if where == "cpu" else where in env["device_name"]
        value = _target_value(result, what, size) if on_device and preset_name in presets else None
        met = None if value is None else (value >= bound if op == ">=" else value < bound)
        note = "" if value is not None else f"not measured here ({env['device_name']}, {preset_name})"
        out.append({"target": name, "measured": value, "bound": f"{op} {bound:g}", "met": met, "note": note})
    return out


def _target_value(result: dict, what: str, size: int | None) -> float | None:
    if what == "training speedup":
        return result["training"]["speedup"]
    rows = [r for r in result["inference"] if r["lr_size"] == size]
    rows.sort(key=lambda r: r["tile"] is not None)  # untiled first
    return rows[0]["fast"]["seconds"] if rows else None
