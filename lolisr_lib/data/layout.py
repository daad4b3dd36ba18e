"""RELLISUR on disk: folder and file names, and the index that pairs each input with its target.

RELLISUR (Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks; Zenodo doi 10.5281/zenodo.5234969)::

    RELLISUR-Dataset/{Train,Val,Test}/
        LLLR/{id}-{ev}.png                 00018-2.5.png: scene 00018 at -2.5 EV (the name holds the magnitude)
        NLHR/X{1,2,4}/{id}.png             one target per scene and scale, shared by its 5 exposures
        NLHR-Duplicates/X{1,2,4}/{id}-{ev}.png   optional copies of the target under the input's name

Indexing only lists folders and parses names (no image is opened), so 4,250 inputs index in milliseconds.
Names starting with "." (``.DS_Store`` and other system files) are ignored; any other file in ``LLLR/`` must
be named ``{id}-{ev}.png``. Pairs are sorted by scene id, then by exposure magnitude ascending (brightest
first: -2.5, -3.0, ... -4.5).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lolisr_lib.errors import DatasetError

DATASET_DIR = "RELLISUR-Dataset"  # the top folder of the RELLISUR zip
SPLITS = ("Train", "Val", "Test")
INPUT_DIR = "LLLR"
TARGET_DIR = "NLHR"
DUPLICATE_DIR = "NLHR-Duplicates"
EXPOSURES_PER_SCENE = 5  # every real scene has 5 inputs in 0.5 EV steps
FULL_LLLR_COUNTS = {"Train": 3610, "Val": 215, "Test": 425}  # the complete download, for reference
DOWNLOAD_HINT = "the RELLISUR download (Zenodo, doi 10.5281/zenodo.5234969)"

_LLLR_NAME = re.compile(r"(\d{5})-(\d\.\d)\.png")
_TARGET_NAME = re.compile(r"(\d{5})\.png")


def lllr_name(scene: str, ev: float) -> str:
    """The input file name of ``scene`` at (negative) ``ev``: ``("00018", -2.5) -> "00018-2.5.png"``."""
    return f"{scene}-{-ev:.1f}.png"


def parse_lllr_name(name: str) -> tuple[str, float] | None:
    """``"00018-2.5.png" -> ("00018", -2.5)``: the scene id and the (negative) EV; None if malformed."""
    match = _LLLR_NAME.fullmatch(name)
    return (match[1], -float(match[2])) if match else None


def parse_target_name(name: str) -> str | None:
    """``"00018.png" -> "00018"``: the scene id of an ``NLHR/X{s}`` file; None if malformed."""
    match = _TARGET_NAME.fullmatch(name)
    return match[1] if match else None


@dataclass(frozen=True)
class Pair:
    """One training or test example: an LLLR input and its NLHR target at one scale."""

    scene: str  # five-digit scene id, e.g. "00018"
    ev: float  # exposure in stops, negative: -2.5 for 00018-2.5.png
    lq_path: Path  # {split}/LLLR/{scene}-{magnitude}.png
    gt_path: Path  # {split}/NLHR/X{s}/{scene}.png, or {split}/NLHR-Duplicates/X{s}/{lq file name}


@dataclass
class SplitIndex:
    """What :func:`scan_split` found in one split at one scale."""

    pairs: list[Pair] = field(default_factory=list)  # inputs whose target exists, in dataset order
    layout: str = ""  # the target folder read: "NLHR" or "NLHR-Duplicates" ("" if the split is missing)
    problems: list[str] = field(default_factory=list)  # one readable message per problem


def resolve_root(root: str | Path) -> Path:
    """The folder holding Train/, Val/ and Test/: ``root`` itself, or ``root/RELLISUR-Dataset``."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetError(
            f"dataset root {path} does not exist; point it to the {DATASET_DIR} folder of {DOWNLOAD_HINT}, or "
            f"use lolisr_lib.data.default_root() for the bundled miniature"
        )
    if not path.is_dir():
        raise DatasetError(f"dataset root {path} is a file, not a folder; point it to the {DATASET_DIR} folder")
    has_split = any((path / split).is_dir() for split in SPLITS)
    if not has_split and (path / DATASET_DIR).is_dir():
        return path / DATASET_DIR
    return path


def visible_files(folder: Path) -> tuple[list[str], list[str]]:
    """Sorted names in ``folder`` except those starting with ".": (files, other entries such as folders)."""
    files, others = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith("."):
                (files if entry.is_file() else others).append(entry.name)
    return sorted(files), sorted(others)


def target_subdir(split_dir: Path, scale: int) -> str:
    """The target folder the loader reads, relative to the split: duplicates when present, else NLHR."""
    duplicates = f"{DUPLICATE_DIR}/X{scale}"
    return duplicates if (split_dir / duplicates).is_dir() else f"{TARGET_DIR}/X{scale}"


def scan_inputs(split_dir: Path, split: str) -> tuple[list[tuple[str, float, str]], list[str]]:
    """The well-formed inputs ``(scene, ev, file name)`` of ``split/LLLR``, in dataset order, and problems."""
    folder = split_dir / INPUT_DIR
    if not folder.is_dir():
        missing = f"{split}/{INPUT_DIR}/ is missing; a split holds its inputs there. Is the download complete?"
        return [], [missing]
    files, others = visible_files(folder)
    inputs, problems = [], []
    for name in files:
        parsed = parse_lllr_name(name)
        if parsed is None:
            problems.append(
                f"{split}/{INPUT_DIR}/{name} is not a RELLISUR input name; expected {{id}}-{{ev}}.png such as "
                f"00018-2.5.png (a five-digit scene id, the exposure magnitude with one decimal). "
                f"Rename or remove it"
            )
        else:
            inputs.append((*parsed, name))
    problems += [f"{split}/{INPUT_DIR}/{name} is not a file; {INPUT_DIR}/ holds only images. Move it"
                 for name in others]
    if not files and not others:
        problems.append(f"{split}/{INPUT_DIR}/ is empty. Is the download complete?")
    inputs.sort(key=lambda item: (item[0], -item[1]))
    return inputs, problems


def scan_split(root: Path, split: str, scale: int) -> SplitIndex:
    """Pair every input of ``root/split`` with its x``scale`` target, collecting every problem found."""
    split_dir = root / split
    if not split_dir.is_dir():
        return SplitIndex(problems=[
            f"{split}/ is missing in {root}; a RELLISUR copy ({DATASET_DIR}/) holds Train/, Val/ and Test/. "
            f"Is the download complete, and does the root point at {DATASET_DIR} or its parent?"
        ])
    inputs, problems = scan_inputs(split_dir, split)
    subdir = target_subdir(split_dir, scale)
    index = SplitIndex(layout=subdir.split("/")[0], problems=problems)
    if not (split_dir / subdir).is_dir():
        index.problems.append(
            f"{split}/{subdir}/ is missing; expected because {split}/{INPUT_DIR}/ holds {len(inputs)} inputs. "
            f"Is the download complete?"
        )
        return index
    present = set(visible_files(split_dir / subdir)[0])
    duplicates = index.layout == DUPLICATE_DIR
    input_dir, target_dir = split_dir / INPUT_DIR, split_dir / subdir
    reported = set()  # a missing shared target is reported once, for the first of its inputs
    for scene, ev, name in inputs:
        target = name if duplicates else f"{scene}.png"
        if target in present:
            index.pairs.append(Pair(scene, ev, input_dir / name, target_dir / target))
            continue
        if target in reported:
            continue
        reported.add(target)
        hint = f" (or delete {split}/{DUPLICATE_DIR}/ to read {split}/{TARGET_DIR}/)" if duplicates else ""
        index.problems.append(
            f"{split}/{subdir}/{target} is missing; expected because {split}/{INPUT_DIR}/{name} exists. "
            f"Is the download complete?{hint}"
        )
    return index


def index_split(root: Path, split: str, scale: int) -> list[Pair]:
    """The pairs of one split at one scale; raises :class:`DatasetError` naming the first problem."""
    index = scan_split(root, split, scale)
    if index.problems:
        more = len(index.problems) - 1
        suffix = f" ({more} more; python -m lolisr_lib data check {root} lists them all)" if more else ""
        raise DatasetError(f"{index.problems[0]} [dataset root: {root}]{suffix}")
    return index.pairs
