"""The loader benchmark (``python -m lolisr_lib bench --loader``): training batches and crops per second.

Does the loader keep a GPU busy on RELLISUR? It measures the real training loader: the Train split built as
training builds it (:func:`~lolisr_lib.train.batches.rellisur_train_set`: the preset's patch size, random
crops, rotations and flips, exposures and seed) behind the same DataLoader
(:func:`~lolisr_lib.train.batches.training_loader`: the preset's batch size, workers that live across epochs,
pinned memory on CUDA), twice:

- **cold**: every item decodes its PNGs (the whole 2500 x 2500 target at x4) and equalises its input;
- **warm**: every item is sliced out of the decoded-image cache (:mod:`lolisr_lib.data.cache`), which must be
  complete for the Train split at the preset's scale.

Each run first takes ``max(workers, 1)`` batches untimed (workers start, every worker's first batch is in
flight), then times at least two batches per worker, so that batches prefetched during the warm-up do not
inflate the rate. A small tree is fine: the loader runs on across epochs. The issue's target (issue 14, on the
2-core reference machine): at least 200 warm crops per second for paper-x4.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from lolisr_lib.bench.options import check_counts
from lolisr_lib.config import preset
from lolisr_lib.errors import UserError
from lolisr_lib.runtime.device import resolve_device
from lolisr_lib.train.batches import rellisur_train_set, training_loader

SCHEMA = "lolisr-bench-loader-v1"
TARGET = {"preset": "paper-x4", "crops_per_s": 200.0}  # warm, 2-core reference machine (issue 14)


@dataclass(frozen=True)
class LoaderBenchOptions:
    preset: str  # config preset whose train settings are used (patch, batch, augment, exposures, seed, workers)
    data: str | Path  # the RELLISUR-Dataset folder (or its parent)
    workers: int | None = None  # DataLoader workers (default: the preset's train.num_workers)
    batches: int = 100  # warm batches timed (at least 2 per worker)
    cold_batches: int = 4  # cold batches timed (at least 2 per worker)
    batch_size: int | None = None  # default: the preset's train.batch_size
    patch_size: int | None = None  # HR patch side; default: the preset's train.patch_size
    device: str = "auto"  # where batches would go: pinned memory on CUDA

    def checked(self) -> LoaderBenchOptions:
        check_counts(self, {"workers": 0, "batches": 1, "cold_batches": 1, "batch_size": 1, "patch_size": 1})
        return self


def run_loader_bench(options: LoaderBenchOptions, progress=print) -> dict:
    """Measure cold and warm throughput (module docstring); ``progress(message)`` is told what finished."""
    options = options.checked()
    config = preset(options.preset)
    overrides = {k: getattr(options, k) for k in ("batch_size", "patch_size") if getattr(options, k) is not None}
    config = replace(config, train=replace(config.train, **overrides))
    t = config.train
    workers = t.num_workers if options.workers is None else options.workers
    pin_memory = resolve_device(options.device).type == "cuda"
    warm_set = rellisur_train_set(config, options.data)
    if warm_set.cache is None:
        raise UserError(f"no complete decoded-image cache of Train x{config.model.scale} for {warm_set.root}, so "
                        f"there is nothing warm to measure; build it with python -m lolisr_lib data cache "
                        f"{warm_set.root} --scales {config.model.scale}")
    cold_set = rellisur_train_set(config, options.data, cache=None)
    shape = {"batch_size": t.batch_size, "seed": t.seed, "workers": workers, "pin_memory": pin_memory}
    cold = _measure(cold_set, options.cold_batches, **shape)
    progress(f"cold: {cold['crops_per_s']:.1f} crops/s")
    warm = _measure(warm_set, options.batches, **shape)
    progress(f"warm: {warm['crops_per_s']:.1f} crops/s")
    met = warm["crops_per_s"] >= TARGET["crops_per_s"] if options.preset == TARGET["preset"] else None
    return {
        "schema": SCHEMA,
        "options": {**asdict(options), "data": str(options.data)},
        "environment": _environment(workers),
        "preset": options.preset, "scale": config.model.scale, "batch_size": t.batch_size,
        "patch_size": t.patch_size, "augment": t.augment, "workers": workers, "pin_memory": pin_memory,
        "train_items": len(warm_set), "cache": str(warm_set.cache.cache_dir),
        "cold_batches_per_s": cold["batches_per_s"], "cold_crops_per_s": cold["crops_per_s"],
        "cold_timed_batches": cold["timed_batches"], "cold_seconds": cold["seconds"],
        "batches_per_s": warm["batches_per_s"], "crops_per_s": warm["crops_per_s"],
        "timed_batches": warm["timed_batches"], "seconds": warm["seconds"],
        "warm_over_cold": warm["crops_per_s"] / cold["crops_per_s"],
        "target": {**TARGET, "met": met},
    }


def _measure(dataset, batches: int, *, batch_size: int, seed: int, workers: int, pin_memory: bool) -> dict:
    warmup, timed = max(workers, 1), max(batches, 2 * workers)
    loader = training_loader(dataset, batch_size, seed=seed, epoch=0, start=0, rank=0, world_size=1,
                             num_workers=workers, pin_memory=pin_memory)
    stream = iter(loader)
    try:
        for _ in range(warmup):
            next(stream)
        start = time.perf_counter()
        for _ in range(timed):
            next(stream)
        seconds = time.perf_counter() - start
    finally:
        del stream  # stops the workers now
    return {"batches_per_s": timed / seconds, "crops_per_s": timed * batch_size / seconds, "timed_batches": timed,
            "seconds": seconds}


def _environment(workers: int) -> dict:
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version(),
        "torch": torch.__version__, "cpu_cores": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
        "torch_threads": torch.get_num_threads(), "workers": workers,
    }


def format_loader_report(result: dict) -> str:
    """The result as a few lines for the terminal."""
    target = result["target"]
    verdict = {True: "met", False: "NOT met", None: f"applies to {target['preset']}"}[target["met"]]
    return "\n".join([
        f"loader of {result['preset']} (x{result['scale']}, batch {result['batch_size']}, HR patch "
        f"{result['patch_size']}, augment {result['augment']}), {result['workers']} worker(s), "
        f"{result['train_items']} Train items, load average {result['environment']['load_average_1min']:.1f}",
        f"{'':<6}{'batches/s':>11}{'crops/s':>10}",
        f"{'cold':<6}{result['cold_batches_per_s']:>11.2f}{result['cold_crops_per_s']:>10.1f}   PNG decoding",
        f"{'warm':<6}{result['batches_per_s']:>11.2f}{result['crops_per_s']:>10.1f}   cache {result['cache']}",
        f"warm / cold: {result['warm_over_cold']:.0f}x; target {target['crops_per_s']:.0f} warm crops/s: {verdict}",
    ])
