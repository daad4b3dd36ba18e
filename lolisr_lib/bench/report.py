"""The bench's outputs: a plain-text table for the terminal, and the full result as JSON, written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lolisr_lib.runtime.files import atomic_write_text


def write_json(result: dict, path: str | Path) -> Path:
    """``result`` as indented JSON at ``path``: a temporary file in the same folder, then a rename.

    Non-finite floats become ``null`` (strict JSON has no Infinity or NaN).
    """
    return atomic_write_text(path, json.dumps(_finite(result), indent=2, allow_nan=False) + "\n")


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def format_report(result: dict) -> str:
    """The result as aligned plain-text tables (all times are medians; wall clock, CPU time in brackets)."""
    return "\n".join(_header(result) + [""] + _training_table(result) + [""] + _inference_table(result)
                     + [""] + _agreement_lines(result) + [""] + _target_lines(result))


def _header(result: dict) -> list[str]:
    env, model, opts = result["environment"], result["model"], result["options"]
    fast = result["modes"]["fast"]
    return [
        f"LoLiSRFlow bench: {model['preset']} (x{model['scale']}, {model['parameters']:,} parameters) on "
        f"{env['device']} ({env['device_name']}, threads: {env['threads']}), torch {env['torch']}, "
        f"{opts['repeats']} repetitions after {opts['warmup']} warm-up",
        f"fast mode: {fast['dtype']}, channels_last {fast['channels_last']}, 1x1 weights cached "
        f"{fast['weight_cache']}, compile {fast['compile']}",
        f"freed host memory kept for reuse, both modes: {env.get('host_memory_kept', False)}",
        f"FLOPs per HR pixel: enhance {_num(model['enhance_per_hr_pixel'] / 1e3)} k, training step "
        f"{_num(model['training_step_per_hr_pixel'] / 1e3)} k; device peak (TFLOP/s): "
        f"reference {_num(result['peak_tflops']['reference'])}, fast {_num(result['peak_tflops']['fast'])}",
    ]


def _training_table(result: dict) -> list[str]:
    t = result["training"]
    lines = [f"training: batch {t['batch_size']}, HR patch {t['patch_size']}",
             f"  {'mode':10s} {'s/step':>18s} {'steps/s':>8s} {'HR Mpix/s':>10s} {'TFLOP/s':>8s} {'% peak':>7s}"]
    for mode in ("reference", "fast"):
        m = t[mode]
        lines.append(f"  {mode:10s} {_num(m['seconds']):>8s} ({_num(m['cpu_seconds']):>6s} cpu) "
                     f"{_num(m['steps_per_s']):>8s} {_num(m['hr_mpix_per_s']):>10s} {_num(m['achieved_tflops']):>8s} "
                     f"{_num(m['percent_of_peak']):>7s}")
    lines.append(f"  speedup fast / reference: {t['speedup']:.2f}x")
    return lines


def _inference_table(result: dict) -> list[str]:
    lines = ["enhance (batch 1): seconds, seconds per output megapixel, peak memory, achieved TFLOP/s",
             f"  {'LR':>5s} {'HR':>5s} {'tile':>5s} | {'ref s':>17s} {'fast s':>17s} {'speedup':>7s} | "
             f"{'ref s/MP':>8s} {'fast s/MP':>9s} | {'ref MB':>7s} {'fast MB':>7s} | "
             f"{'ref TF/s':>8s} {'fast TF/s':>9s}"]
    for r in result["inference"]:
        ref, fast = r["reference"], r["fast"]
        tile = "-" if r["tile"] is None else f"{r['tile']}x{r['tiles']}"
        lines.append(
            f"  {r['lr_size']:>5d} {r['hr_size']:>5d} {tile:>5s} | "
            f"{_num(ref['seconds']):>7s} ({_num(ref['cpu_seconds']):>6s}c) {_num(fast['seconds']):>7s} "
            f"({_num(fast['cpu_seconds']):>6s}c) {r['speedup']:>6.2f}x | {_num(ref['seconds_per_hr_mpix']):>8s} "
            f"{_num(fast['seconds_per_hr_mpix']):>9s} | {_num(ref['peak_memory_mb'], 4):>7s} "
            f"{_num(fast['peak_memory_mb'], 4):>7s} | {_num(ref['achieved_tflops']):>8s} "
            f"{_num(fast['achieved_tflops']):>9s}")
    if result["modes"]["fast"]["compile"] == "used":
        firsts = ", ".join(f"{_num(r['fast']['first_call_seconds'])} s" for r in result["inference"])
        lines.append(f"  first fast call per row, compilation included: {firsts}")
    tiling = result.get("tiling", {})
    if tiling.get("largest_untiled_lr_side"):
        lines.append(f"  untiled enhance fits in memory up to about {tiling['largest_untiled_lr_side']} LR pixels a "
                     f"side ({_num(tiling['fast_bytes_per_hr_pixel'])} bytes per HR pixel); tile beyond that")
    return lines


def _agreement_lines(result: dict) -> list[str]:
    t = result["training"]["agreement"]
    lines = [f"agreement fast vs reference ({'PASS' if result['agreement_passed'] else 'FAIL'}):",
             f"  training loss {_num(t['reference_loss'], 6)} vs {_num(t['fast_loss'], 6)}; largest relative diff "
             f"of its parts {t['relative_diff']:.1e} ({t['criterion']}) {'ok' if t['passed'] else 'FAIL'}"]
    for r in result["inference"]:
        a = r["agreement"]
        psnr = "identical" if a["psnr_db"] is None else f"PSNR {a['psnr_db']:.1f} dB"
        tile = "" if r["tile"] is None else f" tiled {r['tile']}"
        lines.append(f"  enhance {r['lr_size']}{tile}: max |diff| {a['max_abs_diff']:.1e}, {psnr} "
                     f"({a['criterion']}) {'ok' if a['passed'] else 'FAIL'}")
    return lines


def _target_lines(result: dict) -> list[str]:
    lines = ["targets:"]
    for t in result["targets"]:
        status = {True: "MET", False: "NOT MET", None: "not measured"}[t["met"]]
        value = "" if t["measured"] is None else f" (measured {_num(t['measured'])}, needs {t['bound']})"
        lines.append(f"  [{status}] {t['target']}{value}{'; ' + t['note'] if t['note'] else ''}")
    return lines
