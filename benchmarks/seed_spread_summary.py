"""Summarise runs of one recipe trained with different seeds (benchmarks/gpu_seed_spread.sh's folder).

For each ``seedN/`` run folder beside its scores ``seedN-best.json`` / ``seedN-last.json`` (written by
benchmarks/brightness_headroom.py): the step best.pt was chosen at, the largest dip of Val PSNR, and the miniature
Test and real-pair figures of best.pt and of the last checkpoint; then mean, standard deviation and range over the
seeds. Prints Markdown and, with ``--out``, writes everything as one JSON.

    python benchmarks/seed_spread_summary.py runs/seed-spread --out benchmarks/results/h200-seed-spread-small-x2.json
"""

import argparse
import json
import re
import statistics
from pathlib import Path

from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.card import EXPOSURE_ROW, largest_dip, write_card
from lolisr_lib.train import read_log


def val_curve(run: Path) -> dict[str, list[float]]:
    """The run's validations as columns: step, psnr, ssim, psnr_exposure, brightness_error."""
    rows = read_log(run, "val")
    if not rows:
        raise UserError(f"{run} has no validations (val.jsonl): did its training start?")
    keys = ("step", "psnr", "ssim", "psnr_exposure", "brightness_error")
    return {k: [float(r[k]) for r in rows] for k in keys}


def test_figures(card: dict) -> dict:
    """Plain and exposure-aware PSNR / SSIM on the miniature's Test split, the smallest margin over HE + bicubic
    across EVs, and the real pairs' PSNR (plain and exposure-aware)."""
    mini, real = card["mini"], card.get("real", {})
    he = mini["he-bicubic"]["per_ev"]
    figures = {
        "plain": {"psnr": mini["model"]["psnr"], "ssim": mini["model"]["ssim"]},
        "exposure": {"psnr": mini[EXPOSURE_ROW]["psnr"], "ssim": mini[EXPOSURE_ROW]["ssim"]},
        "per_ev": {ev: g["psnr"] for ev, g in mini["model"]["per_ev"].items()},
        "least_margin_over_he": min(mini["model"]["per_ev"][ev]["psnr"] - he[ev]["psnr"] for ev in he),
    }
    if real:
        figures["real"] = {pair: s["psnr"] for pair, s in real["model"].items()}
        figures["real_exposure"] = {pair: s["psnr"] for pair, s in real[EXPOSURE_ROW].items()}
    return figures


def summarise(folder: Path) -> dict:
    runs = sorted((p for p in folder.iterdir() if re.fullmatch(r"seed\d+", p.name) and p.is_dir()),
                  key=lambda p: int(p.name[4:]))
    if not runs:
        raise UserError(f"{folder} holds no seedN/ run folders; give the folder gpu_seed_spread.sh wrote")
    seeds = {}
    for run in runs:
        curve = val_curve(run)
        config = json.loads((run / "config.json").read_text())
        select_by = config["train"]["select_by"]
        scores = curve[select_by]
        entry = {"val": curve, "select_by": select_by,
                 "best_step": curve["step"][scores.index(max(scores))],
                 "largest_val_dip_after_500": largest_dip([p for s, p in zip(curve["step"], curve["psnr"]) if s >= 500])}
        for which in ("best", "last"):
            path = folder / f"{run.name}-{which}.json"
            if not path.is_file():
                raise UserError(f"{path} is missing: score {run / (which + '.pt')} with benchmarks/brightness_headroom.py")
            entry[which] = test_figures(json.loads(path.read_text()))
        seeds[run.name[4:]] = entry
    spread = {}
    for which in ("best", "last"):
        for kind in ("plain", "exposure"):
            for metric in ("psnr", "ssim"):
                values = [s[which][kind][metric] for s in seeds.values()]
                spread[f"{which} {kind} {metric}"] = {
                    "mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "min": min(values), "max": max(values)}
    return {"seeds": seeds, "spread": spread}


def markdown(summary: dict) -> str:
    lines = ["| seed | best.pt step | largest Val dip | best.pt plain | exposure-aware | last plain | exposure-aware |"
             " least margin over HE (best / last) | real pairs plain, best.pt |",
             "|---|---|---|---|---|---|---|---|---|"]
    for seed, s in summary["seeds"].items():
        b, last = s["best"], s["last"]
        real = " / ".join(f"{v:.2f}" for v in b.get("real", {}).values()) or "-"
        lines.append(
            f"| {seed} | {s['best_step']:.0f} | {s['largest_val_dip_after_500']:.2f} | {b['plain']['psnr']:.2f} / "
            f"{b['plain']['ssim']:.3f} | {b['exposure']['psnr']:.2f} | {last['plain']['psnr']:.2f} / "
            f"{last['plain']['ssim']:.3f} | {last['exposure']['psnr']:.2f} | {b['least_margin_over_he']:.2f} / "
            f"{last['least_margin_over_he']:.2f} | {real} |")
    lines += ["", "| over the seeds | mean | sd | min | max |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['mean']:.3f} | {v['sd']:.3f} | {v['min']:.3f} | {v['max']:.3f} |"
              for k, v in summary["spread"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the folder gpu_seed_spread.sh filled (unpacked seed-spread.tar.gz)")
    parser.add_argument("--out", metavar="JSON", help="also write the summary here")
    args = parser.parse_args()
    summary = summarise(Path(args.folder))
    if args.out:
        print(f"summary: {write_card(summary, args.out)}")
    print(markdown(summary))
