"""Step logs of a training run: the same rows as CSV (for spreadsheets) and JSON lines (for code).

``out_dir/log.csv`` + ``log.jsonl`` hold one row per ``log_every`` steps (loss terms averaged over those
steps, learning rate, throughput; a step whose update was skipped for a NaN/Inf gets a row of its own); ``out_dir/val.csv`` + ``val.jsonl`` one row per validation. Every row is flushed when written,
so a run killed with ``kill -9`` loses nothing written before its last checkpoint. When a run resumes from the
checkpoint of step ``n``, rows after ``n`` (written by the killed run after that checkpoint) are dropped, so
the resumed run appends without duplicating steps. :func:`read_log` gives the rows back for plotting.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lolisr_lib.runtime.files import atomic_write_text


def read_log(out_dir: str | Path, name: str = "log") -> list[dict]:
    """The rows of ``out_dir/{name}.jsonl`` (``"log"`` or ``"val"``) as dicts, oldest first.

    A last line cut short by a killed process is ignored; a missing file gives an empty list.
    """
    path = Path(out_dir) / f"{name}.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class StepLog:
    """Appends rows to ``out_dir/{name}.csv`` and ``out_dir/{name}.jsonl``.

    ``keep_until``: resume point; existing rows with a larger ``step`` are removed (both files are rewritten
    atomically from the JSON lines, so a kill during the rewrite leaves the old files). ``None`` starts both
    files afresh.
    """

    def __init__(self, out_dir: str | Path, name: str, keep_until: int | None = None):
        self.csv_path = Path(out_dir) / f"{name}.csv"
        self.jsonl_path = Path(out_dir) / f"{name}.jsonl"
        kept = [] if keep_until is None else [r for r in read_log(out_dir, name) if r["step"] <= keep_until]
        self._columns = list(kept[0]) if kept else None
        csv_text = _csv_line(self._columns) if kept else ""
        csv_text += "".join(_csv_line([r.get(c, "") for c in self._columns]) for r in kept)
        atomic_write_text(self.csv_path, csv_text)
        atomic_write_text(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in kept))

    def write(self, row: dict) -> None:
        """Append one row of numbers and strings (tensors become numbers); NaN is written as ``nan``/``NaN``."""
        row = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
        if self._columns is None:
            self._columns = list(row)
            _append(self.csv_path, _csv_line(self._columns))
        _append(self.csv_path, _csv_line([row.get(c, "") for c in self._columns]))
        _append(self.jsonl_path, json.dumps(row) + "\n")


def _append(path: Path, text: str) -> None:
    with open(path, "a", newline="") as f:
        f.write(text)  # closing flushes to the operating system: a later kill -9 cannot lose the row


def _csv_line(values: list) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()
