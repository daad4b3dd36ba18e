"""The decoded-image cache: exact against the PNGs, resumable after an interruption, stale files refused by name,
and a dataset whose items are the same with and without it (lolisr_lib.data.cache)."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from lolisr_lib.commands.cli import main
from lolisr_lib.data import DatasetError, RellisurDataset, check_dataset
from lolisr_lib.data.cache import CACHE_ENV, build_cache, default_cache_dir, full_dataset_bytes
from lolisr_lib.data.cache import build as cache_build
from lolisr_lib.data.cache.manifest import MANIFEST, array_path, fingerprint
from lolisr_lib.data.fake import make_fake_tree
from lolisr_lib.image.color import equalize_hist
from lolisr_lib.image.io import read_png, write_png

ROOT_FILES = 2 * (5 + 2)  # two splits of one scene: 5 inputs, an x1 and an x4 target each


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A fresh fake tree of small images (Train and Test, one scene each, x1 and x4), no cache yet."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    return make_fake_tree(tmp_path, scenes=1, scales=(1, 4), splits=("Train", "Test"), lr_size=24, seed=1)


def _pngs(root):
    return sorted(path for path in root.rglob("*.png"))


def assert_exact(root, cache_dir):
    """Every PNG's array is byte-equal to the decoded PNG; every input's equalisation is of the whole input."""
    pngs = _pngs(root)
    assert len(pngs) == ROOT_FILES
    for png in pngs:
        rel = png.relative_to(root).as_posix()
        image = read_png(png)
        cached = np.load(array_path(cache_dir, rel))
        assert cached.dtype == np.uint8 and np.array_equal(cached, image), rel
        if "/LLLR/" in rel:
            assert np.array_equal(np.load(array_path(cache_dir, rel, he=True)), equalize_hist(image)), rel
    assert not list(cache_dir.rglob("*.tmp-*")), "a temporary file was left behind"


def test_build_writes_exact_arrays_and_a_manifest_of_sizes_and_fingerprints(tree):
    build = build_cache(tree, scales=(1, 4), progress=False)
    assert build.cache_dir == default_cache_dir(tree) == tree.parent / "RELLISUR-Dataset-cache"
    assert (build.images, build.written, build.problems) == (ROOT_FILES, ROOT_FILES, [])
    assert_exact(tree, build.cache_dir)
    files = json.loads((build.cache_dir / MANIFEST).read_text())["files"]
    for png in _pngs(tree):
        rel = png.relative_to(tree).as_posix()
        assert (files[rel]["size"], files[rel]["fingerprint"]) == fingerprint(png, rel)
    again = build_cache(tree, progress=False)
    assert again.written == 0 and again.array_bytes == build.array_bytes  # nothing changed: nothing redone


def test_an_interrupted_build_keeps_what_it_finished_and_resumes(tree, monkeypatch):
    real_write, calls = cache_build.atomic_write, []

    def half_then_interrupt(file):
        file.write(b"\x93NUMPY")
        raise KeyboardInterrupt

    def write_then_die(path, write):  # Ctrl-C halfway through the 6th array: the HE view of the 3rd input
        calls.append(path)
        real_write(path, write if len(calls) < 6 else half_then_interrupt)

    monkeypatch.setattr(cache_build, "atomic_write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        build_cache(tree, progress=False)
    cache_dir = default_cache_dir(tree)
    done = json.loads((cache_dir / MANIFEST).read_text())["files"]  # saved on the way out
    assert sorted(done) == ["Train/LLLR/00225-3.0.png", "Train/LLLR/00225-3.5.png"]
    assert not list(cache_dir.rglob("*.tmp-*"))
    third = "Train/LLLR/00225-4.0.png"  # its image was written, its HE view was not: not in the manifest
    assert array_path(cache_dir, third).exists() and not array_path(cache_dir, third, he=True).exists()
    monkeypatch.setattr(cache_build, "atomic_write", real_write)
    resumed = build_cache(tree, progress=False)
    assert (resumed.images, resumed.written) == (ROOT_FILES, ROOT_FILES - 2)
    assert_exact(tree, cache_dir)


def test_a_truncated_array_is_rebuilt_and_refused_until_then(tree):
    build = build_cache(tree, progress=False)
    target = array_path(build.cache_dir, "Train/NLHR/X4/00225.png")
    target.write_bytes(target.read_bytes()[:200])
    with pytest.raises(DatasetError, match="missing or unreadable.*data cache"):
        RellisurDataset(tree, "Train", 4)[0]
    assert build_cache(tree, progress=False).written == 1
    assert_exact(tree, build.cache_dir)


def test_a_changed_png_makes_the_cache_stale_and_is_refused_by_name(tree):
    build_cache(tree, progress=False)
    png = tree / "Train/LLLR/00225-4.0.png"
    image = read_png(png)
    image[3, 5] ^= 1
    write_png(png, image)
    dataset = RellisurDataset(tree, "Train", 4)
    assert dataset.cache is not None
    dataset[0]  # another input: fine
    stale = r"Train/LLLR/00225-4\.0\.png changed since it was cached.*stale.*data cache"
    with pytest.raises(DatasetError, match=stale):
        dataset[2]
    report = check_dataset(tree, deep=True)
    assert any(line.startswith("cache x4: incomplete, 1 of 12") for line in report.cache), report.cache
    assert build_cache(tree, progress=False).written == 1  # only the changed file is redone
    refreshed, plain = RellisurDataset(tree, "Train", 4), RellisurDataset(tree, "Train", 4, cache=None)
    assert torch.equal(refreshed[2]["lq"], plain[2]["lq"])


@pytest.mark.parametrize("patch_size, augment", [(None, False), (32, True)])
def test_items_are_identical_with_and_without_the_cache(tree, patch_size, augment):
    build_cache(tree, progress=False)
    cached = RellisurDataset(tree, "Train", 4, patch_size=patch_size, augment=augment, seed=7)
    plain = RellisurDataset(tree, "Train", 4, patch_size=patch_size, augment=augment, seed=7, cache=None)
    assert cached.cache is not None and plain.cache is None
    for epoch in (0, 1):
        cached.set_epoch(epoch)
        plain.set_epoch(epoch)
        for a, b in zip(cached, plain):
            for key in ("lq", "lq_he", "gt"):
                assert a[key].dtype == torch.float32 and torch.equal(a[key], b[key]), (epoch, key)
            assert (a["scene"], a["ev"], a["gt_path"]) == (b["scene"], b["ev"], b["gt_path"])


def test_a_pickled_dataset_leaves_its_memory_maps_behind(tree):
    build_cache(tree, progress=False)
    dataset = RellisurDataset(tree, "Train", 4, patch_size=32, augment=True, seed=0)
    first = [dataset[i]["gt"] for i in range(len(dataset))]  # every map opened
    payload = pickle.dumps(dataset)
    assert len(payload) < 20_000  # names and the manifest, not the images
    copy = pickle.loads(payload)
    assert all(torch.equal(copy[i]["gt"], first[i]) for i in range(len(copy)))


def test_where_the_dataset_looks_for_a_cache(tree, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    build_cache(tree, elsewhere, scales=(4,), progress=False)
    assert RellisurDataset(tree, "Train", 4).cache is None  # not at the default place: PNGs
    monkeypatch.setenv(CACHE_ENV, str(elsewhere))
    assert RellisurDataset(tree, "Train", 4).cache.cache_dir == elsewhere
    with pytest.warns(UserWarning, match="lacks 1 of the 6 images of Train x1"):
        assert RellisurDataset(tree, "Train", 1).cache is None  # x1 was not cached
    with pytest.raises(DatasetError, match="lacks 1 of the 6 images"):
        RellisurDataset(tree, "Train", 1, cache=elsewhere)
    other = make_fake_tree(tmp_path / "other", scenes=1, lr_size=24)
    with pytest.warns(UserWarning, match="is the cache of"):
        assert RellisurDataset(other, "Train", 4).cache is None
    monkeypatch.setenv(CACHE_ENV, "off")
    assert RellisurDataset(tree, "Train", 4).cache is None
    with pytest.raises(DatasetError, match="holds no cache"):
        RellisurDataset(tree, "Train", 4, cache=tmp_path / "nothing")


def test_cache_and_check_commands(tree, capsys):
    assert main(["data", "check", str(tree)]) == 1  # the fake tree has no Val split
    assert "cache: none at" in capsys.readouterr().out
    assert main(["data", "cache", str(tree), "--scales", "4"]) == 0
    assert f"cached 12 images of x4 in {default_cache_dir(tree)}" in capsys.readouterr().out
    main(["data", "check", str(tree)])
    out = capsys.readouterr().out
    assert "cache x4: complete, 12 images" in out and "cache x1: incomplete, 2 of 12" in out
    with pytest.raises(SystemExit):
        main(["data", "cache", str(tree), "--scales", "3"])
    assert "give scales among 1, 2, 4" in capsys.readouterr().err


@pytest.mark.parametrize("scales, label", [((1,), "x1"), ((2,), "x2"), ((4,), "x4"), ((1, 2, 4), "x1, x2, x4")])
def test_the_documented_disk_needs_are_the_computed_ones(scales, label):
    docs = Path(__file__).resolve().parents[1] / "docs" / "data.md"
    rows = [line for line in docs.read_text().splitlines() if line.startswith(f"| {label} |")]
    assert len(rows) == 1 and rows[0].endswith(f"| {full_dataset_bytes(scales) / 1e9:.2f} GB |"), rows
