"""How a trained model treats a green pedestal in the shadows, as real dark frames have and the calibrated camera has not.

Real RELLISUR captures lift their deepest shadows more in green than in red and blue (docs/simulator.md, section
3). This script adds such a pedestal to every input of the miniature's Test split
(:func:`lolisr_lib.image.degrade.shift_black_points`, green only, ``--pedestal`` of white in linear light; 0.0004
is about 1.3 code values at black) and scores each model on the plain and on the lifted inputs: PSNR, SSIM, and
the green cast of its output in the target's darkest quarter (mean green minus the mean of red and blue, output
against target, in code values). A model that reads the pedestal as the scene's colour loses PSNR and gains a
cast. Never reads a real pair.

    python benchmarks/pedestal_robustness.py --pretrained x2
    python benchmarks/pedestal_robustness.py runs/small-x2/best.pt runs/ped-x2/best.pt --pedestal 0.0004
"""

import argparse

import numpy as np
import torch

from lolisr_lib.data import RellisurDataset, default_root
from lolisr_lib.evaluate import method_output
from lolisr_lib.evaluate.metrics import psnr, ssim
from lolisr_lib.image.calibration import REAL_ROOT
from lolisr_lib.image.degrade import shift_black_points
from lolisr_lib.image.shadows import green_cast
from lolisr_lib.model.build import load_model
from lolisr_lib.model.pretrained import load


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)  # (3, h, w) in [0, 1] -> (h, w, 3)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255.0


def score(model, scale: int, pedestal: float) -> dict:
    dataset, rows = RellisurDataset(default_root(), "Test", scale), []
    for i in range(len(dataset)):
        item = dataset[i]
        lifted = to_tensor(shift_black_points(to_uint8(item["lq"]), (0.0, -pedestal, 0.0)))
        row = {}
        for name, lq in (("plain", item["lq"]), ("lifted", lifted)):
            out = method_output(model, lq[None])[0]
            row[name] = (psnr(out, item["gt"]), ssim(out, item["gt"]), green_cast(out, item["gt"]))
        rows.append(row)
    return {name: np.mean([r[name] for r in rows], axis=0) for name in ("plain", "lifted")}


def score_real(model) -> dict[str, tuple[float, float]]:
    """Per real pair (x2): PSNR and the green cast of the output in the target's darkest quarter."""
    dataset, rows = RellisurDataset(REAL_ROOT, "Test", 2), {}
    for i in range(len(dataset)):
        item = dataset[i]
        out = method_output(model, item["lq"][None])[0]
        rows[f"{item['scene']}{item['ev']:+.1f}"] = (psnr(out, item["gt"]), green_cast(out, item["gt"]))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", help="model files or runs' best.pt")
    parser.add_argument("--pretrained", choices=["x2", "x4"], help="also score a shipped model")
    parser.add_argument("--pedestal", type=float, default=0.0004, help="green lift in linear light (default 0.0004)")
    args = parser.parse_args()
    models = ([(f"shipped {args.pretrained}", load(args.pretrained))] if args.pretrained else [])
    models += [(path, load_model(path)) for path in args.checkpoints]
    if not models:
        parser.error("give checkpoints or --pretrained x2|x4")
    print(f"miniature Test, green pedestal {args.pedestal} of white on every input: PSNR dB / SSIM / green cast "
          "(code values, darkest quarter)")
    print("| model | plain input | lifted input | PSNR lost |")
    print("|---|---|---|---|")
    for label, model in models:
        r = score(model.eval(), model.scale, args.pedestal)
        fmt = "{:.2f} / {:.3f} / {:+.1f}".format
        print(f"| {label} | {fmt(*r['plain'])} | {fmt(*r['lifted'])} | {r['plain'][0] - r['lifted'][0]:.2f} |")
    real = [(label, model) for label, model in models if model.scale == 2]
    if real:
        print("\nreal RELLISUR pairs at x2, as captured: PSNR dB / green cast (code values, darkest quarter)")
        for label, model in real:
            cells = " | ".join(f"{name} {p:.2f} / {c:+.1f}" for name, (p, c) in score_real(model.eval()).items())
            print(f"| {label} | {cells} |")
