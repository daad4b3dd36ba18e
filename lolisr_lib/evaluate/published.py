"""Published RELLISUR results as data, and our measured rows rendered beside them.

The numbers live in ``data/published/*.csv`` (one file per paper table, with the source and the evaluation
protocol on every row), so a reader can check them against the papers without reading code. Rows we measure
ourselves are labelled ``measured``; rows copied from papers ``reported``. Protocols differ between papers
(see ``docs/data.md``): every rendered row names its protocol so that no one compares across them silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from pathlib import Path

from lolisr_lib.errors import UserError

PUBLISHED_DIR = Path(__file__).resolve().parents[2] / "data" / "published"
TABLES = {
    "rellisur": "rellisur_table7.csv",
    "lolisrflow": "lolisrflow_table.csv",
    "ultrais": "ultrais_table2.csv",
}


@dataclass(frozen=True)
class ResultRow:
    """One method at one scale: PSNR (dB), SSIM, LPIPS (None when not measured or not reported)."""

    method: str
    scale: int
    psnr: float
    ssim: float
    lpips: float | None = None
    type: str = ""  # "sequential", "joint", "classical", ...
    protocol: str = ""  # see docs/data.md, e.g. "A (all 425 Test, full image)"
    source: str = "measured"  # "measured" for our rows, else the paper and table


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def load_published(table: str) -> list[ResultRow]:
    """Rows of one published table: ``"rellisur"`` (Table 7), ``"lolisrflow"`` or ``"ultrais"`` (Table II)."""
    if table not in TABLES:
        raise UserError(f"unknown published table {table!r}; choose one of {sorted(TABLES)}")
    path = PUBLISHED_DIR / TABLES[table]
    if not path.is_file():
        raise UserError(f"{path} is missing; it ships with the repository (git checkout data/published)")
    with path.open(newline="") as f:
        return [
            ResultRow(
                method=r["method"],
                scale=int(r["scale"]),
                psnr=float(r["psnr"]),
                ssim=float(r["ssim"]),
                lpips=_optional_float(r["lpips"]),
                type=r["type"],
                protocol=r["protocol"],
                source=r["source"],
            )
            for r in csv.DictReader(f)
        ]


def comparison_rows(measured: list[ResultRow], scale: int, tables=tuple(TABLES)) -> list[dict]:
    """Measured rows first, then every published row at ``scale``, each labelled measured or reported."""
    rows = []
    for row in [r for r in measured if r.scale == scale] + [
        r for t in tables for r in load_published(t) if r.scale == scale
    ]:
        record = {f.name: getattr(row, f.name) for f in fields(row)}
        record["kind"] = "measured" if row.source == "measured" else "reported"
        rows.append(record)
    return rows


def render_markdown(rows: list[dict]) -> str:
    """A Markdown table of :func:`comparison_rows` output (LPIPS "n/a" when absent)."""
    header = "| kind | type | method | PSNR | SSIM | LPIPS | protocol | source |"
    lines = [header, "|" + " --- |" * 8]
    for r in rows:
        lpips = "n/a" if r["lpips"] is None else f"{r['lpips']:.3f}"
        lines.append(
            f"| {r['kind']} | {r['type']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {lpips} "
            f"| {r['protocol']} | {r['source']} |"
        )
    return "\n".join(lines)
