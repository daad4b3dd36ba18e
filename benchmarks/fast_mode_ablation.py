"""What each lever of the fast mode buys: ``enhance`` timed with the levers added one at a time, interleaved.

    OMP_NUM_THREADS=1 python benchmarks/fast_mode_ablation.py --preset tiny-x4 --size 256 --threads 1

Variants (cumulative, each a ``lolisr_lib.bench.modes.Mode``): the reference mode; + channels_last and the cached
1x1 weights; + bf16 autocast (where the device has native bf16). All run in one process on the same weights and
input, in turn, repetition after repetition, so a change in the machine's load hits every variant alike;
medians are printed with the speedup over the reference and the agreement with it. ``--host-memory keep``
switches on ``lolisr_lib.runtime.hostmem`` for the whole process (it cannot be measured per variant): compare two runs.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from lolisr_lib.bench.measure import time_interleaved
from lolisr_lib.bench.modes import bench_model, image_agreement, inference_model, make_modes
from lolisr_lib.config import preset
from lolisr_lib.runtime import fastpath, hostmem
from lolisr_lib.runtime.device import resolve_device


def variants(device: torch.device) -> dict:
    reference, fast = make_modes(device, "off")
    layout = replace(fast, bf16=False)
    chosen = {"reference": reference, "+ channels_last, cached 1x1 weights": layout}
    if fastpath.native_bf16(device):
        chosen["+ bf16 autocast (fast mode)"] = fast
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny-x4")
    parser.add_argument("--size", type=int, default=256, help="LR side of the square input (default 256)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--host-memory", choices=("default", "keep"), default="default",
                        help="keep freed host memory for reuse in this process (lolisr_lib/runtime/hostmem.py)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.host_memory == "keep" and not hostmem.keep_freed_memory():
        parser.error("--host-memory keep needs Linux with glibc")
    base = bench_model(preset(args.preset), device, seed=0)
    lq = (torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0)) * 0.3).to(device)
    modes = variants(device)
    models = {name: inference_model(base, mode) for name, mode in modes.items()}

    def call(name):
        def run():
            with torch.no_grad(), modes[name].context(device):
                return models[name].enhance(lq)
        return run

    fns = {name: call(name) for name in modes}
    outputs = {name: fn() for name, fn in fns.items()}
    timings = time_interleaved(fns, device, repeats=args.repeats, warmup=1)
    ref = timings["reference"].median
    print(f"{args.preset}, enhance LR {args.size}, {device} ({torch.get_num_threads()} threads), host memory "
          f"{args.host_memory}, median of {args.repeats} interleaved repetitions")
    print("| variant (cumulative) | seconds (CPU s) | speedup | agreement with reference |")
    print("| --- | --- | --- | --- |")
    for name, timing in timings.items():
        agreement = image_agreement(outputs["reference"], outputs[name], modes[name])
        psnr = "identical" if agreement["psnr_db"] is None else f"PSNR {agreement['psnr_db']:.1f} dB"
        print(f"| {name} | {timing.median:.3f} ({timing.cpu_median:.3f}) | {ref / timing.median:.2f}x | "
              f"max diff {agreement['max_abs_diff']:.1e}, {psnr} |")


if __name__ == "__main__":
    main()
