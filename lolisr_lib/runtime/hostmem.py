"""Keep freed host memory for reuse instead of returning it to the system (glibc's malloc only).

Why: at HR resolution many of LoLiSRFlow's activations are tens of megabytes (tiny-x4 at LR 256: 32 x 512 x 512
float32 = 33.5 MB). glibc serves blocks above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
gives them back with ``munmap`` when freed, and it trims freed memory off the top of its heap; either way the
next tensor of that size starts from untouched pages, and the kernel zeroes and maps each 4 KiB page on first
write. Measured on the project's CPU machine: filling a new 88 MB tensor took 39 ms against 4 ms for a reused
one; repeated ``enhance`` calls of tiny-x4 at LR 256 (float32, one thread) took 2.75-2.81 s with the setting
below against 3.47-3.69 s without it, and 1.87 s against 1.96-2.26 s in bf16. This is the host-side analogue
of PyTorch's CUDA caching allocator, and the reason PyTorch's CPU tuning guide suggests preloading jemalloc or
tcmalloc; this module needs no preloaded library.

How: ``mallopt(M_TOP_PAD, pad)`` makes the heap grow in steps of ``pad`` and keep up to ``pad`` of freed memory
at its top instead of returning it to the system, so later large blocks are carved from memory already
mapped. It is a process-wide setting, on until :func:`release_freed_memory`. Switching it on and off around
each call lost the gain: repeated calls took 3.77-3.79 s (float32, as above), slower than never setting it.
The cost is resident memory: the process keeps up to ``pad`` bytes more than it uses.

Everywhere else (macOS, Windows, musl) :func:`keep_freed_memory` does nothing and returns ``False``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import platform
import threading

M_TOP_PAD = -2  # mallopt(3) parameter numbers, from glibc's <malloc.h>
DEFAULT_TOP_PAD = 128 * 1024  # glibc's default M_TOP_PAD (mallopt(3))
RETAIN_BYTES = 1 << 30  # 1 GiB: covers the working set of tiny-x4 at LR 256 (about 0.3 GB of live tensors)

_lock = threading.Lock()
_kept = False  # whether keep_freed_memory is in effect


@functools.cache
def _glibc():
    """glibc as a ctypes library, or None where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def supported() -> bool:
    """Whether this process's allocator can be told to keep freed memory (Linux with glibc)."""
    return _glibc() is not None


def keep_freed_memory(pad_bytes: int = RETAIN_BYTES) -> bool:
    """From now on glibc keeps up to ``pad_bytes`` of freed memory for reuse (module docstring); returns whether
    the setting is in effect (glibc present and accepting it). Calling it again changes the amount."""
    global _kept
    if not 0 <= pad_bytes < 2**31:
        raise ValueError(f"pad_bytes={pad_bytes} must be in [0, 2 GiB): mallopt takes a C int")
    libc = _glibc()
    if libc is None:
        return False
    with _lock:
        _kept = libc.mallopt(M_TOP_PAD, pad_bytes) == 1  # mallopt returns 1 on success, 0 on error
        return _kept


def release_freed_memory() -> None:
    """Back to glibc's default padding, and hand the kept memory back to the system (``malloc_trim``)."""
    global _kept
    libc = _glibc()
    if libc is None:
        return
    with _lock:
        libc.mallopt(M_TOP_PAD, DEFAULT_TOP_PAD)
        libc.malloc_trim(0)
        _kept = False


def is_kept() -> bool:
    """Whether :func:`keep_freed_memory` is in effect."""
    return _kept


@contextlib.contextmanager
def freed_memory_kept(enabled: bool = True):
    """:func:`keep_freed_memory` for the length of a job (all its calls), then back to how it was; yields
    whether the setting is in effect. Meant to wrap a whole run (a command, a benchmark), not each call."""
    was_kept = _kept
    active = keep_freed_memory() if enabled and not was_kept else was_kept
    try:
        yield active
    finally:
        if active and not was_kept:
            release_freed_memory()
