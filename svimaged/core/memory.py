"""The process's memory around large work (docs/performance.md, issue 14): the cycle
collector set for long passes (`settle_collector`), and freed memory given back to the
system after them (`give_back_memory`).

A pass over a large tree makes hundreds of thousands of short-lived objects, almost none of
them in reference cycles (reference counting frees them). With the default thresholds the
collector still runs every 700 allocations and walks every object the process holds, the
modules and the start-up state included: about a tenth of a local first pass. Once start-up
is done, and before a long pass, `settle_collector()` moves what is alive then out of the
collector's sight (`gc.freeze`) and lets the youngest generation grow larger before it is
collected. Cycles are still collected, only in fewer, larger steps; those among the frozen
objects when the daemon is idle again (`give_back_memory`), off the clock of the work.

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
    freeze what is alive and raise the young threshold. No collection: one walks every
    object the process holds (10-20 ms after the daemon's imports), and the caller waits
    for the pass. Cycles that die while frozen, and any garbage frozen with the living,
    are collected by `give_back_memory` once the work is done."""
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
    """After large work (a pass over many folders, a job), once nobody waits for it: give
    the frozen objects back to the collector and collect (cycles that died while frozen,
    such as a finished pass's thread pools), freeze what is still alive again, and return
    the allocator's free pages to the system. True when the allocator released any (always
    False without glibc, whose `malloc_trim` it needs; the collection runs everywhere).
    Walks every object and every heap, so call it once after the work, not per item."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    if _trim is None:
        return False
    released = bool(_trim(0))
    log.debug("free memory given back to the system released=%s", released)
    return released
