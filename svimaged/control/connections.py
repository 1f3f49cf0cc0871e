"""Bookkeeping of the control server's open connections: per-connection deadlines on an
injected clock, and warnings about refused connections at a bounded rate."""

from __future__ import annotations

import logging
import math
import socket
import threading

from svimaged.core.clock import Clock

log = logging.getLogger(__name__)

#: At most one warning about refused connections per listener in this many seconds.
REFUSAL_LOG_EVERY = 60.0


class Deadlines:
    """When each watched connection must be done: a connection that has not sent its whole
    next request (or taken its whole answer and then sent the next request) `timeout`
    seconds after `start()` is hung up by `reap()`, however steadily it trickles bytes."""

    def __init__(self, clock: Clock, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._due: dict[socket.socket, float] = {}

    def start(self, conn: socket.socket) -> None:
        """`conn` has `timeout` seconds from now."""
        with self._lock:
            self._due[conn] = self._clock.monotonic() + self._timeout

    def stop(self, conn: socket.socket) -> None:
        """No deadline while a route runs (`?wait=1` may take an hour)."""
        with self._lock:
            self._due[conn] = math.inf

    def forget(self, conn: socket.socket) -> None:
        with self._lock:
            self._due.pop(conn, None)

    def reap(self, *, everything: bool = False) -> int:
        """Shut down connections past their deadline (or all of them); how many."""
        now = self._clock.monotonic()
        with self._lock:
            late = [c for c, due in self._due.items() if everything or due <= now]
            for conn in late:
                self._due[conn] = math.inf
        for conn in late:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError as exc:
                log.debug("control reaper shutdown failed error=%s", exc)
        return len(late)


class RefusalLog:
    """Warns about connections a listener refused: the first at once, then at most one line
    per `every` seconds with the count since the last line (a flood of refusals must not
    become a flood of log lines); `flush()` reports what is still uncounted."""

    def __init__(self, clock: Clock, listener: str, every: float = REFUSAL_LOG_EVERY) -> None:
        self._clock = clock
        self._listener = listener
        self._every = every
        self._lock = threading.Lock()
        self._pending = 0
        self._last: float | None = None

    def refused(self) -> None:
        """Count one refused connection; log if the last line is old enough."""
        with self._lock:
            self._pending += 1
            now = self._clock.monotonic()
            if self._last is not None and now - self._last < self._every:
                return
            count, self._pending, self._last = self._pending, 0, now
        self._warn(count)

    def flush(self) -> None:
        with self._lock:
            count, self._pending = self._pending, 0
        if count:
            self._warn(count)

    def _warn(self, count: int) -> None:
        log.warning(
            "control refused connections listener=%s reason=too_many_connections count=%d "
            "(at most one such line per %.0f s)",
            self._listener,
            count,
            self._every,
        )
