"""Notebooks 08 and 09 under papermill with overridden parameters: the way a reproduction runs them.

Notebook 08 trains a very small LoLiSRFlow for a few steps on a given data root (the session's miniature, standing
in for a real RELLISUR copy), interrupted and resumed; notebook 09 then scores that checkpoint with the baselines
and writes ``results_x2.md``. Both run from the notebook folder on the ``python3`` kernel, like
``python -m lolisr_lib demo``. papermill only warns about a parameter name the notebook does not declare, so every
overridden name is first checked against the parameters cell (``papermill.inspect_notebook``).
"""

from pathlib import Path

import pytest

from lolisr_lib.evaluate.published import TABLES, load_published
from lolisr_lib.train import read_log

papermill = pytest.importorskip("papermill")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STEPS = 4
# A LoLiSRFlow of one flow step per level on 16 px patches: seconds on a CPU (the data root is not the bundled
# miniature, so notebook 08 applies no CPU shortcuts of its own and takes these as they are).
SMALL = ["batch_size=2", "patch_size=16", "warmup_steps=2", "val_every=2", "val_images=2", "checkpoint_every=2",
         "num_workers=0", "flow.steps=1", "flow.hidden=8", "encoder.channels=8", "cond_channels=8",
         "encoder.stages=1"]


def _execute(name: str, out: Path, parameters: dict) -> None:
    path = NOTEBOOKS / name
    declared = {p["name"] for p in papermill.inspect_notebook(str(path)).values()}
    assert set(parameters) <= declared, f"{name} does not declare {sorted(set(parameters) - declared)}"
    papermill.execute_notebook(str(path), str(out / name), parameters=parameters, cwd=str(NOTEBOOKS),
                               kernel_name="python3", progress_bar=False)


@pytest.mark.slow
def test_training_then_tables_with_overridden_parameters(tmp_path, mini_root):
    run_dir, tables_dir = tmp_path / "run08", tmp_path / "tables09"
    _execute("08_training_on_gpu.ipynb", tmp_path, {
        "DEVICE": "cpu", "INTERACTIVE": False, "DATA_ROOT": str(mini_root), "OUTPUT_DIR": str(run_dir), "SEED": 1,
        "PRESET": "tiny-x2", "STEPS": STEPS, "INTERRUPT_AT": 2, "RESUME": False, "OVERRIDES": SMALL,
    })
    assert {"last.pt", "prev.pt", "best.pt", "log.csv", "log.jsonl", "val.csv", "config.json"} <= {
        p.name for p in run_dir.iterdir()}
    assert [r["step"] for r in read_log(run_dir)] == list(range(1, STEPS + 1))
    assert (tmp_path / "08_training_on_gpu.ipynb").is_file() and (run_dir / "training_curves.png").is_file()

    _execute("09_reproducing_the_tables.ipynb", tmp_path, {
        "DEVICE": "cpu", "INTERACTIVE": False, "DATA_ROOT": str(mini_root), "OUTPUT_DIR": str(tables_dir),
        "CHECKPOINT": str(run_dir / "last.pt"), "SCALE": 2, "SPLIT": "Test", "CROP": None, "LIMIT": 10,
        "BASELINE_CHECKPOINTS": {}, "BASELINE_STEPS": 30, "FLOW_STEPS": 0, "EXAMPLES": 3,
    })
    text = (tables_dir / "results_x2.md").read_text()
    measured = [line.split(" | ")[2] for line in text.splitlines() if line.startswith("| measured |")]
    assert measured == ["bicubic", "he-bicubic", "gain-bicubic", "sequential CNN (tiny-x2, step 30)",
                        "joint CNN (tiny-x2, step 30)", f"LoLiSRFlow (tiny-x2, step {STEPS})",
                        # EXPOSURE_ROWS: the two rows that read each capture's EV, the flow's named after it
                        "exposure-gain-bicubic", f"LoLiSRFlow (tiny-x2, step {STEPS}), brightness from the exposure"]
    reported = sum(line.startswith("| reported |") for line in text.splitlines())
    assert reported == sum(r.scale == 2 for t in TABLES for r in load_published(t))
    assert f"RELLISUR at {mini_root}" in text and "10 Test images" in text
    assert {"comparison_x2.png", "per_ev_x2.png", "examples_x2.png"} <= {p.name for p in tables_dir.iterdir()}
