"""The live seminar: every notebook of the collection run in JupyterLab, in a real (headless) Chromium.

For each notebook, with the defaults of its parameters cell (``INTERACTIVE = True``): open it, Run > Run All
Cells, wait for the kernel to be idle, then check what a reader sees: no cell shows an error or a traceback, every
code cell ran, every figure is an image the browser decoded. Where the notebook has widgets, one control is moved
by one step (a slider with the arrow key, a dropdown to its next option) and its figure must change, with exactly
one image in that widget's output area afterwards and no stale copy next to it. Screenshots go to
``build/browser/<notebook>.png`` (the notebook at the moved control, or at its first figure) and
``<notebook>_control.png`` (the control and its figure); the times to ``build/browser/times.json``.

Needs a Chromium (``apt-get install -y chromium``; another one with ``LOLISR_CHROMIUM=/path``) and Playwright for
Python (the ``test`` extra). Without a Chromium the module is skipped with one line (``LOLISR_CHROMIUM=/nowhere``
shows it), unless ``LOLISR_BROWSER_REQUIRED=1`` (``make browser-test``) turns that into a failure.
"""

from __future__ import annotations

import datetime
import json
import os
import time
import warnings

import pytest
from lab_driver import CHROMIUM, NOTEBOOKS, OUT, SKIP_REASON, record_time

if CHROMIUM is None:
    if os.environ.get("LOLISR_BROWSER_REQUIRED") == "1":
        raise RuntimeError(SKIP_REASON.replace("browser tests skipped", "the browser tests need one"))
    pytest.skip(SKIP_REASON, allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright); "
                                                 "browser tests skipped")

pytestmark = pytest.mark.browser

NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
BUDGET_S = 120  # per notebook, on two CPU cores (the collection's rule); over it: a warning, not a failure


def _uses_widgets(name: str) -> bool:
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    return any("ipywidgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("name", NOTEBOOK_NAMES, ids=[n.removesuffix(".ipynb") for n in NOTEBOOK_NAMES])
def test_notebook_in_jupyterlab(lab_notebook, name):
    stem = name.removesuffix(".ipynb")
    times = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "passed": False}
    start = time.monotonic()
    try:
        notebook = lab_notebook(name)
        times["open_s"] = round(time.monotonic() - start, 1)
        times["run_all_s"] = round(notebook.run_all(), 1)

        cells = notebook.cells()
        code = [c for c in cells if c.type == "code"]
        widget_cells = [c for c in code if c.widgetOutputs and c.controls]
        figure_cells = [c for c in code if c.images]
        times.update(code_cells=len(code), images=sum(len(c.images) for c in code),
                     widget_cells=[c.index for c in widget_cells])
        shown = widget_cells[0].index if widget_cells else (figure_cells[0].index if figure_cells else None)
        notebook.screenshot(OUT / f"{stem}.png", shown)

        problems = notebook.problems(cells)
        assert not problems, f"{name} in JupyterLab:\n  " + "\n  ".join(problems)
        assert figure_cells, f"{name}: no cell shows a figure"

        if _uses_widgets(name):
            assert widget_cells, f"{name} uses ipywidgets but no cell shows a control with an output area"
            cell = widget_cells[0]
            assert len(cell.widgetOutputs) == 1, f"{cell.where}: {len(cell.widgetOutputs)} widget output areas"
            outside = sum(not image["inWidget"] for image in cell.images)
            assert cell.widgetOutputs[0] == 1, (
                f"{name}, {cell.where}: before any control moves, the widget's output area should hold its one "
                f"figure; it holds {cell.widgetOutputs[0]} image(s)" + (
                    f" while the cell shows {outside} image(s) outside it (drawn after the call, in the cell's own "
                    f"output: moving a control will not replace it)" if outside else ""))
            move = notebook.move_control(cell.index)
            times["control"] = {"cell": move.cell, "moved": move.control, "redraw_s": round(move.seconds, 1)}
            notebook.screenshot(OUT / f"{stem}.png", cell.index)
            notebook.screenshot_cell_outputs(OUT / f"{stem}_control.png", cell.index)
            assert move.after != move.before, f"{name}, {cell.where}: the figure did not change after {move.control}"
            assert len(move.after) == 1, (
                f"{name}, {cell.where}: after {move.control}, the widget's output area holds {len(move.after)} "
                f"images; exactly one figure should be redrawn")
            assert move.outside_after == move.outside_before, (
                f"{name}, {cell.where}: after {move.control}, the cell shows {move.outside_after} image(s) outside the "
                f"widget (before: {move.outside_before})")
            late = notebook.problems(notebook.cells())
            assert not late, f"{name} after {move.control}:\n  " + "\n  ".join(late)
        times["passed"] = True
    finally:
        times["seconds"] = round(time.monotonic() - start, 1)
        record_time(OUT / "times.json", stem, times)
    if times["seconds"] > BUDGET_S:
        warnings.warn(f"{name} took {times['seconds']:.0f} s in JupyterLab (budget {BUDGET_S} s)", stacklevel=1)
