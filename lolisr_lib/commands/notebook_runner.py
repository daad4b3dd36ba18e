"""Execute the notebook collection with papermill into a build folder (the README's main job).

Every notebook runs on its own fresh kernel, from the ``notebooks/`` folder (so relative paths behave as in
JupyterLab), with the defaults of its parameters cell (``INTERACTIVE = True`` included) and its ``OUTPUT_DIR``
pointing into the build folder. A failing notebook stops the run with the notebook's name and the cell's error;
the executed copy is kept for reading.

The notebooks run under papermill's nbclient engine with one change (``ENGINE``). nbclient stands in for the
frontend of ``ipywidgets.Output``: it keeps what the widget captures in the saved widget state and also sends it
back to the kernel as a ``comm_msg`` on the shell socket, while it is still awaiting the cell's ``execute_reply`` on
that same socket (``jupyter_client``'s async ``get_msg`` awaits ``socket.poll``). That send can drain the socket's
edge-triggered ZMQ notification, so a reply arriving meanwhile is never seen: the reply sits unread on the socket,
the kernel is idle, and papermill (no timeout) waits forever. A large figure drawn by
``ipywidgets.interactive_output`` makes it likely: notebook 07 at x4 (a 0.6 MB PNG) hung about one run in two,
which is why the demo used to pass ``INTERACTIVE=False``. Here the stand-in keeps the captured outputs in the
widget state as before but sends nothing back (nothing in a batch run reads them in the kernel), so the client
never sends during a cell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lolisr_lib.errors import UserError

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ENGINE = "lolisr-nbclient"  # papermill's nbclient engine, its Output-widget stand-in silent (see above)


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


def register_engine() -> str:
    """Register ``ENGINE`` with papermill (again: harmless); returns its name."""
    from nbclient.output_widget import OutputWidget
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import remove_args

    class QuietOutputWidget(OutputWidget):
        def sync_state(self) -> None:  # keep the outputs in the saved widget state; send nothing to the kernel
            pass

    class Client(PapermillNotebookClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.widget_registry = {"@jupyter-widgets/output": {"OutputModel": QuietOutputWidget}}

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            timeout = execution_timeout or kwargs.get("timeout")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            return Client(nb_man, timeout=timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
                          log=logger, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                          **kwargs).execute()

    papermill_engines.register(ENGINE, Engine)
    return ENGINE


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
        progress_bar=False, engine_name=register_engine(),
    )
    return NotebookRun(path.name, time.perf_counter() - start, output)


def parameter_value(text: str):
    """A command-line parameter value as papermill's ``-p`` reads it: an int, a float, True, False or None when
    the text spells one, otherwise the text itself (``"paper-x4"``, ``"/data/RELLISUR-Dataset"``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def run_collection(out_dir: Path, only: list[str] | None = None, device: str = "auto",
                   parameters: dict | None = None) -> list[NotebookRun]:
    """Execute the collection in order into ``out_dir``; each notebook writes figures under ``out_dir/<name>``.

    ``parameters`` (e.g. ``{"PRESET": "paper-x4"}``) override the parameters cell of every notebook run; each
    must be declared by every selected notebook, checked before any of them runs."""
    import papermill

    paths, parameters = notebook_paths(only=only), dict(parameters or {})
    declared = {path: {p["name"] for p in papermill.inspect_notebook(str(path)).values()} for path in paths}
    for name in parameters:
        lacking = [path.name for path in paths if name not in declared[path]]
        if lacking:
            raise UserError(f"parameter {name!r} is not in the parameters cell of {', '.join(lacking)}; "
                            f"choose the notebooks that declare it with --only (e.g. --only 08)")
    runs = []
    for path in paths:
        wanted = {"OUTPUT_DIR": str(out_dir / path.stem), "DEVICE": device,
                  # notebook 09 evaluates the model notebook 08 trained
                  "TRAINED_RUN": str(out_dir / "08_training_on_gpu")}
        params = {k: v for k, v in wanted.items() if k in declared[path]} | parameters
        print(f"running {path.name} ...", flush=True)
        run = run_notebook(path, out_dir / "notebooks", params)
        print(f"  done in {run.seconds:.1f} s -> {run.output}", flush=True)
        runs.append(run)
    return runs
