"""The coalescing work queue between the watcher/scheduler and the worker pool.

A unit of work is either a streamer FOLDER (the first path component below `recordings`) or a
scheduled `Job`. Event handlers call `touch(folder)`; however many times a folder is touched,
it is one entry that becomes due `settle_seconds` after its LAST touch (debounce), so a storm of
10,000 events for one folder is one unit of work. A folder the state has never seen
(`is_known(folder)` is False) is handed out at once on its first touch, so a new streamer's
profile image is fetched without waiting; after that it debounces like any other folder.

Waiting (a documented choice): due times are measured on the injected `Clock`, but blocking
happens on a `threading.Condition` in real time. `get()` waits until the next due time, at most
`MAX_WAIT` real seconds per round, then looks again. With the real clock the computed wait is
exact; with a `FakeClock` that a test advances, the test calls `wake()` afterwards (or waits at
most `MAX_WAIT`). The `timeout` of `get()` is therefore real seconds.

Pure in-memory, thread-safe, no I/O. Nothing here logs per event.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from svimaged.core.clock import Clock
from svimaged.core.errors import SvimagedError
from svimaged.core.log import kv

log = logging.getLogger(__name__)

#: Longest single real-time wait inside `get()`, so a clock that jumps (a FakeClock advanced
#: without `wake()`) is noticed within this many seconds.
MAX_WAIT = 0.5


class Job(StrEnum):
    """A scheduled job; at most one of each kind waits in the queue."""

    RESCAN = "rescan"
    RETRY = "retry"
    REFRESH = "refresh"
    CLEANUP = "cleanup"  # only scheduled when `cleanup.interval` is set


@dataclass(frozen=True, slots=True)
class FolderWork:
    """Process one streamer folder (its name below `recordings`)."""

    folder: str


Work: TypeAlias = FolderWork | Job


def _always_known(_folder: str) -> bool:
    return True


class WorkQueue:
    """Coalescing queue keyed by folder name, plus a FIFO of deduplicated jobs.

    Guarantees: jobs are handed out before folders; a folder is never handed to a second
    getter while the first has not called `done()`; a folder touched while in progress is
    re-armed (due `settle_seconds` after that touch) when `done()` is called; a folder that
    was not touched meanwhile leaves the queue on `done()`.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        settle_seconds: float,
        is_known: Callable[[str], bool] = _always_known,
    ) -> None:
        self._clock = clock
        self._settle = max(0.0, settle_seconds)
        self._is_known = is_known
        self._cond = threading.Condition(threading.Lock())
        self._jobs: deque[Job] = deque()
        self._jobs_running = 0
        self._immediate: dict[str, None] = {}  # new folders due at once, in touch order
        self._due: dict[str, float] = {}  # debounced folders -> due time (clock.monotonic)
        self._heap: list[tuple[float, str]] = []  # exactly one entry per `_due` key
        self._running: set[str] = set()
        self._rearm: dict[str, float] = {}  # running folders touched meanwhile -> due time
        self._fast_tracked: set[str] = set()  # folders that had their one immediate hand-out
        self._closed = False

    # ------------------------------------------------------------------ producers

    def touch(self, folder: str) -> None:
        """Note an event for `folder`. O(1) amortised, thread-safe, no I/O of its own.

        `is_known` is called (outside the queue's lock) only when the folder is neither
        waiting nor in progress nor already fast-tracked. A `SvimagedError` from it is
        logged and the folder is treated as known. Ignored after `close()`.
        """
        with self._cond:
            if self._closed:
                return
            ask = not self._is_tracked(folder)
        known = self._ask_known(folder) if ask else True
        with self._cond:
            if self._closed:
                return
            self._apply_touch(folder, known=known)

    def put(self, job: Job) -> None:
        """Queue `job` unless the same kind is already queued (a running one does not count).
        Ignored after `close()`."""
        with self._cond:
            if self._closed or job in self._jobs:
                return
            self._jobs.append(job)
            self._cond.notify()

    # ------------------------------------------------------------------ consumers

    def get(self, timeout: float | None = None) -> Work | None:
        """The next unit of work, or None on timeout (real seconds; None waits for ever)
        or once the queue is closed. The caller must call `done(work)` when finished."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._closed:
                now = self._clock.monotonic()
                work = self._take(now)
                if work is not None:
                    return work
                wait = MAX_WAIT
                next_due = self._next_due()
                if next_due is not None:
                    wait = min(wait, max(0.0, next_due - now))
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = min(wait, remaining)
                self._cond.wait(wait)
            return None

    def done(self, work: Work) -> None:
        """Mark `work` finished. A folder touched while in progress becomes due again; an
        untouched one leaves the queue. Work that is not in progress is ignored."""
        with self._cond:
            if isinstance(work, Job):
                self._jobs_running = max(0, self._jobs_running - 1)
                return
            folder = work.folder
            if folder not in self._running:
                log.debug("done for work not in progress %s", kv(folder=folder))
                return
            self._running.discard(folder)
            due = self._rearm.pop(folder, None)
            if due is not None and not self._closed:
                self._arm(folder, due)
                self._cond.notify()

    def wake(self) -> None:
        """Make every blocked `get()` look again now (after a test advances a FakeClock)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Stop handing out work: wake every `get()`; later calls return None at once.
        Waiting work is dropped (the next start's rescan finds it again)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ counts

    def depth(self) -> int:
        """Folders waiting plus jobs queued (not counting work in progress)."""
        with self._cond:
            return len(self._jobs) + len(self._immediate) + len(self._due)

    def in_progress(self) -> int:
        """Folders and jobs handed out and not yet `done()`."""
        with self._cond:
            return len(self._running) + self._jobs_running

    # ------------------------------------------------------------------ internals (lock held)

    def _is_tracked(self, folder: str) -> bool:
        return (
            folder in self._due
            or folder in self._immediate
            or folder in self._running
            or folder in self._fast_tracked
        )

    def _ask_known(self, folder: str) -> bool:
        try:
            return self._is_known(folder)
        except SvimagedError as exc:
            log.warning("is_known failed, folder debounced %s", kv(folder=folder, error=str(exc)))
            return True

    def _apply_touch(self, folder: str, *, known: bool) -> None:
        now = self._clock.monotonic()
        if folder in self._running:
            self._rearm[folder] = now + self._settle
        elif folder in self._immediate:
            return  # already due at once; more events change nothing
        elif folder in self._due:
            self._due[folder] = now + self._settle  # its heap entry is corrected lazily
        elif not known and folder not in self._fast_tracked:
            self._fast_tracked.add(folder)
            self._immediate[folder] = None
            self._cond.notify()
        else:
            self._arm(folder, now + self._settle)
            self._cond.notify()

    def _arm(self, folder: str, due: float) -> None:
        self._due[folder] = due
        heapq.heappush(self._heap, (due, folder))

    def _next_due(self) -> float | None:
        """Earliest due time of a debounced folder, fixing stale heap entries on the way."""
        while self._heap:
            due, folder = self._heap[0]
            actual = self._due[folder]
            if actual == due:
                return due
            heapq.heapreplace(self._heap, (actual, folder))
        return None

    def _take(self, now: float) -> Work | None:
        if self._jobs:
            self._jobs_running += 1
            return self._jobs.popleft()
        if self._immediate:
            folder = next(iter(self._immediate))
            del self._immediate[folder]
            self._running.add(folder)
            return FolderWork(folder)
        due = self._next_due()
        if due is None or due > now:
            return None
        _, folder = heapq.heappop(self._heap)
        del self._due[folder]
        self._running.add(folder)
        return FolderWork(folder)
