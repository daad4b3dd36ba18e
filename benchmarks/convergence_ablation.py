"""Why Val PSNR wandered, measured: short runs that change one suspect each, with their Val curves.

    OMP_NUM_THREADS=1 python benchmarks/convergence_ablation.py --steps 400 --out runs/ablation \
        --json data/pretrained/ablation-x2.json

Every variant is the ``tiny-x2`` preset trained by ``lolisr_lib.train.train`` for the same number of steps, on
the same data, validated every ``steps / 8`` steps on the miniature's Val split (PSNR and the mean-brightness
error), then scored on the miniature's Test split and on the two real pairs (x2). The variants:

- ``paper loss``: NLL + 1.5 L1 on simulated pairs (the shipped recipe, at the tiny size);
- ``NLL only`` (gamma 0) and ``L1 only`` (the NLL weight 0): what each term of the loss does;
- ``L1 weight 5``: NLL + 5 L1, a heavier pull of the temperature-0 prediction toward the target;
- ``targets not re-exposed``: simulated pairs whose targets keep their photograph's brightness (65 to 160);
- ``miniature crops``: the old data, crops of the miniature's 18 Train scenes at 15 fixed exposures;
- ``joint CNN``: the residual CNN baseline trained with L1 on the same pairs (same steps and data).

A finished variant (its ``last.pt`` at the final step) is not trained again; the JSON is rewritten each time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lolisr_lib.config import preset, with_overrides
from lolisr_lib.data import default_root
from lolisr_lib.data.cache.manifest import atomic_write
from lolisr_lib.evaluate import evaluate
from lolisr_lib.evaluate.card import ablation_table
from lolisr_lib.image.calibration import REAL_ROOT
from lolisr_lib.model.build import load_model
from lolisr_lib.train import read_log, train

VARIANTS = {
    "paper loss": [],
    "NLL only": ["model.gamma=0"],
    "L1 only": ["model.nll_weight=0"],
    "L1 weight 5": ["model.gamma=5"],
    "targets not re-exposed": ["train.sim_reexpose=false"],
    "miniature crops": ["train.data=dataset", "train.patch_size=64"],
    "joint CNN": ["model.arch=joint-cnn"],
}


def _val_rows(run: Path) -> list[dict]:
    return [dict(row) for row in read_log(run, "val")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--json", type=Path, default=Path("data/pretrained/ablation-x2.json"))
    parser.add_argument("--only", nargs="*", help="run only these variants")
    parser.add_argument("--report", nargs="*", type=Path, help="print the table of these JSON files and stop")
    args = parser.parse_args()
    if args.report is not None:
        merged = {}
        for path in args.report or [args.json]:
            merged.update(json.loads(path.read_text()))
        print(ablation_table({name: merged[name] for name in VARIANTS if name in merged}))
        return
    base = with_overrides(preset("tiny-x2"), [
        "train.data=simulated", f"train.steps={args.steps}", f"train.val_every={args.steps // 8}",
        f"train.warmup_steps={args.steps // 8}",
        "train.val_images=20", f"train.checkpoint_every={args.steps // 8}", "train.log_every=10",
    ])
    results = json.loads(args.json.read_text()) if args.json.is_file() else {}
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        run = args.out / name.replace(" ", "-")
        config = with_overrides(base, overrides)
        start = time.perf_counter()
        result = train(config, out_dir=run, device="cpu", resume="auto", progress=False)
        model = load_model(result.last_checkpoint)
        test = evaluate(model, default_root(), "Test", 2)
        real = evaluate(model, REAL_ROOT, "Test", 2)
        results[name] = {
            "overrides": overrides,
            "steps": result.step,
            "seconds": result.seconds,
            "val": _val_rows(run),
            "test_psnr": test.summary["psnr"],
            "test_ssim": test.summary["ssim"],
            "real_psnr": {f"{r['scene']}{r['ev']:.1f}": r["psnr"] for r in real.rows},
        }
        print(f"{name}: {result.step} steps, {result.seconds:.0f} s training, Test {test.summary['psnr']:.2f} dB, "
              f"real {[round(r['psnr'], 2) for r in real.rows]} ({time.perf_counter() - start:.0f} s in all)",
              flush=True)
        atomic_write(args.json, lambda file: file.write((json.dumps(results, indent=1) + "\n").encode()))


if __name__ == "__main__":
    main()
