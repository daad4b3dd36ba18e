"""How much of a trained model's error is its brightness guess, and how much the capture's exposure gives back.

Scores, on the miniature's Test split per EV and, at x2, on the two real pairs:

- the model (its own brightness guess);
- the model with its brightness from the capture's exposure (``--exposure-aware``: the EV in the file name and
  the calibrated camera run backwards, lolisr_lib/model/exposure_aware.py): a method, it never reads the target;
- the model with its brightness from the target (lolisr_lib/evaluate/headroom.py): a reference that reads the
  answer, like the oracle gain; the gap to the first row is what a perfect brightness guess would add;
- exposure gain + bicubic, HE + bicubic and the oracle gain.

    python benchmarks/brightness_headroom.py --pretrained x2
    python benchmarks/brightness_headroom.py runs/small-x4/best.pt --out benchmarks/results/brightness-x4.json
"""

import argparse
from collections import defaultdict

import numpy as np

from lolisr_lib.baselines import make_baseline
from lolisr_lib.data import RellisurDataset, default_root
from lolisr_lib.evaluate.card import EXPOSURE_ROW, card_tables, measure_card, scene_target_means, write_card
from lolisr_lib.evaluate.headroom import BrightnessFromTarget
from lolisr_lib.image.calibration import REAL_ROOT
from lolisr_lib.image.color import srgb_to_linear
from lolisr_lib.image.exposure import scene_linear_mean
from lolisr_lib.model.exposure_aware import ExposureAware
from lolisr_lib.model.pretrained import parse_model_arguments

TARGET_ROW = "same, brightness from the target (reads gt mean)"


def estimate_errors(root, scale: int) -> dict[float, list[float]]:
    """Per EV, log2(estimated / true linear mean of the target) of each Test image: the exposure estimate's error
    in stops (positive: the estimate is too bright)."""
    dataset, errors = RellisurDataset(root, "Test", scale), defaultdict(list)
    for i in range(len(dataset)):
        item = dataset[i]
        estimate = scene_linear_mean(item["lq"][None], item["ev"]).item()
        errors[float(item["ev"])].append(float(np.log2(estimate / srgb_to_linear(item["gt"].double()).mean().item())))
    return dict(sorted(errors.items(), reverse=True))


def estimate_table(scale: int) -> str:
    """The exposure estimate's error on the miniature's Test split per EV and on each real pair (x2)."""
    mini = estimate_errors(default_root(), scale)
    lines = ["Brightness from the exposure, error of the estimate in stops (mean over the miniature's Test images; "
             "per real pair):", "", "| | " + " | ".join(f"{ev:.1f} EV" for ev in mini) + " |",
             "|---|" + "---|" * len(mini),
             "| miniature Test | " + " | ".join(f"{np.mean(v):+.2f}" for v in mini.values()) + " |"]
    if scale == 2:
        for ev, values in estimate_errors(REAL_ROOT, 2).items():
            lines.append(f"| real pair at {ev:.1f} EV | " + " | ".join(
                f"{values[0]:+.2f}" if e == ev else "" for e in mini) + " |")
    return "\n".join(lines)


def scene_table(card: dict) -> str:
    """Per miniature Test scene (means over its exposures): the target's brightness, the model, the model with
    the target's brightness and the oracle gain. Where the plain model's gap to the oracle lives."""
    mini, scale = card["mini"], card["scale"]
    target_mean = scene_target_means(RellisurDataset(default_root(), "Test", scale).pairs)
    lines = [f"Per miniature Test scene, x{scale}, PSNR dB (mean over its exposures):", "",
             "| scene | target mean (code value) | model | brightness from the target | oracle gain | model - oracle |",
             "|---|---|---|---|---|---|"]
    for scene, model in mini["model"]["per_scene"].items():
        oracle = mini["oracle-gain"]["per_scene"][scene]["psnr"]
        lines.append(f"| {scene} | {target_mean[scene]:.0f} | {model['psnr']:.2f} | "
                     f"{mini[TARGET_ROW]['per_scene'][scene]['psnr']:.2f} | {oracle:.2f} | {model['psnr'] - oracle:+.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="JSON", help="also write the figures here")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N; the card's figures are CPU's")
    args, model = parse_model_arguments(parser)
    others = {
        EXPOSURE_ROW: ExposureAware(model),
        TARGET_ROW: BrightnessFromTarget(model),
        "exposure gain + bicubic (reads the file's EV)": make_baseline("exposure-gain-bicubic", model.scale),
    }
    card = measure_card(model, model.scale, others=others, device=args.device)
    if args.out:
        print(f"figures: {write_card(card, args.out)}")
    arch = model.config.model.arch  # a CNN baseline's checkpoint is scored the same way
    print(card_tables(card, model_label="LoLiSRFlow" if arch == "lolisrflow" else arch))
    print()
    print(scene_table(card))
    print()
    print(estimate_table(model.scale))
