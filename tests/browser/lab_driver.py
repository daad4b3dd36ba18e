"""Driving one notebook in JupyterLab with Playwright: open, Run All Cells, read the cells, move a widget control.

The notebook is run through JupyterLab's own UI (menu Run > Run All Cells); completion is read from the cells'
prompts (``[*]`` while queued or running) and from the kernel's state on the server. What a cell shows is read from
both the notebook model (``window.jupyterapp``, exposed by ``--LabApp.expose_app_in_browser``: output types,
error names, execution counts) and the DOM (the images as the browser decoded them, and the outputs of widget
``Output`` areas, which are not part of the notebook model).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "build" / "browser"  # screenshots and times.json
CHROMIUM_ENV = "LOLISR_CHROMIUM"  # a Chromium (or Chrome) executable to use instead of the ones searched for
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium", "chromium-browser",
                       "google-chrome-stable", "google-chrome")
SKIP_REASON = "no Chromium found (apt-get install -y chromium); browser tests skipped"


def find_chromium() -> str | None:
    """The Chromium to drive: $LOLISR_CHROMIUM when set (only it), else the first of CHROMIUM_CANDIDATES found."""
    wanted = os.environ.get(CHROMIUM_ENV)
    for name in [wanted] if wanted else CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path and os.access(path, os.X_OK):
            return path
    return None


CHROMIUM = find_chromium()
VIEWPORT = {"width": 1400, "height": 1100}
RUN_TIMEOUT_S = float(os.environ.get("LOLISR_BROWSER_TIMEOUT", "600"))  # Run All of one notebook, a hang guard
CONTROL_TIMEOUT_S = 120.0  # one redraw after a control moves
POLL_S = 0.5

# The notebook panel of `path`, through the application object JupyterLab exposes.
_PANEL_JS = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  return Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path) || null;
}
"""

_STATE_JS = """
(path) => {
  const find = %s;
  const panel = find(path);
  if (!panel) return {ready: false};
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const prompts = panel.content.widgets.filter(c => c.model.type === 'code')
      .map(c => { const p = c.node.querySelector('.jp-InputPrompt'); return p ? p.textContent.trim() : ''; });
  return {ready: panel.context.isReady && !!kernel, kernel: kernel ? kernel.status : null,
          kernelId: kernel ? kernel.id : null, prompts: prompts};
}
""" % _PANEL_JS.strip()

# Everything the checks need about each cell.
_CELLS_JS = """
(path) => {
  const find = %s;
  const panel = find(path);
  const isTraceback = t => /Traceback \\(most recent call last\\)|Error displaying widget|Error rendering/.test(t);
  return panel.content.widgets.map((cell, index) => {
    const model = cell.model;
    const source = model.sharedModel.getSource();
    const info = {index, type: model.type, head: source.split('\\n').find(l => l.trim()) || '', count: null,
                  prompt: '', errors: [], modelImages: 0, figureTexts: 0, images: [], widgetOutputs: [],
                  controls: 0, domTracebacks: []};
    if (model.type !== 'code') return info;
    info.count = model.executionCount;
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    info.prompt = prompt ? prompt.textContent.trim() : '';
    for (let i = 0; i < model.outputs.length; i++) {
      const out = model.outputs.get(i).toJSON();
      if (out.output_type === 'error') info.errors.push(`${out.ename}: ${out.evalue}`);
      const data = out.data || {};
      if (data['image/png'] || data['image/jpeg'] || data['image/svg+xml']) info.modelImages += 1;
      const text = [].concat(data['text/plain'] || []).join('');
      if (!data['image/png'] && /^<Figure size [0-9.]+x[0-9.]+ with/.test(text)) info.figureTexts += 1;
    }
    const area = cell.node.querySelector('.jp-Cell-outputArea');
    if (area) {
      info.images = Array.from(area.querySelectorAll('img')).map(img => ({
        ok: img.complete && img.naturalWidth > 0, w: img.naturalWidth, h: img.naturalHeight,
        inWidget: !!img.closest('.widget-output')}));
      info.widgetOutputs = Array.from(area.querySelectorAll('.widget-output')).map(
        w => w.querySelectorAll('img').length);
      info.controls = area.querySelectorAll('.noUi-handle, .widget-dropdown select, .widget-select select').length;
      info.domTracebacks = Array.from(area.querySelectorAll('.jp-OutputArea-output'))
        .map(o => o.textContent).filter(isTraceback).map(t => t.trim().split('\\n').slice(-1)[0].slice(0, 300));
    }
    return info;
  });
}
""" % _PANEL_JS.strip()


@dataclass
class Cell:
    """One cell as the browser shows it (``index`` counts every cell from 0, as nbformat does)."""

    index: int
    type: str
    head: str
    count: int | None
    prompt: str
    errors: list[str]
    modelImages: int
    figureTexts: int
    images: list[dict]
    widgetOutputs: list[int]
    controls: int
    domTracebacks: list[str]

    @property
    def where(self) -> str:
        return f"cell {self.index} ({self.head.strip()[:70]!r})"


@dataclass
class ControlMove:
    cell: int
    control: str  # what was moved, e.g. "slider 'EV' 3 -> 4" or "dropdown 'scene' 00057 -> 00058"
    seconds: float
    before: list[str] = field(default_factory=list)  # image sources in the widget's Output area
    after: list[str] = field(default_factory=list)
    outside_before: int = 0  # images of the cell outside the widget's Output area
    outside_after: int = 0


class LabNotebook:
    """One notebook opened in its own browser context; ``close`` shuts its kernel down."""

    def __init__(self, lab, browser, source: Path):
        self.lab, self.browser, self.source = lab, browser, source
        self.name = source.name
        self.path = f"notebooks/{self.name}"  # inside the server's root
        self.context = self.page = None
        self.kernel_id: str | None = None
        self.page_errors: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def open(self, timeout_s: float = 180) -> None:
        shutil.copy2(self.source, self.lab.root / self.path)  # a fresh copy: JupyterLab never sees the repository
        self.context = self.browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        # a workspace of its own: nothing opened by an earlier test is restored next to this notebook
        self.page.goto(f"{self.lab.url}/lab/workspaces/t{uuid.uuid4().hex[:12]}/tree/{self.path}"
                       f"?token={self.lab.token}", wait_until="domcontentloaded", timeout=timeout_s * 1000)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.state()
            if state.get("kernelId"):
                self.kernel_id = state["kernelId"]
            if state.get("ready") and state.get("kernel") == "idle":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: the kernel did not become idle within {timeout_s:.0f} s of "
                                     f"opening (state {state})")
            time.sleep(POLL_S)
        self.lab.remember_children()

    def close(self) -> None:
        """Close the page and shut the notebook's kernel down (its session deleted); never raises."""
        try:
            if self.context is not None:
                self.context.close()
        except Exception:
            pass
        try:
            sessions = self.lab.api("GET", "/api/sessions")
            for session in sessions:
                if session.get("path") == self.path or (session.get("kernel") or {}).get("id") == self.kernel_id:
                    self.lab.api("DELETE", f"/api/sessions/{session['id']}")
            if self.kernel_id and self.lab.kernel_state(self.kernel_id) != "gone":
                self.lab.api("DELETE", f"/api/kernels/{self.kernel_id}")
        except Exception:
            pass

    # -- reading -------------------------------------------------------------------------------------------------
    def state(self) -> dict:
        return self.page.evaluate(_STATE_JS, self.path)

    def cells(self) -> list[Cell]:
        return [Cell(**c) for c in self.page.evaluate(_CELLS_JS, self.path)]

    def cell_node(self, index: int):
        return self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)

    def _kernel_idle(self) -> bool:
        """Idle both in the browser and on the server (the server sees comm-triggered work too)."""
        state = self.state()
        return state.get("kernel") == "idle" and (
            self.kernel_id is None or self.lab.kernel_state(self.kernel_id) == "idle")

    # -- running -------------------------------------------------------------------------------------------------
    def run_all(self, timeout_s: float = RUN_TIMEOUT_S) -> float:
        """Run > Run All Cells from the menu bar, then wait until no cell is queued or running and the kernel is
        idle; returns the seconds it took. A timeout names the cell still running."""
        self.page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu .lm-Menu-item", has=self.page.locator(
            ".lm-Menu-itemLabel", has_text="Run All Cells")).first.click()
        start = time.monotonic()
        settled = 0
        while True:
            time.sleep(POLL_S)
            state = self.state()
            prompts = state.get("prompts", [])
            busy = any("*" in p for p in prompts)
            started = any(p not in ("", "[ ]:") for p in prompts)
            settled = settled + 1 if (started and not busy and self._kernel_idle()) else 0
            if settled >= 3:  # three polls in a row: not a gap between two cells
                return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                running = next((c for c in self.cells() if c.type == "code" and "*" in c.prompt), None)
                where = running.where if running else "no cell marked [*]"
                raise AssertionError(f"{self.name}: Run All did not finish within {timeout_s:.0f} s; still running: "
                                     f"{where}; kernel {state.get('kernel')}")

    def problems(self, cells: list[Cell]) -> list[str]:
        """Every way a cell fails what a reader should see: an error, a cell not run, a figure not drawn."""
        found = []
        for c in cells:
            if c.type != "code":
                continue
            for err in c.errors:
                found.append(f"{c.where}: {err}")
            for tb in c.domTracebacks:
                if not any(tb.endswith(e) or e in tb for e in c.errors):
                    found.append(f"{c.where}: shows a traceback: {tb}")
            if c.count is None:
                found.append(f"{c.where}: did not run (prompt {c.prompt or '[ ]:'})")
            bad = [i for i, img in enumerate(c.images) if not img["ok"]]
            if bad:
                found.append(f"{c.where}: {len(bad)} of {len(c.images)} images did not load")
            if c.figureTexts:
                found.append(f"{c.where}: {c.figureTexts} figure(s) shown as text ('<Figure size ...>'), not an image")
            outside = sum(not img["inWidget"] for img in c.images)
            if outside != c.modelImages:
                found.append(f"{c.where}: the notebook model holds {c.modelImages} image output(s), "
                             f"the page shows {outside}")
        if self.page_errors:
            found.append(f"JavaScript errors on the page: {self.page_errors[:3]}")
        return found

    def _widget_images(self, index: int) -> tuple[list[str], int]:
        """Sources of the images in the (single) widget Output area of cell ``index``, and the count outside it."""
        return self.cell_node(index).evaluate("""(cell) => {
            const area = cell.querySelector('.jp-Cell-outputArea');
            const out = area.querySelector('.widget-output');
            const inside = out ? Array.from(out.querySelectorAll('img')).map(i => i.src) : [];
            const outside = Array.from(area.querySelectorAll('img')).filter(i => !i.closest('.widget-output'));
            return [inside, outside.length];
        }""")

    def move_control(self, index: int, timeout_s: float = CONTROL_TIMEOUT_S) -> ControlMove:
        """Move the first control of cell ``index`` by one step (a slider by the arrow key, a dropdown to its next
        option) and wait until its Output area shows a new image and the kernel is idle again."""
        cell = self.cell_node(index)
        before, outside_before = self._widget_images(index)
        handle = cell.locator(".noUi-handle").first
        select = cell.locator(".widget-dropdown select, .widget-select select").first
        if handle.count():
            handle.scroll_into_view_if_needed()
            describe = ("h => { const s = h.closest('.widget-slider, .jupyter-widget-slider');"
                        " const q = sel => ((s && s.querySelector(sel)) || {}).textContent || '';"
                        " return [q('.widget-label').trim(), q('.widget-readout').trim() || h.ariaValueText]; }")
            label, old_text = handle.evaluate(describe)
            now, top = float(handle.get_attribute("aria-valuenow")), float(handle.get_attribute("aria-valuemax"))
            key = "ArrowRight" if now < top else "ArrowLeft"
            handle.focus()
            handle.press(key)
            what = f"slider {label!r} {old_text} ({key})"

            def settled_value() -> str:
                return f"slider {label!r} {old_text} -> {handle.evaluate(describe)[1]} ({key})"
        elif select.count():
            select.scroll_into_view_if_needed()
            options = select.locator("option").all_inner_texts()
            old = select.evaluate("s => s.selectedIndex")
            new = (old + 1) % len(options)
            label = select.evaluate("s => (s.closest('.widget-dropdown, .widget-select')"
                                    "?.querySelector('.widget-label')?.textContent || '').trim()")
            select.select_option(index=new)
            what = f"dropdown {label!r} {options[old]} -> {options[new]}"

            def settled_value() -> str:
                return what
        else:
            raise AssertionError(f"{self.name}: cell {index} shows no slider or dropdown to move")
        start = time.monotonic()
        settled = 0
        while True:
            time.sleep(POLL_S)
            after, outside_after = self._widget_images(index)
            changed = bool(after) and after != before
            settled = settled + 1 if (changed and self._kernel_idle()) else 0
            if settled >= 3:
                break
            if time.monotonic() - start > timeout_s:
                raise AssertionError(f"{self.name}: cell {index}: after moving the {what}, its output did not show a "
                                     f"new figure within {timeout_s:.0f} s ({len(after)} image(s) there, "
                                     f"{'changed' if changed else 'unchanged'})")
        seconds = time.monotonic() - start
        time.sleep(1.0)  # a second figure arriving late would show up now
        after, outside_after = self._widget_images(index)
        return ControlMove(index, settled_value(), seconds, before, after, outside_before, outside_after)

    # -- pictures ------------------------------------------------------------------------------------------------
    def screenshot(self, path: Path, index: int | None = None) -> Path:
        """The notebook as shown in the browser window, scrolled to cell ``index`` (its top) when given."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if index is not None:
            self.cell_node(index).evaluate("c => c.scrollIntoView({block: 'start'})")
            time.sleep(0.5)
        self.page.screenshot(path=str(path))
        return path

    def screenshot_cell_outputs(self, path: Path, index: int) -> Path:
        """Only the output area of cell ``index`` (the controls and the figure they drive)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        area = self.cell_node(index).locator(".jp-Cell-outputArea").first
        box = area.bounding_box() or {"height": 0}
        tall = int(box["height"]) + 300 > VIEWPORT["height"]  # the notebook scrolls inside the page: make room
        if tall:
            self.page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(box["height"]) + 300, 6000)})
            time.sleep(0.5)
        try:
            area.evaluate("a => a.scrollIntoView({block: 'center'})")
            time.sleep(0.3)
            area.screenshot(path=str(path))
        finally:
            if tall:
                self.page.set_viewport_size(VIEWPORT)
        return path


def record_time(path: Path, name: str, entry: dict) -> None:
    """Merge ``entry`` into the JSON object at ``path`` under ``name`` (a lock: xdist workers may share it)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text()) if path.exists() else {}
        except json.JSONDecodeError:
            data = {}
        data[name] = entry
        path.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
