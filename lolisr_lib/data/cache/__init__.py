"""A decoded-image cache of a RELLISUR copy: every PNG as a memory-mappable uint8 ``.npy`` array.

Why: an item of RELLISUR at x4 decodes a 2500 x 2500 target PNG (over 100 ms) to cut one 160-pixel crop, and
five inputs share each target, so a loader reading PNGs manages a few crops per second per process while a GPU
wants hundreds. As BasicSR prepares LMDB files or sub-images for DIV2K, but simpler: one ``.npy`` file per PNG,
opened as a read-only memory map, so that a crop reads only the rows it covers and nothing is decoded. The
inputs' per-channel histogram equalisation (:func:`lolisr_lib.image.color.equalize_hist` of the whole input, the
encoder's HE view) is computed once and stored beside them.

Build: ``python -m lolisr_lib data cache ROOT [--out DIR] [--scales 4]`` (:func:`build_cache`); a progress bar,
atomic per file, resumable. Layout::

    RELLISUR-Dataset-cache/            the default: beside the RELLISUR-Dataset folder
        manifest.json                  per PNG: size, fingerprint, shape (``manifest.py``)
        {split}/LLLR/{id}-{ev}.npy     an input, uint8 (625, 625, 3)
        {split}/LLLR/{id}-{ev}.he.npy  its histogram equalisation
        {split}/NLHR/X{s}/{id}.npy     a target

Use: :class:`~lolisr_lib.data.RellisurDataset` reads the cache when one holds every image it needs
(``cache="auto"``, the default); the folder is ``LOLISR_DATA_CACHE`` when that is set (``off`` turns caching
off), else the default beside the dataset. A cache that lacks images is skipped with a warning; an image whose
PNG changed since it was cached is refused, naming the file, on its first read in each process. ``python -m
lolisr_lib data check ROOT`` reports how complete the cache is per scale. Disk: docs/data.md, section 11.
"""

from lolisr_lib.data.cache.build import CacheBuild, CacheStatus, build_cache, cache_status, full_dataset_bytes
from lolisr_lib.data.cache.manifest import CACHE_ENV, default_cache_dir, env_cache_dir
from lolisr_lib.data.cache.reader import ImageCache, open_cache

__all__ = [
    "CACHE_ENV",
    "CacheBuild",
    "CacheStatus",
    "ImageCache",
    "build_cache",
    "cache_status",
    "default_cache_dir",
    "env_cache_dir",
    "full_dataset_bytes",
    "open_cache",
]
