"""Execute the notebook collection with papermill into a build folder (the README's main job).

Every notebook runs on its own fresh kernel, from the ``notebooks/`` folder (so relative paths behave as in
JupyterLab), with ``INTERACTIVE=False`` and its ``OUTPUT_DIR`` pointing into the build folder. A failing
notebook stops the run with the notebook's name and the cell's error; the executed copy is kept for reading.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lolisr_lib.errors import UserError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


@dataclass
class NotebookRun:
    name: str
    seconds: float
    output: Path


def notebook_paths(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks of the collection, in order (optionally those whose name starts with ``only``)."""
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in only)]
        if not paths:
            raise UserError(f"no notebook in {folder} starts with {', '.join(only)}")
    return paths


def run_notebook(path: Path, out_dir: Path, parameters: dict | None = None) -> NotebookRun:
    """Execute one notebook with papermill; overridden parameter names must exist in its parameters cell."""
    import papermill

    parameters = dict(parameters or {})
    declared = {p["name"] for p in papermill.inspect_notebook(str(path)).values()}
    unknown = set(parameters) - declared
    if unknown:
        raise UserError(f"{path.name} has no parameter(s) {', '.join(sorted(unknown))}; it declares {sorted(declared)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    start = time.perf_counter()
    papermill.execute_notebook(
        str(path), str(output), parameters=parameters, cwd=str(path.parent), kernel_name="python3",
        progress_bar=False,
    )
    return NotebookRun(path.name, time.perf_counter() - start, output)


def run_collection(out_dir: Path, only: list[str] | None = None, device: str = "auto") -> list[NotebookRun]:
    """Execute the collection in order into ``out_dir``; each notebook writes figures under ``out_dir/<name>``."""
    import papermill

    runs = []
    for path in notebook_paths(only=only):
        declared = {p["name"] for p in papermill.inspect_notebook(str(path)).values()}
        wanted = {"INTERACTIVE": False, "OUTPUT_DIR": str(out_dir / path.stem), "DEVICE": device,
                  # notebook 09 evaluates the model notebook 08 trained
                  "TRAINED_RUN": str(out_dir / "08_training_on_gpu")}
        params = {k: v for k, v in wanted.items() if k in declared}
        print(f"running {path.name} ...", flush=True)
        run = run_notebook(path, out_dir / "notebooks", params)
        print(f"  done in {run.seconds:.1f} s -> {run.output}", flush=True)
        runs.append(run)
    return runs
