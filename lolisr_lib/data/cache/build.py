"""Building the cache (``python -m lolisr_lib data cache``) and reporting how complete it is (``data check``).

A build decodes every PNG the loader reads at the chosen scales, in every split present, and writes it as a
``.npy`` array, the inputs' histogram equalisation beside them. Each array is written to a temporary file and
renamed into place; the manifest is rewritten (atomically too) every few seconds and when the build ends or
is interrupted. A build started again skips every PNG whose array is present and whose fingerprint matches,
so an interrupted build resumes, and a changed PNG is decoded again.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lolisr_lib.config import SCALES
from lolisr_lib.data.cache.manifest import (
    CACHE_ENV,
    array_path,
    array_paths,
    atomic_write,
    default_cache_dir,
    env_cache_dir,
    fingerprint,
    is_input,
    load_manifest,
    new_manifest,
    remove_orphans,
    save_manifest,
)
from lolisr_lib.data.layout import EXPOSURES_PER_SCENE, FULL_LLLR_COUNTS, SPLITS, resolve_root, scan_split
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.color import equalize_hist
from lolisr_lib.image.io import read_png, read_png_header

REAL_LR_SIZE = 625  # RELLISUR's inputs (docs/data.md, section 1); targets are 1, 2, 4 times that
SAVE_EVERY_S = 10.0  # seconds between manifest saves during a build: what a kill -9 can cost
_SPARE_BYTES = 1 << 30  # a build refuses to start unless it leaves this much disk free


@dataclass
class CacheBuild:
    """What :func:`build_cache` did."""

    cache_dir: Path  # the cache folder
    images: int  # PNGs the cache now holds for the scales asked
    written: int  # of which decoded and written by this call
    array_bytes: int  # disk taken by their arrays (image and equalisation)
    seconds: float  # wall time of this call
    problems: list[str] = field(default_factory=list)  # problems of the copy (what the loader cannot read is skipped)


def cache_dir_for(root: Path, out: str | Path | None) -> Path:
    """The folder a build writes: ``out``, else ``LOLISR_DATA_CACHE``, else the default beside the dataset."""
    if out is not None:
        return Path(out).expanduser()
    from_env = env_cache_dir()
    return from_env if isinstance(from_env, Path) else default_cache_dir(root)


def loader_pngs(root: Path, scales) -> tuple[list[Path], list[str]]:
    """Every PNG the loader reads at ``scales`` in every split present (inputs first), and the problems found."""
    inputs, targets, problems = {}, {}, []
    for split in SPLITS:
        if not (root / split).is_dir():
            continue
        for scale in scales:
            index = scan_split(root, split, scale)
            problems += index.problems
            inputs.update((pair.lq_path, None) for pair in index.pairs)
            targets.update((pair.gt_path, None) for pair in index.pairs)
    return list(inputs) + list(targets), list(dict.fromkeys(problems))


def build_cache(root: str | Path, out: str | Path | None = None, *, scales=SCALES, progress: bool = True) -> CacheBuild:
    """Cache every image of the RELLISUR copy at ``root`` for ``scales`` into ``out`` (module docstring)."""
    start = time.perf_counter()
    root = resolve_root(root)
    scales = _check_scales(scales)
    pngs, problems = loader_pngs(root, scales)
    if not pngs:
        raise DatasetError(f"{root} holds no readable pair at x{', x'.join(map(str, scales))}; python -m lolisr_lib "
                           f"data check {root} says why")
    cache_dir = cache_dir_for(root, out)
    _make_folder(cache_dir)
    remove_orphans(cache_dir)
    manifest = load_manifest(cache_dir) or new_manifest(root)
    manifest["root"] = new_manifest(root)["root"]  # the copy it now caches (entries of another are checked below)
    files, quiet = manifest["files"], not progress or None  # None: tqdm shows bars on terminals only
    checking = tqdm(pngs, desc="checking the cache", unit="image", disable=quiet)
    todo = [png for png in checking if not _still_valid(root, cache_dir, files, png)]
    _check_disk(cache_dir, root, todo)
    saved_at = time.monotonic()
    try:
        for png in tqdm(todo, desc=f"caching {root.name}", unit="image", disable=quiet):
            rel = png.relative_to(root).as_posix()
            files.pop(rel, None)  # its arrays are about to be replaced
            files[rel] = _cache_one(png, rel, cache_dir)
            if time.monotonic() - saved_at > SAVE_EVERY_S:
                save_manifest(cache_dir, manifest)
                saved_at = time.monotonic()
    finally:
        save_manifest(cache_dir, manifest)
    rels = [png.relative_to(root).as_posix() for png in pngs]
    return CacheBuild(cache_dir, len(pngs), len(todo), sum(_array_bytes(rel, files[rel]) for rel in rels),
                      time.perf_counter() - start, problems)


def _check_scales(scales) -> tuple[int, ...]:
    scales = tuple(sorted(set(scales)))
    if not scales or any(scale not in SCALES for scale in scales):
        raise DatasetError(f"scales must be drawn from {SCALES}, e.g. --scales 4; got {scales!r}")
    return scales


def _make_folder(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        probe = cache_dir / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise DatasetError(f"cannot write the cache folder {cache_dir} ({err.strerror}); choose a writable one with "
                           f"--out DIR and point {CACHE_ENV}=DIR at it") from err


def _still_valid(root: Path, cache_dir: Path, files: dict, png: Path) -> bool:
    """Whether ``png`` is cached, its arrays are all there, and it has not changed since."""
    rel = png.relative_to(root).as_posix()
    entry = files.get(rel)
    if entry is None:
        return False
    if (entry["size"], entry["fingerprint"]) != fingerprint(png, rel):
        return False
    try:
        shapes = [np.load(path, mmap_mode="r", allow_pickle=False).shape for path in array_paths(cache_dir, rel)]
    except (OSError, ValueError):  # missing or truncated
        return False
    return all(shape == tuple(entry["shape"]) for shape in shapes)


def _check_disk(cache_dir: Path, root: Path, todo: list[Path]) -> None:
    """Refuse to start a build that would fill the disk (sizes from the PNG headers, 33 bytes each)."""
    need = 0
    for png in todo:
        rel = png.relative_to(root).as_posix()
        header = read_png_header(png, rel)
        need += header.height * header.width * 3 * (2 if is_input(rel) else 1)
    free = shutil.disk_usage(cache_dir).free
    if need + _SPARE_BYTES > free:
        raise DatasetError(
            f"caching {len(todo)} images needs {need / 1e9:.1f} GB, but {cache_dir} has {free / 1e9:.1f} GB free "
            f"(and 1 GB is kept spare); free some space, cache fewer scales (--scales 4), or choose a larger disk "
            f"with --out DIR and point {CACHE_ENV}=DIR at it"
        )


def _cache_one(png: Path, rel: str, cache_dir: Path) -> dict:
    """Decode ``png`` (checked as the loader checks it), write its arrays, and return its manifest entry."""
    size, digest = fingerprint(png, rel)
    image = read_png(png, rel)  # refuses what the loader refuses (16-bit, palette, truncated...), naming the file
    arrays = {array_path(cache_dir, rel): image}
    if is_input(rel):  # of the whole input, as the dataset computes it before cropping
        arrays[array_path(cache_dir, rel, he=True)] = equalize_hist(image)
    for path, array in arrays.items():
        atomic_write(path, lambda file, array=array: np.lib.format.write_array(file, array, allow_pickle=False))
    return {"size": size, "fingerprint": digest, "shape": list(image.shape)}


def _array_bytes(rel: str, entry: dict) -> int:
    return int(np.prod(entry["shape"])) * (2 if is_input(rel) else 1)


@dataclass
class CacheStatus:
    """How much of the loader's images at one scale a cache holds (for ``data check``)."""

    scale: int
    images: int  # PNGs the loader reads at this scale, every split present
    cached: int  # of which cached, with arrays present and the PNG's size unchanged (deep: fingerprint too)
    array_bytes: int  # disk their arrays take

    @property
    def complete(self) -> bool:
        return self.cached == self.images


def cache_status(root: Path, *, deep: bool = False) -> tuple[Path, list[CacheStatus] | None]:
    """The cache folder the loader would use for ``root`` and, per scale, how complete it is (None: no cache).

    Shallow: the manifest, the arrays' presence and each PNG's size; ``deep`` also compares fingerprints.
    """
    cache_dir = cache_dir_for(root, None)
    manifest = load_manifest(cache_dir)
    if manifest is None:
        return cache_dir, None
    files, statuses = manifest["files"], []
    for scale in SCALES:
        pngs, _ = loader_pngs(root, (scale,))
        cached = [rel for rel in (png.relative_to(root).as_posix() for png in pngs)
                  if _looks_cached(root, cache_dir, files, rel, deep)]
        statuses.append(CacheStatus(scale, len(pngs), len(cached), sum(_array_bytes(r, files[r]) for r in cached)))
    return cache_dir, statuses


def _looks_cached(root: Path, cache_dir: Path, files: dict, rel: str, deep: bool) -> bool:
    entry = files.get(rel)
    if entry is None or not all(path.is_file() for path in array_paths(cache_dir, rel)):
        return False
    if deep:
        return fingerprint(root / rel, rel) == (entry["size"], entry["fingerprint"])
    return (root / rel).stat().st_size == entry["size"]


def full_dataset_bytes(scales, lr_size: int = REAL_LR_SIZE) -> int:
    """Disk the arrays of the complete RELLISUR take at ``scales`` (every split; docs/data.md, section 11):
    each input twice (image and equalisation) and each scene's target once per scale."""
    inputs = sum(FULL_LLLR_COUNTS.values())
    scenes = inputs // EXPOSURES_PER_SCENE
    pixels = 2 * inputs * lr_size**2 + scenes * sum((scale * lr_size) ** 2 for scale in _check_scales(scales))
    return 3 * pixels
