"""The cache's format: where it lives, where each array goes, the manifest, and the fingerprint of a PNG.

The manifest (``manifest.json``) maps each cached PNG, by its path relative to the dataset root
(``Train/LLLR/00018-2.5.png``), to ``{"size": bytes, "fingerprint": sha1 hex, "shape": [h, w, 3]}``.

The fingerprint is the SHA-1 of the PNG's size, its first 64 KiB and its last 64 KiB, not of the whole file. A
PNG ends with its zlib stream's Adler-32 checksum of every decompressed image byte, the CRC-32 of its last
data chunk and the IEND chunk, so a change of any pixel changes the last bytes (short of a checksum
collision), and a re-encoded or truncated file changes its size and its first bytes as well. Reading 128 KiB
instead of the whole file (about 10 MB for an x4 target) is what makes checking every file on its first read
in every process affordable. The modification time is deliberately left out: a copy (cp, rsync without -t)
changes it without changing the image, and would make a sound cache look stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lolisr_lib.data.layout import INPUT_DIR
from lolisr_lib.errors import DatasetError
from lolisr_lib.runtime.files import TMP_MARK, atomic_write

FORMAT = "lolisr-data-cache-v1"  # bump when the meaning of a file changes, so old caches are rebuilt
MANIFEST = "manifest.json"
CACHE_ENV = "LOLISR_DATA_CACHE"  # a cache folder to use instead of the default one, or "off"
CACHE_SUFFIX = "-cache"  # the default folder is the dataset folder's sibling: RELLISUR-Dataset-cache
FINGERPRINT_BYTES = 64 * 1024  # read from each end of a PNG
HE_SUFFIX = ".he.npy"  # the histogram equalisation of an input, beside it


def default_cache_dir(root: Path) -> Path:
    """Where the cache of the dataset at ``root`` (its RELLISUR-Dataset folder) lives unless told otherwise."""
    return root.parent / f"{root.name}{CACHE_SUFFIX}"


def env_cache_dir() -> Path | str | None:
    """The folder ``LOLISR_DATA_CACHE`` names, the string "off", or None when the variable is unset or empty."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if not value:
        return None
    return "off" if value.lower() == "off" else Path(value).expanduser()


def is_input(rel: str) -> bool:
    """Whether the PNG ``Train/LLLR/00018-2.5.png`` is an input (its equalisation is cached too)."""
    return rel.split("/")[1:2] == [INPUT_DIR]


def array_path(cache_dir: Path, rel: str, *, he: bool = False) -> Path:
    """The ``.npy`` file holding the PNG ``rel`` (or, with ``he``, its histogram equalisation)."""
    stem = rel[: -len(".png")]
    return cache_dir / (stem + (HE_SUFFIX if he else ".npy"))


def array_paths(cache_dir: Path, rel: str) -> list[Path]:
    """Every ``.npy`` file of the PNG ``rel``: the image, and for an input its equalisation."""
    return [array_path(cache_dir, rel)] + ([array_path(cache_dir, rel, he=True)] if is_input(rel) else [])


def fingerprint(path: Path, name: str) -> tuple[int, str]:
    """``(size, sha1 hex)`` of the PNG at ``path`` (module docstring); ``name`` labels errors."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            digest = hashlib.sha1(size.to_bytes(8, "little"))
            digest.update(file.read(FINGERPRINT_BYTES))
            file.seek(max(size - FINGERPRINT_BYTES, 0))
            digest.update(file.read(FINGERPRINT_BYTES))
    except OSError as err:
        raise DatasetError(f"{name} cannot be read ({err.strerror}); check that it exists and is readable") from err
    return size, digest.hexdigest()


def new_manifest(root: Path) -> dict:
    return {"format": FORMAT, "root": str(root.resolve()), "files": {}}


def load_manifest(cache_dir: Path) -> dict | None:
    """The manifest of the cache at ``cache_dir``, or None when there is none (no cache, or an older format)."""
    path = cache_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path} is unreadable ({err}); delete it and rebuild the cache with "
                           f"python -m lolisr_lib data cache ROOT --out {cache_dir}") from err
    current = isinstance(manifest, dict) and manifest.get("format") == FORMAT
    if not current or not isinstance(manifest.get("files"), dict):
        return None  # written by another version: rebuilt from scratch, file by file
    return manifest


def save_manifest(cache_dir: Path, manifest: dict) -> None:
    atomic_write(cache_dir / MANIFEST, lambda file: file.write(json.dumps(manifest, indent=1).encode()))



def remove_orphans(cache_dir: Path) -> int:
    """Delete the temporary files that killed builds left in ``cache_dir`` (those of live processes stay)."""
    removed = 0
    for path in cache_dir.rglob(f".*{TMP_MARK}*"):
        pid = path.name.rsplit(TMP_MARK, 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
