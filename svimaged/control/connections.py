"""Warnings about connections the control server refused, at a bounded rate."""

from __future__ import annotations

import logging
import threading

from svimaged.core.clock import Clock

log = logging.getLogger(__name__)

#: At most one warning about refused connections per listener in this many seconds.
REFUSAL_LOG_EVERY = 60.0


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
