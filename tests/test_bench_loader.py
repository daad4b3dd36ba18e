"""bench --loader: cold and warm throughput of the training loader on a small fake tree; no timing assertions."""

import json

import pytest

from lolisr_lib.commands.cli import main
from lolisr_lib.data.cache import CACHE_ENV, build_cache
from lolisr_lib.data.fake import make_fake_tree


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    return make_fake_tree(tmp_path, scenes=2, scales=(4,), lr_size=32)  # 10 Train items


@pytest.mark.parametrize("workers", [0, 1])
def test_loader_bench_writes_cold_and_warm_crops_per_second(fake, tmp_path, capsys, workers):
    build_cache(fake, scales=(4,), progress=False)
    out = tmp_path / "loader.json"
    status = main(["bench", "--loader", "--preset", "tiny-x4", "--data", str(fake), "--workers", str(workers),
                   "--batches", "3", "--cold-batches", "2", "--json", str(out)])
    assert status == 0
    result = json.loads(out.read_text())
    assert result["schema"] == "lolisr-bench-loader-v1"
    assert {"crops_per_s", "cold_crops_per_s", "batches_per_s", "cold_batches_per_s"} <= set(result)
    assert [k for k in result if "crops_per_s" in k and "cold" not in k] == ["crops_per_s"]  # the warm one
    assert result["crops_per_s"] > 0 and result["cold_crops_per_s"] > 0
    assert result["crops_per_s"] == pytest.approx(result["batches_per_s"] * 8)  # tiny-x4: batch 8
    shape = (result["workers"], result["patch_size"], result["augment"], result["train_items"])
    assert shape == (workers, 64, True, 10)
    assert result["timed_batches"] == max(3, 2 * workers) and result["pin_memory"] is False
    assert result["target"] == {"preset": "paper-x4", "crops_per_s": 200.0, "met": None}  # not paper-x4
    assert "warm" in capsys.readouterr().out


def test_loader_bench_without_a_cache_says_how_to_build_one(fake, tmp_path, capsys):
    status = main(["bench", "--loader", "--preset", "tiny-x4", "--data", str(fake), "--json", str(tmp_path / "x")])
    assert status == 2
    assert "data cache" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["bench", "--loader", "--preset", "tiny-x4"]) == 2  # no --data
