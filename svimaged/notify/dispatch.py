"""When to notify one server: the batching window, the bounded queue and the backoff. Pure:
every time is passed in (monotonic seconds), so tests drive it with a fake clock.

Changes of a show folder wait `window` seconds from the first one; everything that arrives
for that folder meanwhile joins the same batch, so a burst becomes one notification per
show folder. A failed attempt that may succeed later (the server is down or busy) puts the
batch back and holds the whole server for a backoff that doubles from `initial` up to
`maximum`; the first success resets it. A batch the server refused for good is dropped.
At most `capacity` show folders wait; changes of further folders are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from svimaged.notify.changes import FolderBatch

#: Seconds changes of one show folder are gathered before they are sent.
BATCH_WINDOW = 2.0
#: First wait after a failed attempt, doubling up to RETRY_MAX.
RETRY_INITIAL = 5.0
RETRY_MAX = 300.0
#: Show folders that may wait for one server at once.
MAX_PENDING = 1000


@dataclass(frozen=True, slots=True)
class Waiting:
    """A batch and when its first change arrived."""

    batch: FolderBatch
    since: float


class ServerQueue:
    """The notifications waiting for one server, and its backoff (see the module docstring)."""

    def __init__(
        self,
        *,
        window: float = BATCH_WINDOW,
        initial: float = RETRY_INITIAL,
        maximum: float = RETRY_MAX,
        capacity: int = MAX_PENDING,
    ) -> None:
        self.window, self.initial, self.maximum, self.capacity = window, initial, maximum, capacity
        self._waiting: dict[str, Waiting] = {}
        self.failures = 0  # failed attempts since the last success
        self.retry_at = 0.0  # no attempt before this time

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, batches: Mapping[str, FolderBatch], now: float) -> int:
        """Queue the batches (keyed by show folder), folding each into one that waits for
        the same folder. Returns how many were dropped because the queue was full."""
        dropped = 0
        for show, batch in batches.items():
            known = self._waiting.get(show)
            if known is not None:
                self._waiting[show] = Waiting(known.batch.merged(batch), known.since)
            elif len(self._waiting) >= self.capacity:
                dropped += 1
            else:
                self._waiting[show] = Waiting(batch, now)
        return dropped

    def take(self, now: float, *, flush: bool = False) -> list[Waiting]:
        """Remove and return the batches due now: their window has passed (or `flush`),
        and the server is not in backoff. Oldest first."""
        if now < self.retry_at:
            return []
        due = [w for w in self._waiting.values() if flush or now >= w.since + self.window]
        for waiting in due:
            del self._waiting[waiting.batch.show]
        return sorted(due, key=lambda w: w.since)

    def put_back(self, waiting: Waiting) -> None:
        """Queue a taken batch again, merged with what arrived for its folder since."""
        newer = self._waiting.pop(waiting.batch.show, None)
        batch = waiting.batch if newer is None else waiting.batch.merged(newer.batch)
        self._waiting[batch.show] = Waiting(batch, waiting.since)

    def succeeded(self) -> None:
        """The server took a notification: no more backoff."""
        self.failures, self.retry_at = 0, 0.0

    def failed(self, waiting: Waiting, now: float, *, transient: bool) -> float | None:
        """An attempt failed. A transient failure puts the batch back and holds the server
        for the next backoff delay, which is returned; a permanent one drops the batch
        (None)."""
        if not transient:
            return None
        self.put_back(waiting)
        self.failures += 1
        delay = min(self.initial * 2.0 ** (self.failures - 1), self.maximum)
        self.retry_at = now + delay
        return delay

    def wake_at(self) -> float | None:
        """When the next batch becomes due (None when nothing waits)."""
        if not self._waiting:
            return None
        first = min(w.since for w in self._waiting.values()) + self.window
        return max(first, self.retry_at)
