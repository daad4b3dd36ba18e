"""The inventory of a RELLISUR copy: the folder tree, brightness per input, and the real counts."""

import pytest

from lolisr_lib.data import DatasetError
from lolisr_lib.data.inventory import (
    REAL_SCENES,
    REAL_SIDES,
    REAL_TEST_PER_EV,
    brightness_table,
    format_tree,
)
from lolisr_lib.data.layout import FULL_LLLR_COUNTS, SPLITS


def test_real_counts_agree_with_each_other():
    assert all(FULL_LLLR_COUNTS[split] == 5 * REAL_SCENES[split] for split in SPLITS)
    assert sum(REAL_TEST_PER_EV.values()) == FULL_LLLR_COUNTS["Test"]
    assert REAL_SIDES["X4"] == 2 * REAL_SIDES["X2"] == 4 * REAL_SIDES["LLLR"]


def test_format_tree_shows_folders_counts_and_sizes(mini_root):
    tree = format_tree(mini_root, files_shown=1)
    lines = tree.splitlines()
    assert lines[0] == "RELLISUR-Dataset/"
    assert any(line.endswith("LLLR/  (90 files)") for line in lines)  # Train: 18 scenes x 5
    assert "(16 x 16)" in tree and "(64 x 64)" in tree  # LR and x4 sizes read from the PNG headers
    assert ".complete" not in tree and "... 89 more" in tree
    assert lines[-1].startswith("└── ")


def test_format_tree_of_a_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        format_tree(tmp_path / "nowhere")


def test_brightness_table_rows(mini_root):
    rows = brightness_table(mini_root, ("Test",), scale=4)
    assert len(rows) == 40 and {row.split for row in rows} == {"Test"}
    by_scene = {}
    for row in rows:
        by_scene.setdefault(row.scene, []).append(row)
    for scene_rows in by_scene.values():
        assert len({row.gt_mean for row in scene_rows}) == 1  # one shared target
        means = [row.lq_mean for row in scene_rows]  # brightest exposure first
        assert means == sorted(means, reverse=True)
        assert all(row.lq_mean < row.gt_mean / 2 for row in scene_rows)
