"""The demo's papermill engine runs a notebook whose slider draws a large figure, INTERACTIVE as in JupyterLab.

With nbclient's own stand-in for ``ipywidgets.Output``, such a cell hung about one run in two (the execute_reply
left unread on the shell socket while the stand-in sent the 1 MB figure back to the kernel; ``lolisr_lib.commands.notebook_runner``).
"""

import json

import pytest

papermill = pytest.importorskip("papermill")
nbformat = pytest.importorskip("nbformat")

from lolisr_lib.commands.notebook_runner import register_engine  # noqa: E402

RENDER = """\
import ipywidgets
import matplotlib.pyplot as plt
import numpy as np


def render(index):
    rng = np.random.default_rng(index)  # noise: an incompressible PNG of about 1.3 MB
    fig, axes = plt.subplots(1, 4, figsize=(20, 5), dpi=80)
    for ax in axes:
        ax.imshow(rng.random((400, 400, 3)))
    return fig
"""
WIDGET = """\
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot([0, 1])
plt.show()
slider = ipywidgets.IntSlider(value=1, min=0, max=3)
display(slider, ipywidgets.interactive_output(render, {"index": slider}))
"""


@pytest.mark.slow
def test_a_large_slider_figure_does_not_hang_and_stays_in_the_widget_state(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as under `make demo` (not Agg)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(RENDER), nbformat.v4.new_code_cell(WIDGET)]
    source = tmp_path / "slider.ipynb"
    nbformat.write(notebook, source)
    for run in range(3):  # the old engine hung in about half of the runs
        out = tmp_path / f"run{run}.ipynb"
        papermill.execute_notebook(str(source), str(out), kernel_name="python3", progress_bar=False,
                                   engine_name=register_engine(), execution_timeout=120)
        result = json.loads(out.read_text())
        cell = result["cells"][1]
        kinds = [sorted(o.get("data", {})) for o in cell["outputs"]]
        # the cell keeps its own static figure; the slider's figure is in the Output widget's saved state
        assert kinds[0] == ["image/png", "text/plain"] and len(kinds) == 3, kinds
        state = result["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        captured = [m["state"]["outputs"] for m in state.values() if m["model_name"] == "OutputModel"]
        assert [[sorted(o["data"]) for o in outs] for outs in captured] == [[["image/png", "text/plain"]]]
