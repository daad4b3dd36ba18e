"""Reproducing the RELLISUR tables: score a list of methods, build measured rows beside the published ones.

Notebook 09 composes these steps. A :class:`Method` is a row of the table: a classical baseline, a learned
baseline or LoLiSRFlow, with the model that makes its predictions (or ``None`` when it was not measured, and a
note saying why). :func:`evaluate_methods` scores every measured method with :func:`lolisr_lib.evaluate.evaluate`
(protocol A by default: uint8 RGB PSNR and colour SSIM as scikit-image computes them, full image; docs/data.md);
:func:`results_markdown` renders the measured rows beside RELLISUR's Table 7, the LoLiSRFlow table and UltraIS
(:mod:`lolisr_lib.evaluate.published`), each labelled measured or reported and by protocol, plus a per-EV breakdown, and
:func:`write_results` stores it as ``results_x{scale}.md``.

Learned methods come from a checkpoint when one is given or found, else from a brief training run here
(:func:`train_briefly`, the tiny preset shrunk by :func:`quick_overrides` so that it runs in seconds on a CPU),
else they are listed as "not measured". Also here: the GT-mean brightness rescaling that LLFlow applies before
scoring (:func:`gt_mean_rescale`, a cheat we only ever show labelled as one) and the stage-by-stage error of
the sequential CNN (:func:`sequential_stages`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lolisr_lib.baselines import CLASSICAL_BASELINES, make_baseline
from lolisr_lib.checkpoint import read_checkpoint
from lolisr_lib.config import Config, preset, with_overrides
from lolisr_lib.errors import CheckpointError, UserError
from lolisr_lib.evaluate import EvalResult, centre_crop, evaluate, method_output
from lolisr_lib.evaluate.card import per_scene, scene_target_means
from lolisr_lib.evaluate.metrics import psnr
from lolisr_lib.evaluate.published import TABLES, ResultRow, comparison_rows, render_markdown
from lolisr_lib.image.color import rgb_to_y
from lolisr_lib.model import pretrained
from lolisr_lib.model.build import load_model
from lolisr_lib.model.exposure_aware import ExposureAware
from lolisr_lib.runtime.files import atomic_write_text

MINIATURE_NOTE = (
    "the bundled miniature (scikit-image photographs darkened by the simulator, 64 px inputs; the LoLiSRFlow and "
    "CNN rows are the shipped models, trained on a CPU on simulated pairs, the CNNs for 3,000 steps, the flow with a "
    "larger budget (data/pretrained/README.md compares them at one budget); a row without a checkpoint is trained here "
    "for seconds): these numbers are NOT comparable with the published "
    "rows, which were measured on the real RELLISUR"
)
ARCH_LABELS = {"lolisrflow": "LoLiSRFlow", "joint-cnn": "joint CNN", "sequential-cnn": "sequential CNN"}
ARCH_TYPES = {"lolisrflow": "joint", "joint-cnn": "joint", "sequential-cnn": "sequential"}
CLASSICAL_TYPES = {"bicubic": "upscaling only", "he-bicubic": "sequential (classical)",
                   "gain-bicubic": "sequential (classical)"}
EXPOSURE_GAIN = "exposure-gain-bicubic"
EXPOSURE_TYPES = {"classical": "sequential (classical), reads the EV", "joint": "joint, reads the EV"}
SMALL_CNN = ("model.baseline.channels=16", "model.baseline.blocks=4")  # learned baselines of the CPU default
_Y_OFFSET = 16.0  # rgb_to_y adds this; the luma proper (proportional to brightness) is Y - 16


@dataclass
class Method:
    """One row of the table: ``model`` makes the predictions; ``None`` means not measured (``note`` says why)."""

    name: str  # row label, e.g. "LoLiSRFlow (tiny-x2, step 80)"
    type: str  # "upscaling only", "sequential (classical)", "sequential" or "joint"
    model: nn.Module | None  # anything with enhance(lq); None when the row could not be measured
    note: str = ""  # where the weights come from, or why the row is not measured


# ------------------------------------------------------------------------------------------ making methods
def quick_overrides(scale: int, steps: int) -> list[str]:
    """Config overrides for a run of ``steps`` steps on a CPU: batch 4 of small patches, 4 validations on 8 Val
    images, 4 checkpoints. The tiny presets alone (batch 8 of 64 px patches) take about a second per step."""
    every = max(1, steps // 4)
    return ["train.batch_size=4", f"train.patch_size={16 * max(scale, 2)}", f"train.warmup_steps={min(10, steps)}",
            f"train.val_every={every}", "train.val_images=8", f"train.checkpoint_every={every}",
            "train.num_workers=0"]


def brief_config(arch: str, scale: int, steps: int, seed: int = 0) -> Config:
    """``tiny-x{scale}`` for ``arch`` with :func:`quick_overrides`; the CNN baselines 16 channels, 4 blocks wide."""
    if arch not in ARCH_LABELS:
        raise UserError(f"unknown arch {arch!r}; choose one of {', '.join(ARCH_LABELS)}")
    extra = [] if arch == "lolisrflow" else list(SMALL_CNN)
    return with_overrides(preset(f"tiny-x{scale}"),
                          [f"model.arch={arch}", f"train.steps={steps}", f"train.seed={seed}",
                           *quick_overrides(scale, steps), *extra])


def brief_run_dir(runs_dir, arch: str, scale: int, steps: int, seed: int = 0) -> Path:
    """The folder of a brief run: one per (arch, scale, seed, steps), so a rerun with the same settings reuses it
    and changed settings never meet a run they cannot resume."""
    return Path(runs_dir) / f"{arch}-x{scale}-seed{seed}-{steps}steps"


def train_briefly(arch: str, scale: int, steps: int, runs_dir, *, data_root=None, device="auto",
                  seed: int = 0) -> Path:
    """Train ``arch`` for ``steps`` steps in :func:`brief_run_dir` (reusing a finished run); its ``last.pt``."""
    from lolisr_lib.train import train  # deferred: the trainer pulls in the data module

    result = train(brief_config(arch, scale, steps, seed), data_root=data_root,
                   out_dir=brief_run_dir(runs_dir, arch, scale, steps, seed), device=device, resume="auto")
    return result.last_checkpoint


def classical_methods(scale: int) -> list[Method]:
    """The three classical baselines (no training), in the order bicubic, he-bicubic, gain-bicubic."""
    return [Method(name, CLASSICAL_TYPES[name], make_baseline(name, scale), "no training")
            for name in CLASSICAL_BASELINES]


def exposure_methods(scale: int, flow: Method | None = None) -> list[Method]:
    """The rows that read each capture's exposure (the EV in RELLISUR's file names) beside the capture: the
    ``exposure-gain-bicubic`` baseline, and ``flow`` (a measured LoLiSRFlow row) with its brightness from the
    exposure (:class:`~lolisr_lib.model.exposure_aware.ExposureAware`). Neither reads the target."""
    rows = [Method(EXPOSURE_GAIN, EXPOSURE_TYPES["classical"], make_baseline(EXPOSURE_GAIN, scale),
                   "no training; one gain from each capture's exposure")]
    if flow is not None and flow.model is not None:
        rows.append(Method(f"{flow.name}, brightness from the exposure", EXPOSURE_TYPES["joint"],
                           ExposureAware(flow.model), f"{flow.note}; one gain from each capture's exposure"))
    return rows


def checkpoint_method(path, scale: int, *, note: str = "") -> Method:
    """The model stored at ``path`` (x``scale``), named by its architecture, preset and training step."""
    path = Path(path)
    step = read_checkpoint(path, map_location="cpu").get("step")
    model = load_model(path, map_location="cpu", expected_scale=scale)
    arch = model.config.model.arch
    trained = f", step {step}" if step is not None else ""
    return Method(f"{ARCH_LABELS.get(arch, arch)} ({model.config.name}{trained})", ARCH_TYPES.get(arch, ""), model,
                  note or f"checkpoint {path}")


def learned_method(arch: str, scale: int, *, checkpoint=None, search: Sequence = (), steps: int = 0,
                   runs_dir=None, data_root=None, device="auto", seed: int = 0) -> Method:
    """A learned row: ``checkpoint`` if given (it must load; ``"pretrained"``: the shipped file of ``arch`` at
    ``scale``, :mod:`lolisr_lib.model.pretrained`), else the first of ``search`` that holds ``arch`` at ``scale``,
    else a brief run of ``steps`` steps under ``runs_dir``, else a row marked "not measured"."""
    if arch not in ARCH_LABELS:
        raise UserError(f"unknown arch {arch!r}; choose one of {', '.join(ARCH_LABELS)}")
    if checkpoint == "pretrained":
        shipped = pretrained.shipped_file(scale, arch)
        return _checked(checkpoint_method(shipped, scale, note=f"shipped {shipped.name}"), arch, shipped)
    if checkpoint is not None:
        return _checked(checkpoint_method(checkpoint, scale), arch, checkpoint)
    skipped = []
    for path in map(Path, search):
        if not path.is_file():
            continue
        try:
            return _checked(checkpoint_method(path, scale, note=f"found {path}"), arch, path)
        except CheckpointError as err:  # another scale, another model, or a file being replaced right now
            skipped.append(str(err))
    if steps > 0:
        if runs_dir is None:
            raise UserError(f"learned_method({arch!r}): steps={steps} needs a runs_dir for the training run")
        last = train_briefly(arch, scale, steps, runs_dir, data_root=data_root, device=device, seed=seed)
        return checkpoint_method(last, scale, note=f"trained here for {steps} steps ({last.parent})")
    why = "; ".join(skipped) or "no checkpoint given and training steps = 0"
    return Method(ARCH_LABELS[arch], ARCH_TYPES[arch], None, f"not trained in the CPU default ({why})")


def learned_baselines(scale: int, checkpoints: dict | None = None, *, steps: int = 0, runs_dir=None, data_root=None,
                      device="auto", seed: int = 0) -> list[Method]:
    """The sequential and the joint CNN rows: from ``checkpoints`` (arch -> path), else trained for ``steps``
    steps under ``runs_dir``, else marked "not measured"."""
    checkpoints = dict(checkpoints or {})
    unknown = sorted(set(checkpoints) - {"sequential-cnn", "joint-cnn"})
    if unknown:
        raise UserError(f"baseline checkpoints for {unknown}: the learned baselines are 'sequential-cnn' and "
                        "'joint-cnn'")
    return [learned_method(arch, scale, checkpoint=checkpoints.get(arch), steps=steps, runs_dir=runs_dir,
                           data_root=data_root, device=device, seed=seed)
            for arch in ("sequential-cnn", "joint-cnn")]


def _checked(method: Method, arch: str, path) -> Method:
    found = method.model.config.model.arch
    if found != arch:
        raise CheckpointError(f"{path} holds a {found} model; a {arch} checkpoint was expected here")
    return method


# ------------------------------------------------------------------------------------------ scoring
def evaluate_methods(methods: Sequence[Method], root, split: str = "Test", scale: int = 2, *, crop=None,
                     y_channel: bool = False, limit=None, device="cpu") -> dict[str, EvalResult]:
    """:func:`~lolisr_lib.evaluate.evaluate` of every measured method, by name (same protocol for all)."""
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise UserError(f"method names must be unique, got {names}")
    return {m.name: evaluate(m.model, root, split, scale, crop=crop, y_channel=y_channel, limit=limit, device=device)
            for m in methods if m.model is not None}


def measured_rows(methods: Sequence[Method], results: dict[str, EvalResult]) -> list[ResultRow]:
    """The measured methods as :class:`~lolisr_lib.evaluate.published.ResultRow`, in the order of ``methods``."""
    return [results[m.name].to_result_row(m.name, m.type) for m in methods if m.name in results]


def per_ev(results: dict[str, EvalResult], metric: str = "psnr") -> dict[str, dict[float, float]]:
    """``{method: {ev: mean metric}}`` from the summaries, brightest EV first."""
    return {name: {ev: g[metric] for ev, g in r.summary["per_ev"].items()} for name, r in results.items()}


def per_ev_markdown(results: dict[str, EvalResult]) -> str:
    """A Markdown table: one row per EV (and "all"), one PSNR / SSIM column per method."""
    names = list(results)
    evs = sorted({ev for r in results.values() for ev in r.summary["per_ev"]}, reverse=True)
    lines = ["| EV | n | " + " | ".join(f"{n} PSNR / SSIM" for n in names) + " |", "|" + " --- |" * (2 + len(names))]
    first = next(iter(results.values())).summary
    groups = [("all", first["n"], {n: r.summary for n, r in results.items()})]
    groups += [(f"{ev:+.1f}", first["per_ev"].get(ev, {}).get("n", ""),
                {n: r.summary["per_ev"].get(ev) for n, r in results.items()}) for ev in evs]
    for label, count, cells in groups:
        shown = [f"{g['psnr']:.2f} / {g['ssim']:.3f}" if g else "-" for g in (cells[n] for n in names)]
        lines.append(f"| {label} | {count} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def per_scene_markdown(results: dict[str, EvalResult], pairs: Sequence, *, names: Sequence[str] | None = None,
                       shown: int = 12) -> str:
    """A Markdown table, one row per scene from the darkest target to the brightest: the target's mean code value
    and each method's PSNR averaged over the scene's exposures (``names``: which methods, default all). ``pairs``:
    the dataset's :class:`~lolisr_lib.data.layout.Pair` list, for the targets. With more than ``shown`` scenes,
    the darkest and the brightest halves of ``shown``."""
    names = list(results) if names is None else list(names)
    unknown = [n for n in names if n not in results]
    if unknown:
        raise UserError(f"no results for {', '.join(unknown)}; measured: {', '.join(results)}")
    scores = {n: per_scene(results[n].rows) for n in names}
    targets = scene_target_means(pair for pair in pairs if pair.scene in scores[names[0]])
    scenes = sorted(targets, key=lambda scene: (targets[scene], scene))
    if len(scenes) > shown:
        scenes = scenes[: shown // 2] + [None] + scenes[-(shown - shown // 2):]
    lines = ["| scene | target mean (code value) | " + " | ".join(f"{n} PSNR" for n in names) + " |",
             "|" + " --- |" * (2 + len(names))]
    for scene in scenes:
        if scene is None:
            lines.append("| ... |" + " |" * (1 + len(names)))
            continue
        cells = [f"{scores[n][scene]['psnr']:.2f}" for n in names]
        lines.append(f"| {scene} | {targets[scene]:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(methods: Sequence[Method], results: dict[str, EvalResult], scale: int, *, data_note: str,
                     tables: Sequence[str] = tuple(TABLES)) -> str:
    """The whole report: data and protocol, measured rows beside the published ones, per-EV means, the rows
    that were not measured, and where each measured model came from."""
    if not results:
        raise UserError("no method was measured; give at least one method with a model")
    protocol = next(iter(results.values())).summary["protocol"]
    rows = comparison_rows(measured_rows(methods, results), scale, tables)
    parts = [
        f"# Measured results at x{scale}",
        f"Data: {data_note}.",
        f"Protocol of our measured rows: {protocol}. Reported rows are copied from the papers; each names its "
        "own protocol, and rows under different protocols are not directly comparable.",
        "## Measured and reported", render_markdown(rows),
        "## Per exposure (measured, PSNR dB / SSIM)", per_ev_markdown(results),
        "## Where the measured models come from",
        "\n".join(f"- {m.name}: {m.note}" for m in methods if m.model is not None),
    ]
    missing = [m for m in methods if m.model is None]
    if missing:
        parts += ["## Not measured", "\n".join(f"- {m.name} ({m.type}): {m.note}" for m in missing)]
    return "\n\n".join(parts) + "\n"


def write_results(markdown: str, out_dir, scale: int) -> Path:
    """``out_dir/results_x{scale}.md``, written atomically (a temporary file, then a rename)."""
    return atomic_write_text(Path(out_dir) / f"results_x{scale}.md", markdown)


# ------------------------------------------------------------------------------------------ examples and extras
@dataclass
class Examples:
    """Inputs, targets and every method's outputs for a few dataset items (float (3, H, W) tensors, CPU)."""

    lq: list[torch.Tensor]
    gt: list[torch.Tensor]
    scene: list[str]
    ev: list[float]
    outputs: dict[str, list[torch.Tensor]] = field(default_factory=dict)


def enhance_examples(methods: Sequence[Method], dataset, indices: Sequence[int], *, crop=None,
                     device="cpu") -> Examples:
    """Enhance ``dataset[i]`` for ``i`` in ``indices`` with every measured method (centre-cropped like the
    protocol when ``crop`` is set)."""
    device = torch.device(device)
    ex = Examples([], [], [], [])
    for i in indices:
        item = dataset[i]
        lq, gt = item["lq"], item["gt"]  # (3, h, w), (3, s*h, s*w)
        if crop is not None:
            lq, gt = centre_crop(lq, gt, crop, dataset.scale, item["lq_path"])
        ex.lq.append(lq)
        ex.gt.append(gt)
        ex.scene.append(item["scene"])
        ex.ev.append(float(item["ev"]))
    for m in methods:
        if m.model is None:
            continue
        model = m.model.to(device).eval()
        ex.outputs[m.name] = [method_output(model, lq[None].to(device), ev=ev)[0].float().cpu()
                              for lq, ev in zip(ex.lq, ex.ev)]
    return ex


def gt_mean_rescale(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """LLFlow's brightness cheat: ``pred`` times the ratio of the target's mean luma to its own, clipped.

    It reads the ground truth at test time, so it hides any brightness error of the method; we only ever
    report it in a labelled extra column, never in the tables.
    """
    gain = (rgb_to_y(gt) - _Y_OFFSET).mean() / (rgb_to_y(pred) - _Y_OFFSET).mean().clamp(min=1e-6)
    return (pred * gain).clamp(0, 1)


def cheat_effect(examples: Examples) -> dict[str, tuple[float, float]]:
    """``{method: (mean PSNR, mean PSNR after gt_mean_rescale)}`` over the examples."""
    out = {}
    for name, preds in examples.outputs.items():
        raw = [psnr(p, g) for p, g in zip(preds, examples.gt)]
        cheat = [psnr(gt_mean_rescale(p, g), g) for p, g in zip(preds, examples.gt)]
        out[name] = (_finite_mean(raw), _finite_mean(cheat))
    return out


def _finite_mean(values: list[float]) -> float:
    kept = [v for v in values if math.isfinite(v)]
    return sum(kept) / len(kept) if kept else math.nan


@torch.no_grad()
def sequential_stages(model: nn.Module, examples: Examples) -> dict[str, float]:
    """Mean PSNR along a :class:`~lolisr_lib.baselines.SequentialCNN`: where the sequential error comes from.

    ``lle``: stage 1 output against the target downscaled to LR; ``sr_on_clean``: stage 2 on that clean
    downscaled target (what it was trained on); ``pipeline``: stage 2 on stage 1's output (what it gets).
    """
    if not hasattr(model, "enlighten"):
        raise UserError(f"sequential_stages needs a SequentialCNN, got {type(model).__name__}")
    model = model.cpu().eval()
    scores: dict[str, list[float]] = {"lle": [], "sr_on_clean": [], "pipeline": []}
    for lq, gt in zip(examples.lq, examples.gt):
        gt_lr = F.interpolate(gt[None], size=lq.shape[-2:], mode="area")  # (1, 3, h, w), as in training
        lle = model.enlighten(lq[None])  # (1, 3, h, w), unclamped as the pipeline passes it on
        scores["lle"].append(psnr(lle[0].clamp(0, 1), gt_lr[0]))
        scores["sr_on_clean"].append(psnr(model.sr(gt_lr)[0].clamp(0, 1), gt))
        scores["pipeline"].append(psnr(model.sr(lle)[0].clamp(0, 1), gt))
    return {k: _finite_mean(v) for k, v in scores.items()}


__all__ = [
    "MINIATURE_NOTE", "Examples", "Method", "brief_config", "brief_run_dir", "checkpoint_method", "cheat_effect",
    "classical_methods", "enhance_examples", "evaluate_methods", "exposure_methods", "gt_mean_rescale",
    "learned_baselines", "learned_method",
    "measured_rows", "per_ev", "per_ev_markdown", "per_scene_markdown", "quick_overrides", "results_markdown", "sequential_stages",
    "train_briefly", "write_results",
]
