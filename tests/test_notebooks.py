"""Structure of the committed notebooks: cleared outputs, a parameters cell, a header, no library code.

Executing them is nbval's job (``pytest --nbval-lax notebooks/``); these checks keep the sources diffable and
the conventions of ``docs/NOTEBOOK_AUTHORING.md`` honest.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09"]


def _load(path):
    return json.loads(path.read_text())


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_the_collection_is_numbered_without_gaps():
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == EXPECTED[: len(numbers)] and len(numbers) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_or_widget_state(path):
    nb = _load(path)
    with_outputs = [i for i, c in enumerate(_code_cells(nb)) if c.get("outputs") or c.get("execution_count")]
    assert not with_outputs, f"{path.name}: code cells {with_outputs} have outputs; clear them before committing"
    assert "widgets" not in nb["metadata"], f"{path.name} stores widget state"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_with_the_standard_names(path):
    cells = [c for c in _code_cells(_load(path)) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{path.name} needs exactly one code cell tagged 'parameters'"
    names = set(re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=", _source(cells[0]), flags=re.M))
    assert {"DEVICE", "INTERACTIVE", "DATA_ROOT", "OUTPUT_DIR"} <= names, f"{path.name}: parameters {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_header_objectives_exercises_and_reading(path):
    nb = _load(path)
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    first = _source(nb["cells"][0])
    assert first.startswith("# "), f"{path.name} must open with a title"
    for needle in ("Learning objectives", "Exercises", "<details>", "Further reading"):
        assert needle in markdown, f"{path.name} lacks {needle!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_the_library_instead_of_defining_code(path):
    for cell in _code_cells(_load(path)):
        src = _source(cell)
        assert not re.search(r"^\s*(def|class)\s", src, flags=re.M), (
            f"{path.name} defines a function or class; move it to lolisr_lib and import it:\n{src[:200]}"
        )
    imports = "\n".join(_source(c) for c in _code_cells(_load(path)))
    assert "lolisr_lib" in imports


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_a_check_cell(path):
    sources = [_source(c) for c in _code_cells(_load(path))]
    assert any(re.search(r"^\s*assert\s", s, flags=re.M) for s in sources), f"{path.name} has no check cell"
