"""The RELLISUR dataset as a torch ``Dataset``: paired LLLR inputs and NLHR targets, with paired crops.

RELLISUR (Aakerberg et al., NeurIPS 2021) pairs every dark, low-resolution input ``{split}/LLLR/{id}-{ev}.png``
with the normally lit target of its scene at scale s (``NLHR/X{s}/{id}.png``, or the copy under
``NLHR-Duplicates/`` when that folder exists). LoLiSRFlow (arXiv 2402.18871) trains on random crops with
random rotations and flips; a crop at LR position (i, j) takes the HR crop at (s * i, s * j), so the pair
stays aligned, and the same rotation and flip are applied to both.

Reproducible randomness: with ``seed`` given, item ``index`` draws from a ``torch.Generator`` seeded from
(seed, epoch, index), so the crop of an item depends neither on the order of access nor on the worker or
rank that loads it (resumable runs, DDP). Call :meth:`RellisurDataset.set_epoch` at the start of each epoch;
a DataLoader worker holds its own copy of the dataset, so the training loader, whose workers live across
epochs, passes the epoch along with each index instead (``lolisr_lib/train/batches.py``). With ``seed=None``
the global torch RNG is used (DataLoader seeds each worker).

Images come from the decoded-image cache when one holds every image of the split and scale
(:mod:`lolisr_lib.data.cache`, built by ``python -m lolisr_lib data cache ROOT``): a crop is then sliced out
of read-only memory maps without decoding anything, and the input's histogram equalisation is read, not
computed. Items are identical with and without the cache.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lolisr_lib.config import SCALES
from lolisr_lib.data.cache import open_cache
from lolisr_lib.data.layout import SPLITS, Pair, index_split, resolve_root
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.color import equalize_hist
from lolisr_lib.image.exposure import capture_linear_mean
from lolisr_lib.image.io import read_png


def _check_exposures(exposures: Sequence[float]) -> set[int]:
    """The requested EVs as integer tenths of a stop (``-2.5 -> -25``), after checking they are negative."""
    try:
        values = [float(ev) for ev in exposures]
    except (TypeError, ValueError) as err:
        message = f"exposures must be a list of negative EVs such as [-3.0, -4.0]; got {exposures!r}"
        raise DatasetError(message) from err
    bad = [ev for ev in values if not math.isfinite(ev) or ev >= 0]
    if bad or not values:
        raise DatasetError(
            f"exposures must be a non-empty list of negative EVs such as [-3.0, -4.0, -5.0] (the file name "
            f"00018-3.0.png holds the magnitude of -3.0 EV); got {list(exposures)!r}"
        )
    return {round(ev * 10) for ev in values}


class RellisurDataset(Dataset):
    """RELLISUR pairs: item ``k`` is a dict with ``lq`` (3, h, w), ``gt`` (3, s*h, s*w), float32 in [0, 1],
    ``scene`` ("00018"), ``ev`` (-2.5), ``lq_path`` and ``gt_path`` (str).

    ``root``: the ``RELLISUR-Dataset`` folder (or its parent); ``split``: "Train", "Val" or "Test"; ``scale``:
    1, 2 or 4; ``patch_size``: side of the HR crop (divisible by ``scale``), None for whole images;
    ``augment``: random 90-degree rotations and horizontal flips (together, all 8 symmetries of the square);
    ``exposures``: keep only these EVs (negative, e.g. [-3.0, -4.0]); ``seed``: see the module docstring;
    ``cache``: "auto" (read the decoded-image cache when a complete one exists, see
    :func:`~lolisr_lib.data.cache.open_cache`), a cache folder (required), or None (read the PNGs).

    Items are sorted by scene id, then by exposure magnitude ascending (00018-2.5 before 00018-3.0). Building
    the dataset only lists folders and parses names; images are read (and checked, see ``images.py``) when an
    item is loaded. Every problem raises :class:`DatasetError` naming the file.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        scale: int,
        *,
        patch_size: int | None = None,
        augment: bool = False,
        exposures: Sequence[float] | None = None,
        seed: int | None = None,
        cache: str | Path | None = "auto",
    ):
        if split not in SPLITS:
            raise DatasetError(f"split must be one of {', '.join(SPLITS)} (as spelled on disk); got {split!r}")
        if not isinstance(scale, int) or isinstance(scale, bool) or scale not in SCALES:
            raise DatasetError(f"scale must be one of 1, 2, 4 (the NLHR/X1, X2, X4 targets); got {scale!r}")
        bad_patch = not isinstance(patch_size, int) or patch_size <= 0 or patch_size % scale
        if patch_size is not None and bad_patch:
            raise DatasetError(
                f"patch_size is the side of the HR crop and must be a positive multiple of scale {scale}; "
                f"got {patch_size!r}"
            )
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise DatasetError(f"seed must be a non-negative integer or None; got {seed!r}")
        self.root = resolve_root(root)
        self.split, self.scale, self.patch_size = split, scale, patch_size
        self.augment, self.seed = augment, seed
        self.epoch = 0
        self.pairs: list[Pair] = index_split(self.root, split, scale)
        if exposures is not None:
            self.pairs = self._filter(_check_exposures(exposures), exposures)
        pngs = list(dict.fromkeys([pair.lq_path for pair in self.pairs] + [pair.gt_path for pair in self.pairs]))
        self.cache = open_cache(self.root, cache, pngs, f"{split} x{scale}")

    def _filter(self, tenths: set[int], exposures: Sequence[float]) -> list[Pair]:
        kept = [pair for pair in self.pairs if round(pair.ev * 10) in tenths]
        if not kept:
            available = sorted({pair.ev for pair in self.pairs}, reverse=True)
            raise DatasetError(
                f"no input in {self.split}/LLLR/ of {self.root} has an exposure in {list(exposures)}; "
                f"this split holds {available}"
            )
        return kept

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: with a seed, every item draws fresh crops and augmentations."""
        if not isinstance(epoch, int) or epoch < 0:
            raise DatasetError(f"epoch must be a non-negative integer; got {epoch!r}")
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[dict]:
        return (self[index] for index in range(len(self)))

    def __getitem__(self, index: int) -> dict:
        if not isinstance(index, (int, np.integer)) or not -len(self) <= index < len(self):
            raise DatasetError(f"index {index!r} is out of range for the {len(self)} items of {self.split} "
                               f"x{self.scale}")
        pair = self.pairs[index]
        lq, he, gt = self._read(pair)
        lq_mean = capture_linear_mean(_to_tensor(lq)[None])[0].float()  # of the whole input, before any crop
        generator = self._generator(int(index) % len(self))
        if self.patch_size is not None:
            lq, he, gt = self._crop(lq, he, gt, pair, generator)
        if self.augment:
            (lq, he), gt = _augment_with(lq, he, gt, generator)
        return {
            "lq": _to_tensor(lq),
            "lq_he": _to_tensor(he),
            "lq_mean": lq_mean,
            "gt": _to_tensor(gt),
            "scene": pair.scene,
            "ev": pair.ev,
            "lq_path": str(pair.lq_path),
            "gt_path": str(pair.gt_path),
        }

    def _name(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, pair: Pair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The whole input, its histogram equalisation and the target: decoded, or memory maps of the cache."""
        try:
            if self.cache is not None:
                lq, gt = self.cache.read(pair.lq_path), self.cache.read(pair.gt_path)
                he = self.cache.read(pair.lq_path, he=True)
            else:
                lq = read_png(pair.lq_path, self._name(pair.lq_path))
                gt = read_png(pair.gt_path, self._name(pair.gt_path))
                he = equalize_hist(lq)  # of the whole input before any crop, as inference on the whole image sees it
        except DatasetError as err:
            raise DatasetError(f"{err} [dataset root: {self.root}]") from err
        height, width = lq.shape[:2]
        expected = (self.scale * height, self.scale * width)
        if gt.shape[:2] != expected:
            lq_name, gt_name = self._name(pair.lq_path), self._name(pair.gt_path)
            raise DatasetError(
                f"{gt_name} is {gt.shape[0]} x {gt.shape[1]} but {lq_name} is {height} x {width}; "
                f"an x{self.scale} target must be exactly {expected[0]} x {expected[1]}. "
                f"Restore both from the download [dataset root: {self.root}]"
            )
        return lq, he, gt

    def _generator(self, index: int) -> torch.Generator | None:
        if self.seed is None:
            return None
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1, dtype=np.uint64)[0]
        return torch.Generator().manual_seed(int(state))

    def _crop(self, lq: np.ndarray, he: np.ndarray, gt: np.ndarray, pair: Pair, generator) -> tuple:
        side = self.patch_size // self.scale  # LR side of the crop
        height, width = lq.shape[:2]
        if side > height or side > width:
            raise DatasetError(
                f"patch_size {self.patch_size} needs an input of at least {side} x {side}, but "
                f"{self._name(pair.lq_path)} is {height} x {width}; choose a smaller patch_size"
            )
        i = int(torch.randint(0, height - side + 1, (1,), generator=generator))
        j = int(torch.randint(0, width - side + 1, (1,), generator=generator))
        s = self.scale
        rows, cols = slice(i, i + side), slice(j, j + side)
        return lq[rows, cols], he[rows, cols], gt[s * i : s * (i + side), s * j : s * (j + side)]


def _augment_with(lq: np.ndarray, he: np.ndarray, gt: np.ndarray, generator):
    """:func:`augment_pair` of ``(lq, he)`` stacked, so the equalised view turns and flips with its input."""
    both, gt = augment_pair(np.concatenate([lq, he], axis=-1), gt, generator)
    return (both[..., :3], both[..., 3:]), gt


def augment_pair(lq: np.ndarray, gt: np.ndarray, generator) -> tuple[np.ndarray, np.ndarray]:
    """The same random rotation by k * 90 degrees and horizontal flip of both images."""
    turns = int(torch.randint(0, 4, (1,), generator=generator))
    flip = bool(torch.randint(0, 2, (1,), generator=generator))
    lq, gt = np.rot90(lq, turns), np.rot90(gt, turns)
    return (lq[:, ::-1], gt[:, ::-1]) if flip else (lq, gt)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1]."""
    img = np.ascontiguousarray(img)
    if not img.flags.writeable:  # a whole read-only memory map (the cache): torch must not share it
        img = img.copy()
    return torch.from_numpy(img).permute(2, 0, 1).float().div_(255.0)  # (3, H, W)
