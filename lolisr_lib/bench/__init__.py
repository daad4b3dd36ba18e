"""Benchmark of LoLiSRFlow: training throughput, ``enhance`` latency and memory, in a reference and a fast mode.

The issue's questions, answered by one run (``python -m lolisr_lib bench --preset P``):

- training throughput (steps/s, HR megapixels/s) at the preset's batch and patch size;
- ``enhance`` latency and peak memory for LR inputs of several sizes, per output megapixel, untiled and tiled;
- each in the **reference** mode (float32, eager, nothing cached) and the **fast** mode
  (:mod:`lolisr_lib.runtime.fastpath`), with the speedup and a check that the fast outputs agree with the reference;
- FLOPs per HR pixel and the achieved FLOP/s, as a percentage of the device's peak where that is known.

Modules: ``measure`` (timing, memory, FLOPs, device peaks), ``modes`` (the two modes, the model, agreement),
``runs`` (the inference and training measurements), ``suite`` (one run, targets), ``report`` (table, JSON),
``loader`` (``bench --loader``: the training loader's crops per second, from PNGs and from the cache).
``benchmarks/README.md`` holds measured figures and the commands that produced them.
"""

from lolisr_lib.bench.report import format_report, write_json
from lolisr_lib.bench.suite import SCHEMA, TARGETS, BenchOptions, evaluate_targets, run_bench

__all__ = ["SCHEMA", "TARGETS", "BenchOptions", "evaluate_targets", "format_report", "run_bench", "write_json"]
