"""Reading the cache: memory-mapped arrays, each PNG's fingerprint checked on its first read in a process.

:func:`open_cache` decides whether a dataset reads a cache (see the package docstring for where it looks);
:class:`ImageCache` hands out read-only memory maps, so that slicing a crop touches only the rows it needs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from lolisr_lib.data.cache import manifest as store  # the cache files: paths, fingerprints, the manifest
from lolisr_lib.errors import DatasetError


class ImageCache:
    """The arrays of the cache at ``cache_dir`` for the dataset at ``root``, with the manifest's ``files``.

    Per process (DataLoader workers included) the first read of a PNG's arrays checks the PNG's size and
    fingerprint against the manifest and raises :class:`DatasetError` naming the PNG when they differ; the memory
    maps are then kept open. Pickling (to a worker) drops the open maps and the record of checked files.
    """

    def __init__(self, root: Path, cache_dir: Path, files: dict):
        self.root, self.cache_dir, self.files = root, cache_dir, files
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._maps: dict[tuple[str, bool], np.ndarray] = {}
        self._checked: set[str] = set()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_pid=None, _maps={}, _checked=set())
        return state

    def missing(self, pngs: list[Path]) -> list[str]:
        """The PNGs (relative names) among ``pngs`` that the manifest does not hold."""
        return [rel for rel in (self.rel(png) for png in pngs) if rel not in self.files]

    def rel(self, png: Path) -> str:
        return png.relative_to(self.root).as_posix()

    def read(self, png: Path, *, he: bool = False) -> np.ndarray:
        """The cached uint8 ``(H, W, 3)`` image of ``png`` (or its equalisation), as a read-only memory map."""
        if self._pid != os.getpid():  # a forked worker: check again in this process, with maps of its own
            self._reset()
        rel = self.rel(png)
        array = self._maps.get((rel, he))
        if array is None:
            if rel not in self._checked:
                self.check(png, rel)
                self._checked.add(rel)
            array = self._maps[(rel, he)] = self._open(rel, he)
        return array

    def check(self, png: Path, rel: str) -> None:
        """Raise :class:`DatasetError` unless ``png`` is the file that was cached."""
        entry = self.files.get(rel)
        if entry is None:
            raise DatasetError(f"{rel} is not in the cache {self.cache_dir}; {self.refresh_hint()}")
        size, digest = store.fingerprint(png, rel)
        if (size, digest) != (entry["size"], entry["fingerprint"]):
            raise DatasetError(
                f"{rel} changed since it was cached in {self.cache_dir} (it is {size} bytes with fingerprint "
                f"{digest[:12]}, the cache holds {entry['size']} bytes, {entry['fingerprint'][:12]}): the cache is "
                f"stale. {self.refresh_hint()}"
            )

    def _open(self, rel: str, he: bool) -> np.ndarray:
        path = store.array_path(self.cache_dir, rel, he=he)
        shape = tuple(self.files[rel]["shape"])
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:  # missing, truncated or not an .npy file
            raise DatasetError(f"{path} (the cached {rel}) is missing or unreadable ({err}); "
                               f"{self.refresh_hint()}") from err
        if array.dtype != np.uint8 or array.shape != shape:
            raise DatasetError(f"{path} holds {array.dtype} {array.shape}, but {rel} is uint8 {shape}; "
                               f"{self.refresh_hint()}")
        return array

    def refresh_hint(self) -> str:
        return (f"refresh the cache with python -m lolisr_lib data cache {self.root} --out {self.cache_dir} (only "
                "missing or changed files are redone), or read the PNGs instead "
                f"({store.CACHE_ENV}=off, or cache=None)")


def open_cache(root: Path, cache, pngs: list[Path], what: str) -> ImageCache | None:
    """The cache a dataset at ``root`` reads its ``pngs`` from, or None to read the PNGs.

    ``cache``: "auto" uses the folder named by ``LOLISR_DATA_CACHE`` (or none when it says "off"), else the
    default one, when it holds every one of ``pngs``; an incomplete cache is skipped with a warning. A path
    uses that folder and raises :class:`DatasetError` when it is not a complete cache. None or False: no
    cache. ``what`` ("Train x4") labels messages.
    """
    if cache is None or cache is False:
        return None
    if cache == "auto":
        return _auto(root, pngs, what)
    if not isinstance(cache, (str, Path)):
        raise DatasetError(f"cache must be 'auto', a cache folder or None; got {cache!r}")
    cache_dir = Path(cache).expanduser()
    manifest = store.load_manifest(cache_dir)
    if manifest is None:
        raise DatasetError(f"cache={str(cache_dir)!r} holds no cache of this version; build it with python -m "
                           f"lolisr_lib data cache {root} --out {cache_dir}, or pass cache='auto' or None")
    found = ImageCache(root, cache_dir, manifest["files"])
    missing = found.missing(pngs)
    if missing:
        raise DatasetError(f"the cache {cache_dir} lacks {len(missing)} of the {len(pngs)} images of {what} (the "
                           f"first: {missing[0]}); {found.refresh_hint()}")
    return found


def _auto(root: Path, pngs: list[Path], what: str) -> ImageCache | None:
    from_env = store.env_cache_dir()
    if from_env == "off":
        return None
    cache_dir = from_env or store.default_cache_dir(root)
    manifest = store.load_manifest(cache_dir)
    if manifest is None:
        return None
    if from_env and manifest["root"] != str(root.resolve()):
        warnings.warn(f"{store.CACHE_ENV}={cache_dir} is the cache of {manifest['root']}, not of {root}: reading the "
                      f"PNGs. Build a cache of this copy with python -m lolisr_lib data cache {root} --out DIR",
                      stacklevel=4)
        return None
    found = ImageCache(root, cache_dir, manifest["files"])
    missing = found.missing(pngs)
    if missing:
        inputs = sum(store.is_input(rel) for rel in missing)
        warnings.warn(f"the cache {cache_dir} lacks {len(missing)} of the {len(pngs)} images of {what} ({inputs} "
                      f"inputs, {len(missing) - inputs} targets), so {what} is read from the PNGs; complete it "
                      f"with python -m lolisr_lib data cache {root} --out {cache_dir}", stacklevel=4)
        return None
    return found
