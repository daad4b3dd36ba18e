"""``demo -p NAME VALUE``: papermill's parameters through the project's runner (its hang-free engine)."""

import pytest

pytest.importorskip("papermill")

from lolisr_lib.commands import notebook_runner  # noqa: E402
from lolisr_lib.commands.notebook_runner import parameter_value, run_collection  # noqa: E402
from lolisr_lib.errors import UserError  # noqa: E402


@pytest.mark.parametrize("text, value", [("100000", 100000), ("0.5", 0.5), ("True", True), ("None", None),
                                         ("paper-x4", "paper-x4"), ("/data/RELLISUR-Dataset", "/data/RELLISUR-Dataset")])
def test_parameter_values_are_read_as_papermill_reads_them(text, value):
    assert parameter_value(text) == value and type(parameter_value(text)) is type(value)


def _record_runs(monkeypatch):
    calls = []

    def fake_run(path, out_dir, parameters=None):
        calls.append((path.name, parameters))
        return notebook_runner.NotebookRun(path.name, 0.0, out_dir / path.name)

    monkeypatch.setattr(notebook_runner, "run_notebook", fake_run)
    return calls


def test_given_parameters_reach_every_selected_notebook_over_the_defaults(tmp_path, monkeypatch):
    calls = _record_runs(monkeypatch)
    run_collection(tmp_path, only=["08"], device="cpu", parameters={"STEPS": 7, "DEVICE": "cuda"})
    [(name, params)] = calls
    assert name.startswith("08_") and params["STEPS"] == 7 and params["DEVICE"] == "cuda"
    assert params["OUTPUT_DIR"] == str(tmp_path / "08_training_on_gpu")


def test_a_parameter_that_a_selected_notebook_lacks_stops_before_any_notebook_runs(tmp_path, monkeypatch):
    calls = _record_runs(monkeypatch)
    with pytest.raises(UserError, match=r"'STEPS' is not in the parameters cell of 00_.*--only"):
        run_collection(tmp_path, only=["00", "08"], parameters={"STEPS": 7})
    assert calls == []
