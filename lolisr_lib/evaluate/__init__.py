"""Score a model or a baseline on a RELLISUR split under a named protocol (design notes, docs/data.md).

Default: **protocol A** on the full images, i.e. 8-bit RGB PSNR and colour SSIM exactly as scikit-image
computes them (:mod:`lolisr_lib.evaluate.metrics`), no border crop, no brightness rescaling (LLFlow rescales outputs to
the ground-truth mean before scoring, which hides brightness errors; we never do). Switches: ``crop=624``
centre-crops the LR input to 624 x 624 and the target to ``scale * 624`` before enhancing (the unofficial
``Test_crop`` of LoLiSRFlow's lab, whose crop positions are unpublished, hence "centre"); ``y_channel=True``
scores BT.601 luma instead, as protocol B papers do. Named protocols (:data:`PROTOCOLS`) fix these switches
and label the result with their name: ``protocol="test-crop"`` is the published protocol A on Test_crop (RGB,
a centred 624 x 624 LR crop of every Test image, 1248 or 2496 HR); on RELLISUR's 625-pixel inputs a 624 crop
can start only at pixel 0 or 1, so the unpublished positions move it by one pixel at most. The summary
always breaks results down by exposure (EV), because a -5 EV input is a far harder problem than a -2.5 EV
one. LPIPS (AlexNet, v0.1) is computed only from a local weights file (:mod:`lolisr_lib.evaluate.lpips`);
otherwise it reads "n/a" and tables show the papers' LPIPS as reported.

Images are enhanced one at a time (RELLISUR's x4 targets are 2500 x 2500) under ``torch.no_grad``.
"""

from __future__ import annotations

import csv
import inspect
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from lolisr_lib.baselines import make_baseline
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.lpips import load_lpips, lpips_distance
from lolisr_lib.evaluate.metrics import psnr, ssim
from lolisr_lib.evaluate.published import ResultRow
from lolisr_lib.runtime.device import resolve_device
from lolisr_lib.runtime.files import atomic_write

CSV_COLUMNS = ("scene", "ev", "psnr", "ssim", "lpips", "seconds")
NA = "n/a"  # LPIPS when no weights were given


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol (docs/data.md, section 7): the switches it fixes and its label."""

    crop: int | None  # centre crop side of the LR input, None for the full image
    y_channel: bool  # score BT.601 luma instead of RGB
    split: str  # the split the protocol is defined on
    label: str  # prefixed to the protocol description of every result


PROTOCOLS = {
    "full": Protocol(None, False, "Test", "full (this library's default: protocol A on the full Test images)"),
    "test-crop": Protocol(624, False, "Test", "test-crop (protocol A on Test_crop, as LoLiSRFlow's lab scores it)"),
}


@dataclass
class EvalResult:
    """Per-image ``rows`` (dicts with :data:`CSV_COLUMNS`) and their ``summary`` (see :func:`summarise`)."""

    rows: list[dict]
    summary: dict

    def to_result_row(self, method: str, type: str = "") -> ResultRow:
        """This result as a measured :class:`~lolisr_lib.evaluate.published.ResultRow`, labelled with its protocol."""
        s = self.summary
        return ResultRow(
            method=method, scale=s["scale"], psnr=s["psnr"], ssim=s["ssim"],
            lpips=None if s["lpips"] == NA else s["lpips"], type=type, protocol=s["protocol"], source="measured",
        )

    def format(self) -> str:
        """A text table: the protocol, then overall and per-EV means."""
        s = self.summary
        header = f"{'EV':>6} {'n':>5} {'PSNR':>7} {'SSIM':>7} {'LPIPS':>7}"
        lines = [f"protocol: {s['protocol']} (x{s['scale']})", header]
        groups = [("all", s)] + [(f"{ev:+.1f}", g) for ev, g in s["per_ev"].items()]
        for label, g in groups:
            lp = g["lpips"] if g["lpips"] == NA else f"{g['lpips']:.4f}"
            lines.append(f"{label:>6} {g['n']:>5} {g['psnr']:>7.2f} {g['ssim']:>7.4f} {lp:>7}")
        return "\n".join(lines)


def protocol_label(split: str, n: int, *, crop: int | None, y_channel: bool, scale: int, exposures=None,
                   name: str | None = None) -> str:
    """The protocol description that labels a table row (docs/data.md, section 7), led by a named protocol's."""
    colour = "B-like: Y-channel (BT.601)" if y_channel else "A: uint8 RGB"
    region = f"centre crop {crop} LR / {scale * crop} HR" if crop else "full image"
    evs = "" if not exposures else ", EV " + ", ".join(f"{ev:+.1f}" for ev in sorted(exposures, reverse=True))
    named = f"{PROTOCOLS[name].label}: " if name else ""
    return f"{named}{colour} PSNR/SSIM (scikit-image), {region}, {n} {split} images{evs}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _group(rows: list[dict]) -> dict:
    lp = [r["lpips"] for r in rows]
    return {
        "n": len(rows),
        "psnr": _mean([r["psnr"] for r in rows]),
        "ssim": _mean([r["ssim"] for r in rows]),
        "lpips": NA if not rows or NA in lp else _mean(lp),
    }


def summarise(rows: list[dict], protocol: str, *, split: str, scale: int) -> dict:
    """Means over all rows and per EV (brightest first): ``n``, ``psnr``, ``ssim``, ``lpips`` (or "n/a")."""
    by_ev: dict[float, list[dict]] = {}
    for r in rows:
        by_ev.setdefault(r["ev"], []).append(r)
    return {
        "protocol": protocol,
        "split": split,
        "scale": scale,
        **_group(rows),
        "seconds": _mean([r["seconds"] for r in rows]),
        "per_ev": {ev: _group(by_ev[ev]) for ev in sorted(by_ev, reverse=True)},
    }


def centre_crop(lq: torch.Tensor, gt: torch.Tensor, crop: int, scale: int, where: str = "", *,
                clip: bool = False) -> tuple:
    """The centred ``crop x crop`` window of ``lq`` (..., h, w) and the matching ``scale * crop`` window of ``gt``.

    ``crop`` is in LR pixels. A ``crop`` larger than the input is an error naming ``where``, unless ``clip``:
    then each side keeps at most what the input has (a small image is scored whole).
    """
    h, w = lq.shape[-2:]
    if not clip and crop > min(h, w):
        raise UserError(f"crop={crop} is larger than the {h}x{w} input {where}; use a smaller --crop or none")
    crop_h, crop_w = min(crop, h), min(crop, w)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    lq = lq[..., top : top + crop_h, left : left + crop_w]
    gt = gt[..., scale * top : scale * (top + crop_h), scale * left : scale * (left + crop_w)]
    return lq, gt


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """The per-image rows as CSV, written atomically (a temporary file, then a rename)."""
    def write(file) -> None:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({**{k: _cell(r[k]) for k in CSV_COLUMNS}, "ev": f"{r['ev']:.1f}"})

    return atomic_write(path, write, text=True)


def _cell(value) -> str:
    return f"{value:.6f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def resolve_protocol(name: str | None, split: str, crop, y_channel: bool) -> tuple[int | None, bool]:
    """The crop and colour switches of the named protocol ``name`` (or the ones given, when ``name`` is None)."""
    if name is None:
        return crop, y_channel
    if name not in PROTOCOLS:
        raise UserError(f"protocol={name!r} is not a named protocol; choose one of {', '.join(PROTOCOLS)}")
    chosen = PROTOCOLS[name]
    if crop is not None or y_channel:
        raise UserError(f"protocol {name!r} fixes the crop ({chosen.crop or 'none'}) and the colour (RGB); drop "
                        f"crop/--crop and y_channel/--y-channel, or drop the protocol to choose them yourself")
    if split != chosen.split:
        raise UserError(f"protocol {name!r} is defined on the {chosen.split} split, not {split!r}; use --split "
                        f"{chosen.split}, or drop the protocol and use --crop for another split")
    return chosen.crop, chosen.y_channel


def _check_options(model, scale: int, crop, limit) -> None:
    if getattr(model, "scale", scale) != scale:
        raise UserError(f"the model is x{model.scale} but scale={scale} was asked; evaluate it at x{model.scale}")
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 7):
        raise UserError(f"crop={crop!r} must be an integer of at least 7 LR pixels (SSIM's window), e.g. 624")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit={limit!r} must be a positive integer (or None for the whole split)")


def evaluate(
    model_or_baseline: nn.Module | str,
    root: str | Path,
    split: str = "Test",
    scale: int = 2,
    *,
    crop: int | None = None,
    y_channel: bool = False,
    exposures=None,
    limit: int | None = None,
    device: str | torch.device = "cpu",
    lpips_weights: str | Path | None = None,
    out_csv: str | Path | None = None,
    protocol: str | None = None,
    tile: int | str | None = "auto",
) -> EvalResult:
    """Enhance every LLLR image of ``split`` at ``scale`` with ``model.enhance`` and score it (module docstring).

    ``model_or_baseline``: any model of the package (moved to ``device``, put in eval mode) or the name of a
    classical baseline. ``exposures``: EVs to keep (e.g. ``(-3, -4)``); ``limit``: the first N images only.
    ``protocol``: a name of :data:`PROTOCOLS`, which then sets ``crop`` and ``y_channel`` (leave them unset).
    ``tile``: passed to models whose ``enhance`` tiles: ``"auto"`` (tile only what would not fit in memory),
    ``None`` / ``"off"`` or a tile side in LR pixels.
    """
    from lolisr_lib.data import RellisurDataset  # deferred: the data module builds the miniature on demand

    crop, y_channel = resolve_protocol(protocol, split, crop, y_channel)
    model = make_baseline(model_or_baseline, scale) if isinstance(model_or_baseline, str) else model_or_baseline
    _check_options(model, scale, crop, limit)
    device = resolve_device(device) if isinstance(device, str) else device
    dataset = RellisurDataset(root, split, scale, exposures=exposures)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise UserError(f"{root}: split {split!r} has no images{' at these exposures' if exposures else ''}")
    model = model.to(device).eval()
    lpips_net = load_lpips(lpips_weights, device) if lpips_weights is not None else None
    if crop is not None:  # fail before the progress bar starts; every image is checked again below
        first = dataset[0]
        centre_crop(first["lq"], first["gt"], crop, scale, first["lq_path"])
    takes_tile = "tile" in inspect.signature(model.enhance).parameters
    tiling = {"tile": tile} if takes_tile else {}
    with tqdm(range(n), desc=f"evaluate {split} x{scale}", unit="img") as bar:
        rows = [_score_one(model, dataset[i], scale, crop, y_channel, device, lpips_net, tiling) for i in bar]
    label = protocol_label(split, n, crop=crop, y_channel=y_channel, scale=scale, exposures=exposures, name=protocol)
    if out_csv is not None:
        write_csv(rows, out_csv)
    return EvalResult(rows, summarise(rows, label, split=split, scale=scale))


def method_output(model, lq: torch.Tensor, *, ev=None, target=None, **options) -> torch.Tensor:
    """``model.enhance(lq)`` (``lq`` (B, 3, h, w), the output (B, 3, s*h, s*w)), given what the method reads
    beside the capture: the target (references such as the oracle gain, ``reads_target``), the exposure
    (``reads_ev``: the EV in RELLISUR's file names), or neither (``options``, e.g. tiling, go to the model)."""
    with torch.no_grad():
        if getattr(model, "reads_target", False):  # the oracle-gain reference reads the target's mean
            if target is None:
                raise UserError(f"{type(model).__name__} is a reference that reads the target: give target=...")
            return model.enhance(lq, target=target)
        if getattr(model, "reads_ev", False):  # methods that read the capture's exposure (the file name's EV)
            if ev is None:
                raise UserError(f"{type(model).__name__} reads the capture's exposure: give ev=... (e.g. -3.0)")
            return model.enhance(lq, ev=ev)
        return model.enhance(lq, **options)


def _score_one(model, item: dict, scale: int, crop, y_channel: bool, device, lpips_net, tiling: dict) -> dict:
    """Enhance one dataset item and score it: a CSV row."""
    lq, gt = item["lq"], item["gt"]  # (3, h, w), (3, s*h, s*w)
    if crop is not None:
        lq, gt = centre_crop(lq, gt, crop, scale, item["lq_path"])
    start = time.perf_counter()
    ev = None if item.get("ev") is None else float(item["ev"])
    out = method_output(model, lq[None].to(device), ev=ev, target=gt[None].to(device), **tiling)
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # kernels run asynchronously: time them to completion
    seconds = time.perf_counter() - start
    out = out[0].float().cpu()
    if out.shape != gt.shape:
        raise UserError(
            f"{type(model).__name__} returned {tuple(out.shape)} for {item['lq_path']}; the target is "
            f"{tuple(gt.shape)}: is the model made for x{scale}?"
        )
    return {
        "scene": item["scene"],
        "ev": float(item["ev"]),
        "psnr": psnr(out, gt, y_channel=y_channel),
        "ssim": ssim(out, gt, y_channel=y_channel),
        "lpips": NA if lpips_net is None else lpips_distance(lpips_net, out, gt),
        "seconds": seconds,
    }


__all__ = ["CSV_COLUMNS", "PROTOCOLS", "EvalResult", "Protocol", "evaluate", "method_output", "protocol_label",
           "resolve_protocol", "summarise", "write_csv"]
