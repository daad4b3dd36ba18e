"""A fake RELLISUR tree with the real sizes: for measuring the loader and testing the cache, never for training.

The real dataset (Aakerberg et al., NeurIPS 2021; docs/data.md) cannot be downloaded here, and the miniature's
images are tiny, so how fast the loader reads RELLISUR (a 2500 x 2500 x4 target PNG per item) could not be
measured without it. This tree has the real layout and names (``RELLISUR-Dataset/{split}/LLLR/{id}-{ev}.png``,
``NLHR/X{s}/{id}.png``), five exposures per scene in the late window (-3.0 .. -5.0 EV, ids from 00225) and the
real sizes by default (625 px inputs, targets ``s * 625``). Pixels are random but photograph-like for a PNG
encoder: a smooth random field with a little noise, so files compress to a fraction of their raw size as
photographs do, and decoding costs what decoding a photograph of that size costs. Inputs are dark (mean about
20 of 255 at -3 EV, halving per stop), targets normally lit (about 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from lolisr_lib.config import SCALES
from lolisr_lib.data.layout import DATASET_DIR, INPUT_DIR, SPLITS, TARGET_DIR, lllr_name
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.io import write_png

REAL_LR_SIZE = 625  # RELLISUR's inputs are 625 x 625 (docs/data.md, section 1)
FIRST_ID = 225  # ids from 00225 on use the late exposure window
EXPOSURES = (-3.0, -3.5, -4.0, -4.5, -5.0)  # the late window, brightest first
FIELD_CELL = 16  # LR pixels per cell of the smooth random field
NOISE = 6  # peak-to-peak amplitude of the fine noise, in 8-bit codes


def make_fake_tree(root: str | Path, *, scenes: int = 4, scales: Sequence[int] = (4,),
                   splits: Sequence[str] = ("Train",), lr_size: int = REAL_LR_SIZE, seed: int = 0) -> Path:
    """Write ``scenes`` scenes per split into ``root/RELLISUR-Dataset`` and return that folder.

    ``scales``: the target folders written (``NLHR/X{s}``); ``splits``: among Train, Val, Test; ``lr_size``: the
    input side (625 is RELLISUR's); ``seed``: the pixels. Existing files of the same names are overwritten.
    """
    _check(scenes, scales, splits, lr_size)
    dataset = Path(root).expanduser() / DATASET_DIR
    rng = np.random.default_rng(seed)
    scene_id = FIRST_ID
    for split in splits:
        for _ in range(scenes):
            _write_scene(dataset / split, f"{scene_id:05d}", scales, lr_size, rng)
            scene_id += 1
    return dataset


def _check(scenes, scales, splits, lr_size) -> None:
    if not isinstance(scenes, int) or isinstance(scenes, bool) or not 1 <= scenes <= 600:
        raise DatasetError(f"scenes must be an integer from 1 to 600 (per split); got {scenes!r}")
    if not scales or any(scale not in SCALES for scale in scales):
        raise DatasetError(f"scales must be a non-empty list drawn from {SCALES}; got {scales!r}")
    if not splits or any(split not in SPLITS for split in splits):
        raise DatasetError(f"splits must be a non-empty list drawn from {SPLITS}; got {splits!r}")
    if not isinstance(lr_size, int) or isinstance(lr_size, bool) or not FIELD_CELL <= lr_size <= 2048:
        raise DatasetError(f"lr_size must be an integer from {FIELD_CELL} to 2048 (LR pixels); got {lr_size!r}")


def _write_scene(split_dir: Path, scene: str, scales: Sequence[int], lr_size: int, rng) -> None:
    cells = -(-lr_size // FIELD_CELL)  # ceiling: the field covers the image
    field = rng.uniform(40, 170, (cells, cells, 3)).astype(np.uint8)  # (cells, cells, 3)
    for scale in scales:
        folder = split_dir / TARGET_DIR / f"X{scale}"
        folder.mkdir(parents=True, exist_ok=True)
        write_png(folder / f"{scene}.png", _photo_like(field, scale * lr_size, rng))
    folder = split_dir / INPUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    base = _photo_like(field, lr_size, rng).astype(np.float32)  # (lr, lr, 3), mean about 100
    for ev in EXPOSURES:
        dark = base * 0.2 * 2.0 ** (ev + 3.0) + rng.normal(0.0, 1.5, base.shape)  # 0.2: -3 EV gives about 20
        write_png(folder / lllr_name(scene, ev), np.clip(np.rint(dark), 0, 255).astype(np.uint8))


def _photo_like(field: np.ndarray, side: int, rng) -> np.ndarray:
    """The smooth ``field`` upsampled to ``side`` x ``side`` plus fine noise: uint8 (side, side, 3)."""
    smooth = np.asarray(Image.fromarray(field).resize((side, side), Image.Resampling.BICUBIC))  # (side, side, 3)
    noise = rng.integers(0, NOISE + 1, smooth.shape, dtype=np.uint8)
    return np.minimum(smooth, 255 - NOISE) + noise
