"""What a RELLISUR copy holds, for people: a folder tree, the brightness of every input and target, and the
counts of the real dataset to compare with.

RELLISUR (Aakerberg, Nasrollahi, Moeslund; NeurIPS 2021 Datasets and Benchmarks; Zenodo doi
10.5281/zenodo.5234969). The real counts below are those of the design notes (docs/data.md), confirmed from the
files of the download; :data:`lolisr_lib.data.layout.FULL_LLLR_COUNTS` holds the LLLR totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lolisr_lib.data.layout import SPLITS, index_split, resolve_root, visible_files
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.io import read_png, read_png_header

REAL_SCENES = {"Train": 722, "Val": 43, "Test": 85}  # scenes per split; each has 5 inputs and 3 targets
REAL_SIDES = {"LLLR": 625, "X1": 625, "X2": 1250, "X4": 2500}  # image side in pixels (all square)
REAL_TEST_PER_EV = {-2.0: 1, -2.5: 16, -3.0: 85, -3.5: 85, -4.0: 85, -4.5: 84, -5.0: 69}  # Test LLLR per EV
REAL_LLLR_MEAN = {-3.0: 20.0, -5.0: 3.0}  # approximate mean pixel value (0..255) of the real inputs
REAL_TARGET_MEAN = (90.0, 110.0)  # the real targets' mean pixel value lies about in this range


def format_tree(root: str | Path, files_shown: int = 2) -> str:
    """The folder tree under ``root`` as text: each folder with its file count and its first ``files_shown``
    files (PNG files with their size), hidden files (``.complete``, ``.DS_Store``) left out."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder; point it to a RELLISUR-Dataset folder")
    return "\n".join([f"{root.name}/"] + _tree_lines(root, "", files_shown))


def _tree_lines(folder: Path, indent: str, files_shown: int) -> list[str]:
    files, folders = visible_files(folder)
    entries = [(name, True) for name in folders] + [(name, False) for name in files[:files_shown]]
    hidden = len(files) - min(len(files), files_shown)
    lines = []
    for k, (name, is_folder) in enumerate(entries):
        last = k == len(entries) - 1 and not hidden
        branch, child_indent = ("└── ", "    ") if last else ("├── ", "│   ")
        if is_folder:
            count = len(visible_files(folder / name)[0])
            lines.append(f"{indent}{branch}{name}/" + (f"  ({count} files)" if count else ""))
            lines += _tree_lines(folder / name, indent + child_indent, files_shown)
        else:
            lines.append(f"{indent}{branch}{name}{_size_note(folder / name)}")
    if hidden:
        lines.append(f"{indent}└── ... {hidden} more")
    return lines


def _size_note(path: Path) -> str:
    if path.suffix.lower() != ".png":
        return ""
    try:
        header = read_png_header(path)
    except DatasetError:
        return "  (not a readable PNG)"
    return f"  ({header.width} x {header.height})"


@dataclass(frozen=True)
class BrightnessRow:
    """The mean brightness of one input and of its target."""

    split: str  # "Train", "Val" or "Test"
    scene: str  # five-digit scene id
    ev: float  # exposure of the input in stops, negative
    lq_mean: float  # mean pixel value (0..255, all channels) of the LLLR input
    gt_mean: float  # mean pixel value of its NLHR target at the scale asked for


def brightness_table(root: str | Path, splits=SPLITS, scale: int = 1) -> list[BrightnessRow]:
    """One :class:`BrightnessRow` per input of ``splits``, in dataset order (reads every input once).

    ``scale`` picks the target folder (X1 is the cheapest to read; all scales have nearly the same mean).
    """
    root = resolve_root(root)
    rows = []
    for split in splits:
        target_means: dict[Path, float] = {}  # the 5 exposures of a scene share one target: read it once
        for pair in index_split(root, split, scale):
            if pair.gt_path not in target_means:
                target_means[pair.gt_path] = float(read_png(pair.gt_path).mean())
            lq_mean = float(read_png(pair.lq_path).mean())
            rows.append(BrightnessRow(split, pair.scene, pair.ev, lq_mean, target_means[pair.gt_path]))
    return rows
