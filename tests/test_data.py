"""RellisurDataset and the miniature: layout, items, crops, reproducibility, determinism of the build."""

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lolisr_lib.data import DatasetError, RellisurDataset, default_root, make_mini_rellisur, mini
from lolisr_lib.data.layout import parse_lllr_name
from lolisr_lib.image.io import read_png, write_png

LLLR_PER_SPLIT = {"Train": 90, "Val": 20, "Test": 40}  # 18, 4 and 8 scenes, 5 exposures each


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _nn_tree(tmp_path: Path, scale: int, lr_shape=(12, 10)) -> Path:
    """A one-scene dataset whose target is the nearest-neighbour upsample of its random input."""
    root = tmp_path / "RELLISUR-Dataset"
    lr = np.random.default_rng(scale).integers(0, 256, (*lr_shape, 3), dtype=np.uint8)
    for sub in ("LLLR", f"NLHR/X{scale}"):
        (root / "Train" / sub).mkdir(parents=True)
    write_png(root / "Train/LLLR/00001-3.0.png", lr)
    write_png(root / f"Train/NLHR/X{scale}/00001.png", lr.repeat(scale, 0).repeat(scale, 1))
    return root


# ---------------------------------------------------------------------------------------------- the miniature

def test_mini_has_the_real_layout_and_counts(mini_root):
    assert mini_root.name == "RELLISUR-Dataset"
    assert sorted(p.name for p in mini_root.iterdir() if not p.name.startswith(".")) == [
        "README.txt", "Test", "Train", "Val"]
    for split, count in LLLR_PER_SPLIT.items():
        assert sorted(p.name for p in (mini_root / split).iterdir()) == ["LLLR", "NLHR"]
        assert sorted(p.name for p in (mini_root / split / "NLHR").iterdir()) == ["X1", "X2", "X4"]
        names = [p.name for p in (mini_root / split / "LLLR").iterdir()]
        assert len(names) == count and all(parse_lllr_name(n) for n in names)
        for scale in (1, 2, 4):
            targets = list((mini_root / split / f"NLHR/X{scale}").iterdir())
            assert len(targets) == count // 5
            assert read_png(targets[0]).shape == (16 * scale, 16 * scale, 3)
    assert read_png(next((mini_root / "Test/LLLR").iterdir())).shape == (16, 16, 3)


def test_mini_scenes_have_five_exposures_in_the_real_windows(mini_root):
    windows = set()
    for split in LLLR_PER_SPLIT:
        per_scene = {}
        for path in (mini_root / split / "LLLR").iterdir():
            scene, ev = parse_lllr_name(path.name)
            per_scene.setdefault(scene, []).append(ev)
        for scene, evs in per_scene.items():
            window = tuple(sorted(evs, reverse=True))
            assert window in set(mini.WINDOWS.values())
            assert (window == mini.WINDOWS["late"]) == (int(scene) >= 225)
            windows.add(window)
    assert windows == set(mini.WINDOWS.values())


def test_mini_ids_unique_and_no_photo_in_two_splits():
    scenes = mini.plan_scenes(16, 0)
    assert len({s.scene for s in scenes}) == len(scenes) == 30
    split_of_photo = {}
    for s in scenes:
        assert split_of_photo.setdefault(s.photo, s.split) == s.split
    assert split_of_photo["motorcycle_left"] == split_of_photo["motorcycle_right"]  # one stereo scene


def test_mini_build_is_deterministic(mini_root, tmp_path):
    again = make_mini_rellisur(tmp_path / "a", lr_size=16, seed=0)
    assert _hashes(again) == _hashes(mini_root)
    other = _hashes(make_mini_rellisur(tmp_path / "b", lr_size=16, seed=1))
    assert other.keys() == _hashes(mini_root).keys()  # ids and exposures do not depend on the seed
    assert all(other[n] != h for n, h in _hashes(mini_root).items() if "/LLLR/" in n)


def test_target_means_expose_only_the_targets_outside_the_range_and_their_inputs(mini_root, tmp_path):
    exposed_root = make_mini_rellisur(tmp_path, lr_size=16, seed=0, target_means=(90, 110))
    plain, exposed = _hashes(mini_root), _hashes(exposed_root)
    assert plain.keys() == exposed.keys()
    moved = set()
    for target in sorted(exposed_root.glob("*/NLHR/X4/*.png")):
        name = str(target.relative_to(exposed_root))
        before = float(read_png(mini_root / name).mean())
        after = float(read_png(target).mean())
        if 90 <= before <= 110:
            assert exposed[name] == plain[name]  # inside the range: the photograph's own exposure
        else:
            assert after == pytest.approx(90 if before < 90 else 110, abs=4), name  # gain set on every 4th pixel
            moved.add(target.stem)
    assert moved, "the miniature has targets outside 90..110 (the rocket scenes are darker)"
    for name in plain:  # a moved target's inputs are made from the exposed target; the others are untouched
        if "/LLLR/" in name:
            assert (exposed[name] != plain[name]) == (Path(name).stem.split("-")[0] in moved), name
    assert json.loads((exposed_root / mini.MARKER).read_text())["target_means"] == [90.0, 110.0]
    assert "was exposed into that range" in (exposed_root / "README.txt").read_text()
    assert "target_means" not in (mini_root / "README.txt").read_text()


@pytest.mark.parametrize("bad", [(110, 90), (0, 100), (90,), "dark"])
def test_target_means_must_be_a_range_of_code_values(tmp_path, bad):
    with pytest.raises(DatasetError, match="target_means"):
        make_mini_rellisur(tmp_path, lr_size=8, target_means=bad)


def test_interrupted_build_leaves_no_half_dataset(tmp_path, monkeypatch):
    calls = []

    def failing(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(mini, "_write_scene", failing)
    with pytest.raises(KeyboardInterrupt):
        make_mini_rellisur(tmp_path, lr_size=8)
    assert list(tmp_path.iterdir()) == []


def test_failed_rebuild_keeps_the_previous_build(mini_root, tmp_path, monkeypatch):
    root = make_mini_rellisur(tmp_path, lr_size=8)
    before = _hashes(root)
    monkeypatch.setattr(mini, "_write_scene", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        make_mini_rellisur(tmp_path, lr_size=8, seed=3)
    assert _hashes(root) == before
    assert [p.name for p in tmp_path.iterdir()] == ["RELLISUR-Dataset"]


def test_default_root_builds_once_then_reuses(tmp_path, monkeypatch):
    monkeypatch.setattr(mini, "candidate_homes", lambda: [tmp_path / "repo-data", tmp_path / "cache"])
    monkeypatch.setattr(mini, "DEFAULT_LR_SIZE", 8)
    root = default_root()
    assert root == tmp_path / "repo-data" / "RELLISUR-Dataset" and (root / mini.MARKER).is_file()
    monkeypatch.setattr(mini, "_build", lambda *a, **k: pytest.fail("rebuilt a complete miniature"))
    assert default_root() == root


def test_default_root_falls_back_to_the_cache_when_the_repo_is_not_writable(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    homes = [tmp_path / "not-a-folder" / "mini", tmp_path / "cache"]
    monkeypatch.setattr(mini, "candidate_homes", lambda: homes)
    monkeypatch.setattr(mini, "DEFAULT_LR_SIZE", 4)
    assert default_root() == tmp_path / "cache" / "RELLISUR-Dataset"


def test_default_root_rebuilds_a_build_with_other_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(mini, "candidate_homes", lambda: [tmp_path])
    monkeypatch.setattr(mini, "DEFAULT_LR_SIZE", 8)
    make_mini_rellisur(tmp_path, lr_size=4)
    root = default_root()
    assert read_png(next((root / "Val/LLLR").iterdir())).shape == (8, 8, 3)


@pytest.mark.parametrize("kwargs", [{"lr_size": 2}, {"lr_size": 16.0}, {"seed": -1}])
def test_make_mini_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(DatasetError, match="lr_size|seed"):
        make_mini_rellisur(tmp_path, **kwargs)


# ----------------------------------------------------------------------------------------------- the dataset

@pytest.mark.parametrize("split", ["Train", "Val", "Test"])
def test_items_have_the_documented_fields(mini_root, split):
    ds = RellisurDataset(mini_root, split, 4)
    assert len(ds) == LLLR_PER_SPLIT[split]
    item = ds[0]
    assert item["lq"].shape == (3, 16, 16) and item["gt"].shape == (3, 64, 64)
    assert item["lq"].dtype == item["gt"].dtype == torch.float32
    assert 0.0 <= float(item["lq"].min()) and float(item["gt"].max()) <= 1.0
    scene, ev = item["scene"], item["ev"]
    assert isinstance(scene, str) and len(scene) == 5 and isinstance(ev, float) and ev < 0
    assert Path(item["lq_path"]).name == f"{scene}-{-ev:.1f}.png"
    assert Path(item["gt_path"]) == mini_root / split / "NLHR/X4" / f"{scene}.png"
    expected = torch.from_numpy(read_png(item["lq_path"])).permute(2, 0, 1).float() / 255
    assert torch.equal(item["lq"], expected)


def test_items_sorted_by_scene_then_exposure_magnitude(mini_root):
    keys = [(p.scene, p.ev) for p in RellisurDataset(mini_root, "Train", 1).pairs]
    assert keys == sorted(keys, key=lambda k: (k[0], -k[1]))
    assert keys[0][1] > keys[1][1]  # -2.5 before -3.0


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_both_layouts_give_identical_items(mini_root, mini_dup_root, scale):
    plain, dup = RellisurDataset(mini_root, "Val", scale), RellisurDataset(mini_dup_root, "Val", scale)
    assert len(plain) == len(dup)
    for a, b in zip(plain, dup):
        assert (a["scene"], a["ev"]) == (b["scene"], b["ev"])
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])
        assert "NLHR-Duplicates" in b["gt_path"] and Path(b["gt_path"]).name == Path(b["lq_path"]).name


def test_parent_folder_accepted_as_root(mini_root):
    via_parent = RellisurDataset(mini_root.parent, "Test", 2)
    assert via_parent.root == mini_root
    assert via_parent.pairs == RellisurDataset(mini_root, "Test", 2).pairs


def test_exposures_filter(mini_root):
    full = RellisurDataset(mini_root, "Train", 2)
    kept = RellisurDataset(mini_root, "Train", 2, exposures=[-3.0, -4.0])
    assert {p.ev for p in kept.pairs} == {-3.0, -4.0}
    assert len(kept) == sum(p.ev in (-3.0, -4.0) for p in full.pairs)


@pytest.mark.parametrize("exposures, words", [
    ([3.0], "negative EVs"), ([], "non-empty"), (["dark"], "negative EVs"), ([-6.0], "this split holds")])
def test_bad_exposures_are_refused(mini_root, exposures, words):
    with pytest.raises(DatasetError) as info:
        RellisurDataset(mini_root, "Train", 2, exposures=exposures)
    assert words in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"split": "train"}, "split must be one of"),
    ({"scale": 3}, "scale must be one of"),
    ({"scale": 4.0}, "scale must be one of"),
    ({"patch_size": 30}, "multiple of scale 4"),
    ({"seed": -2}, "seed must be"),
])
def test_bad_arguments_are_refused(mini_root, kwargs, words):
    args = {"split": "Train", "scale": 4, **kwargs}
    with pytest.raises(DatasetError) as info:
        RellisurDataset(mini_root, args.pop("split"), args.pop("scale"), **args)
    assert words in str(info.value)


def test_bad_index_and_too_large_patch(mini_root):
    ds = RellisurDataset(mini_root, "Val", 4)
    with pytest.raises(DatasetError, match="out of range for the 20 items"):
        ds[20]
    assert ds[-1]["scene"] == ds.pairs[-1].scene and len(list(ds)) == 20
    big = RellisurDataset(mini_root, "Val", 4, patch_size=128)
    with pytest.raises(DatasetError, match=r"patch_size 128 .*Val/LLLR/\d{5}-\d\.\d\.png is 16 x 16"):
        big[0]


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("augment", [False, True])
def test_paired_crops_stay_aligned(tmp_path, scale, augment):
    root = _nn_tree(tmp_path, scale)
    ds = RellisurDataset(root, "Train", scale, patch_size=4 * scale, augment=augment, seed=0)
    crops = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        item = ds[0]
        lq, gt = item["lq"], item["gt"]
        assert lq.shape == (3, 4, 4) and gt.shape == (3, 4 * scale, 4 * scale)
        assert torch.equal(gt, lq.repeat_interleave(scale, 1).repeat_interleave(scale, 2))
        crops.add(lq.numpy().tobytes())
    assert len(crops) > 6  # the crop (and augmentation) really changes between epochs


def test_augment_applies_rotations_and_flips(tmp_path):
    full = RellisurDataset(_nn_tree(tmp_path, 2, lr_shape=(6, 6)), "Train", 2)[0]["lq"]
    ds = RellisurDataset(tmp_path / "RELLISUR-Dataset", "Train", 2, augment=True, seed=1)
    seen = set()
    for epoch in range(100):
        ds.set_epoch(epoch)
        seen.add(ds[0]["lq"].numpy().tobytes())
    flips = (full, full.flip(2))
    symmetries = {torch.rot90(img, k, (1, 2)).numpy().tobytes() for k in range(4) for img in flips}
    assert seen == symmetries


def test_seeded_crops_do_not_depend_on_access_order(mini_root):
    def make():
        return RellisurDataset(mini_root, "Train", 4, patch_size=32, augment=True, seed=5)

    forward = [make()[i]["gt"] for i in range(10)]
    ds = make()
    backward = [ds[i]["gt"] for i in reversed(range(10))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(forward, backward))
    ds.set_epoch(1)
    epoch1 = [ds[i]["gt"] for i in range(10)]
    assert sum(not torch.equal(a, b) for a, b in zip(forward, epoch1)) >= 8
    ds.set_epoch(0)
    assert all(torch.equal(a, ds[i]["gt"]) for i, a in enumerate(forward))


def test_unseeded_crops_follow_the_global_torch_rng(mini_root):
    ds = RellisurDataset(mini_root, "Test", 2, patch_size=8, augment=True)
    torch.manual_seed(3)
    a = [ds[i]["lq"] for i in range(6)]
    torch.manual_seed(3)
    b = [ds[i]["lq"] for i in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_works_with_a_dataloader(mini_root):
    batch = next(iter(DataLoader(RellisurDataset(mini_root, "Train", 2, patch_size=16, seed=0), batch_size=4)))
    assert batch["lq"].shape == (4, 3, 8, 8) and batch["gt"].shape == (4, 3, 16, 16)
    assert len(batch["scene"]) == 4 and batch["ev"].dtype == torch.float64


def test_indexing_4250_files_needs_no_decoding(tmp_path):
    """A fake RELLISUR of empty files with the real counts: indexing must only list and parse names."""
    root = tmp_path / "RELLISUR-Dataset"
    scene_id = 0
    for split, scenes in {"Train": 722, "Val": 43, "Test": 85}.items():
        for sub in ("LLLR", "NLHR/X1", "NLHR/X2", "NLHR/X4"):
            (root / split / sub).mkdir(parents=True)
        for _ in range(scenes):
            scene_id += 1
            for magnitude in ("3.0", "3.5", "4.0", "4.5", "5.0"):
                (root / split / "LLLR" / f"{scene_id:05d}-{magnitude}.png").touch()
            for scale in (1, 2, 4):
                (root / split / f"NLHR/X{scale}" / f"{scene_id:05d}.png").touch()
    start = time.perf_counter()
    sizes = [len(RellisurDataset(tmp_path, split, 4)) for split in ("Train", "Val", "Test")]
    seconds = time.perf_counter() - start
    print(f"indexed 4,250 inputs in {seconds * 1000:.0f} ms")
    assert sizes == [3610, 215, 425]
    assert seconds < 5.0
