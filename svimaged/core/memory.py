"""The process's memory around large work (docs/performance.md, issue 14): the cycle
collector set for long passes (`settle_collector`), and freed memory given back to the
system after them (`give_back_memory`).

A pass over a large tree makes hundreds of thousands of short-lived objects, almost none of
them in reference cycles (reference counting frees them). With the default thresholds the
collector still runs every 700 allocations and walks every object the process holds, the
modules and the start-up state included: about a tenth of a local first pass. Once start-up
is done, and before a long pass, `settle_collector()` moves what is alive then out of the
collector's sight (`gc.freeze`) and lets the youngest generation grow larger before it is
collected. Cycles are still collected, only in fewer, larger steps.

A pass over a large tree frees almost everything it built, but the C allocator keeps the
freed pages: glibc's malloc gives memory back only from the top of each heap, and the daemon's
threads each have their own heap. `malloc_trim(0)` releases every whole free page of every
heap. On other C libraries (musl, macOS) `give_back_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from collections.abc import Callable

from svimaged.core.libc import libc_function

log = logging.getLogger(__name__)

_Trim = Callable[[int], int]


#: Allocations (minus deallocations) of tracked objects between young collections
#: (the interpreter's default is 700).
YOUNG_THRESHOLD = 10_000


def settle_collector() -> None:
    """Call once start-up is done (configuration read, state open) or before a long pass:
    freeze what is alive and raise the young threshold. Calling it again (a reload, the next
    long pass) first gives the frozen objects back to the collector and collects, so cycles
    that died while frozen are collected then: one full collection (10-20 ms after the
    daemon's imports), so not before short passes. The first call does not collect: start-up
    leaves no cyclic garbage to speak of (none after the daemon's imports), and the
    collection would be a `run --once`'s largest fixed cost after them."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def _find_trim() -> _Trim | None:
    """glibc's `malloc_trim` in this process, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    trim: _Trim | None = libc_function("malloc_trim", [ctypes.c_size_t], ctypes.c_int)
    return trim  # None: not glibc (musl has no malloc_trim)


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
