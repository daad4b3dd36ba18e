"""The figures of a model card: a trained model beside the baselines, on the miniature's Test split and on real pairs.

``measure_card(model, scale)`` scores, under protocol A (full images, uint8 RGB PSNR / SSIM):

- on the miniature's Test split (the default miniature, or ``mini_root``): the model, HE + bicubic and the
  oracle gain (a reference that reads the target's mean), overall and per EV;
- at x2, on the two real RELLISUR pairs of ``data/rellisur-real`` (never trained on): the same three.

``data/pretrained/metrics-x{2,4}.json`` store these figures for the shipped models; the model card
(``data/pretrained/README.md``) quotes them and ``tests/test_pretrained.py`` re-measures them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from lolisr_lib.baselines import make_baseline
from lolisr_lib.evaluate import evaluate
from lolisr_lib.image.calibration import REAL_ROOT
from lolisr_lib.image.io import read_png
from lolisr_lib.runtime.files import atomic_write

METHODS = ("he-bicubic", "oracle-gain")  # the rows a model card compares with
# the row of the model with its brightness from the file's EV (benchmarks/brightness_headroom.py writes it)
EXPOSURE_ROW = "same, brightness from the exposure (reads the file's EV)"


def _summary(result) -> dict:
    s = result.summary
    return {
        "psnr": s["psnr"],
        "ssim": s["ssim"],
        "n": s["n"],
        "per_ev": {f"{ev:.1f}": {"psnr": g["psnr"], "ssim": g["ssim"], "n": g["n"]} for ev, g in s["per_ev"].items()},
        "per_scene": per_scene(result.rows),
    }


def scene_target_means(pairs) -> dict[str, float]:
    """The mean code value of each scene's target (the five exposures of a scene share it: read once), from a
    dataset's :class:`~lolisr_lib.data.layout.Pair` list: how bright the scene was meant to be."""
    paths = {pair.scene: pair.gt_path for pair in pairs}
    return {scene: float(read_png(path).mean()) for scene, path in paths.items()}


def per_scene(rows: list[dict]) -> dict:
    """Mean PSNR and SSIM of each scene over its exposures, in the rows' order: where a method's error lives
    (on the miniature, the plain model loses to the oracle on the scenes whose target is darker than a normal
    exposure, and beats it on the others: data/pretrained/README.md)."""
    scenes: dict[str, list[dict]] = {}
    for r in rows:
        scenes.setdefault(r["scene"], []).append(r)
    return {scene: {"psnr": sum(r["psnr"] for r in group) / len(group),
                    "ssim": sum(r["ssim"] for r in group) / len(group), "n": len(group)}
            for scene, group in scenes.items()}


def _rows(result) -> dict:
    return {f"{r['scene']}{r['ev']:.1f}": {"psnr": r["psnr"], "ssim": r["ssim"]} for r in result.rows}


def measure_card(model: nn.Module, scale: int, *, mini_root=None, real_root=REAL_ROOT, real: bool = True,
                 device: str = "cpu", others: dict[str, nn.Module] | None = None) -> dict:
    """``{"mini": {method: summary}, "real": {method: {pair: scores}}}``; the model's method name is "model".

    ``others``: more trained models to score beside it (e.g. ``{"joint CNN": cnn}``), under their names.
    """
    from lolisr_lib.data import default_root

    mini_root = mini_root if mini_root is not None else default_root()
    methods = {"model": model, **(others or {}), **{name: make_baseline(name, scale) for name in METHODS}}
    card = {"scale": scale, "mini": {}, "real": {}}
    with torch.no_grad():
        for name, method in methods.items():
            card["mini"][name] = _summary(evaluate(method, mini_root, "Test", scale, device=device))
        if real and scale == 2:  # the bundled real targets are the x2 ones
            for name, method in methods.items():
                card["real"][name] = _rows(evaluate(method, real_root, "Test", 2, device=device))
    return card


def write_card(card: dict, path: str | Path) -> Path:
    """The figures as JSON, written atomically."""
    path = Path(path)
    atomic_write(path, lambda file: file.write((json.dumps(card, indent=1, sort_keys=True) + "\n").encode()))
    return path


def card_tables(card: dict, model_label: str = "LoLiSRFlow (shipped)") -> str:
    """The card's figures as Markdown: overall and per EV on the miniature, and the real pairs (the models
    first, then the baselines)."""
    mini = card["mini"]
    baselines = {"he-bicubic": "HE + bicubic", "oracle-gain": "oracle gain (reads gt mean)"}
    others = {key: key for key in mini if key != "model" and key not in baselines}
    names = {"model": model_label, **others, **baselines}
    evs = list(mini["model"]["per_ev"])
    lines = [f"Miniature Test split, x{card['scale']} ({mini['model']['n']} images), PSNR dB / SSIM:", "",
             "| method | all | " + " | ".join(f"{ev} EV" for ev in evs) + " |",
             "|---|---|" + "---|" * len(evs)]
    for key, label in names.items():
        s = mini[key]
        cells = [f"{s['psnr']:.2f} / {s['ssim']:.3f}"] + [f"{s['per_ev'][ev]['psnr']:.2f}" for ev in evs]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if card.get("real"):
        pairs = list(card["real"]["model"])
        lines += ["", "Real RELLISUR Test pairs, x2 (never trained on), PSNR dB / SSIM:", "",
                  "| method | " + " | ".join(pairs) + " | mean PSNR |", "|---|" + "---|" * (len(pairs) + 1)]
        for key, label in names.items():
            rows = card["real"][key]
            mean = sum(rows[p]["psnr"] for p in pairs) / len(pairs)
            cells = [f"{rows[p]['psnr']:.2f} / {rows[p]['ssim']:.3f}" for p in pairs]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {mean:.2f} |")
    return "\n".join(lines)


@torch.no_grad()
def compare_methods(model: nn.Module, lq: torch.Tensor, gt: torch.Tensor, *, label: str = "LoLiSRFlow",
                    ev: float | None = None) -> tuple:
    """One image pair through HE + bicubic, the oracle gain and ``model.enhance``: ``(outputs, scores)``, dicts
    keyed by method name, outputs ``(3, H, W)`` in [0, 1], scores ``(PSNR, SSIM)`` under protocol A.

    With the capture's exposure ``ev``, one more output: the model's with its brightness from that exposure
    (:class:`lolisr_lib.model.exposure_aware.ExposureAware`), named ``label + ", brightness from the EV"``."""
    from lolisr_lib.evaluate.metrics import psnr, ssim
    from lolisr_lib.image.exposure import brightness_from_exposure

    scale = model.scale
    device = next(model.parameters()).device
    prediction = model.enhance(lq[None].to(device))[0].float().cpu()
    outputs = {
        "HE + bicubic": make_baseline("he-bicubic", scale).enhance(lq),
        "oracle gain (reads gt mean)": make_baseline("oracle-gain", scale).enhance(lq, target=gt),
        label: prediction,
    }
    if ev is not None:  # the same prediction with one gain in linear light: ExposureAware without a second pass
        outputs[f"{label}, brightness from the EV"] = brightness_from_exposure(prediction[None], lq[None], ev)[0]
    scores = {name: (psnr(out, gt), ssim(out, gt)) for name, out in outputs.items()}
    return outputs, scores


def largest_dip(values) -> float:
    """The largest fall between two successive validations (0 when a curve never falls): how much a run wanders."""
    values = list(values)
    return max([a - b for a, b in zip(values, values[1:])] + [0.0])


def ablation_table(results: dict) -> str:
    """The convergence ablation (``benchmarks/convergence_ablation.py``) as Markdown: per variant, the Val PSNR
    at the first and last validation, the best Val PSNR, the largest dip between two validations, the mean
    brightness error over the validations of the second half and how far its sign-carrying bias swings (the
    standard deviation over those validations), and the Test and real-pair PSNR of the final weights."""
    lines = ["| variant | Val PSNR first -> last (best) | largest dip | brightness error, 2nd half | "
             "bias swing (std), 2nd half | miniature Test PSNR | real pairs PSNR |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        val = r["val"]
        psnrs = [v["psnr"] for v in val]
        dip = largest_dip(psnrs)
        real = " / ".join(f"{p:.2f}" for p in r["real_psnr"].values())
        late = val[len(val) // 2:]
        error = sum(v["brightness_error"] for v in late) / len(late)
        biases = [v["brightness_bias"] for v in late]
        mean_bias = sum(biases) / len(biases)
        swing = (sum((b - mean_bias) ** 2 for b in biases) / len(biases)) ** 0.5
        lines.append(f"| {name} | {psnrs[0]:.2f} -> {psnrs[-1]:.2f} ({max(psnrs):.2f}) | {dip:.2f} dB | "
                     f"{error:.1f} | {swing:.1f} | {r['test_psnr']:.2f} | {real} |")
    return "\n".join(lines)
