"""How the interpreter's cycle collector is set for a process that runs long passes.

A pass over a large tree makes hundreds of thousands of short-lived objects, almost none of
them in reference cycles (reference counting frees them). With the default thresholds the
collector still runs every 700 allocations and walks every object the process holds, the
modules and the start-up state included: about a tenth of a local first pass. Once start-up
is done, `settle()` moves what is alive then out of the collector's sight (`gc.freeze`) and
lets the youngest generation grow larger before it is collected. Cycles are still collected,
only in fewer, larger steps; the memory they hold meanwhile is small.
"""

from __future__ import annotations

import gc

#: Allocations (minus deallocations) of tracked objects between young collections
#: (the interpreter's default is 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once start-up is done (configuration read, state open) or before a long pass:
    collect, freeze what is alive and raise the young threshold. Calling it again (a reload,
    the next long pass) first gives the frozen objects back to the collector, so cycles that
    died while frozen are collected then. One full collection (about 20 ms after the
    daemon's imports), so not before short passes."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
