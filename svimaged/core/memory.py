"""Giving freed memory back to the system after large work (docs/performance.md, issue 14).

A pass over a large tree frees almost everything it built, but the C allocator keeps the
freed pages: glibc's malloc gives memory back only from the top of each heap, and the daemon's
threads each have their own heap. `malloc_trim(0)` releases every whole free page of every
heap. On other C libraries (musl, macOS) `give_back_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

_Trim = Callable[[int], int]


def _find_trim() -> _Trim | None:
    """glibc's `malloc_trim` in this process, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this interpreter is linked with
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_trim: _Trim | None = _find_trim()


def give_back_memory() -> bool:
    """Return the allocator's free pages to the system; True when it released any.

    A no-op (False) without glibc. Walks every heap, so call it once after large work (a
    pass over many folders, a job), not per item."""
    if _trim is None:
        return False
    released = bool(_trim(0))
    log.debug("free memory given back to the system released=%s", released)
    return released
