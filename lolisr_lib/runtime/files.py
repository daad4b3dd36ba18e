"""Writing a file so that nobody ever sees half of it: the one atomic write of the package.

Every output (checkpoints, logs rewritten on resume, results, PNGs, JSON reports, the cache's arrays and
manifest) is written to a temporary file beside its destination, then renamed over it with ``os.replace``,
which POSIX and Windows make atomic within a folder. A reader, or a run killed at any moment, finds the old
file or the new one, never a truncated one; the temporary file is removed if writing fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

TMP_MARK = ".tmp-"  # temporary files are named .{name}.tmp-{pid}, so a stale one names the process that left it


def temporary_name(path: Path) -> Path:
    """The temporary file that :func:`atomic_write` fills before renaming it to ``path``."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def atomic_write(path: str | Path, write: Callable[[IO], object], *, text: bool = False,
                 durable: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``text``: the file is opened in text mode (UTF-8, newlines written as given); else binary. ``durable``:
    the bytes are forced to disk (``fsync``) before the rename, for files a power cut must not lose
    (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with (open(tmp, "w", encoding="utf-8", newline="") if text else open(tmp, "wb")) as file:
            write(file)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``text`` as the whole content of ``path``, atomically."""
    return atomic_write(path, lambda file: file.write(text), text=True)
