"""Peak memory of LoLiSRFlow inference, measured and estimated, untiled and tiled.

    python benchmarks/inference_memory.py --preset paper-x4 --sizes 48,96     # fit the estimate
    python benchmarks/inference_memory.py --preset small-x4 --sizes 160 --budget-mib 64   # tiled vs untiled

Each measurement runs in a fresh process (random weights, float32, no gradient, one thread) and reads the
process's peak resident memory (Linux ``VmHWM``) before and after one ``enhance``; the difference is what the
inference added. ``LoLiSRFlow.inference_bytes_per_hr_pixel`` is the estimate that automatic tiling uses; this
script prints both, and the ratio, so the estimate can be checked on any machine (on CUDA, use
``torch.cuda.max_memory_allocated`` instead).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, re, sys, time, torch
from lolisr_lib.config import preset
from lolisr_lib.model import LoLiSRFlow
torch.set_num_threads(1)
name, side, tile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tile = None if tile == "off" else "auto" if tile == "auto" else int(tile)
torch.manual_seed(0)
model = LoLiSRFlow(preset(name)).eval()
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
with torch.no_grad():
    model.enhance(torch.rand(1, 3, 16, 16), tile=None)  # ActNorm's first-call initialisation, off the books
    before, start = peak(), time.perf_counter()
    model.enhance(torch.rand(1, 3, side, side), tile=tile)
    print(json.dumps({"added_bytes": peak() - before, "seconds": time.perf_counter() - start,
                      "estimate_per_hr_pixel": model.inference_bytes_per_hr_pixel()}))
"""


def measure(preset: str, side: int, tile: str, budget: int | None) -> dict:
    env = {"OMP_NUM_THREADS": "1"}
    if budget:
        env["LOLISR_MEMORY_BUDGET"] = str(budget)
    import os

    proc = subprocess.run([sys.executable, "-c", CHILD, preset, str(side), tile], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small-x4")
    parser.add_argument("--sizes", default="48,96", help="LR sides, comma-separated")
    parser.add_argument("--budget-mib", type=float, help="also run with automatic tiling under this memory budget")
    args = parser.parse_args()
    scale = int(args.preset.rsplit("x", 1)[1])
    for side in (int(s) for s in args.sizes.split(",")):
        pixels = (scale * side) ** 2
        untiled = measure(args.preset, side, "off", None)
        estimate = untiled["estimate_per_hr_pixel"] * pixels
        print(f"{args.preset} LR {side} px (HR {scale * side} px), untiled: {untiled['added_bytes'] / 2**20:.1f} MiB "
              f"measured, {estimate / 2**20:.1f} MiB estimated (ratio {estimate / max(untiled['added_bytes'], 1):.2f}), "
              f"{untiled['seconds']:.1f} s")
        if args.budget_mib:
            tiled = measure(args.preset, side, "auto", int(args.budget_mib * 2**20))
            print(f"  automatic tiling under a {args.budget_mib:g} MiB budget: {tiled['added_bytes'] / 2**20:.1f} MiB "
                  f"measured, {tiled['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
