"""Timers of the daemon: one `schedule.Scheduler` in one thread.

Jobs only enqueue (`Job.RETRY` every minute, `Job.REFRESH` every hour, `Job.RESCAN` every
`watch.rescan_interval`); the workers do the work. The daemon adds a few cheap callables
(the periodic summary line, the systemd watchdog ping) with `every()`.

Every job runs wrapped: an exception is logged with its traceback and the job stays
scheduled for its next time (`schedule` itself would re-raise and end the thread).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import schedule

from svimaged.core.log import kv
from svimaged.daemon.queue import Job

log = logging.getLogger(__name__)

#: Seconds between the queue jobs that are not configurable.
RETRY_EVERY = 60.0
REFRESH_EVERY = 3600.0
#: Longest single wait of the thread, so a clock jump never stalls jobs for long.
MAX_IDLE = 1.0


class JobSink(Protocol):
    """Where queue jobs go (the daemon's `WorkQueue`)."""

    def put(self, job: Job) -> None: ...


class JobScheduler:
    """Owns one `schedule.Scheduler` (never the module-global one) and its thread."""

    def __init__(
        self,
        queue: JobSink,
        *,
        rescan_interval: float,
        retry_interval: float = RETRY_EVERY,
        refresh_interval: float = REFRESH_EVERY,
    ) -> None:
        """Schedule the three queue jobs; nothing runs before `start()` (or `run_pending()`)."""
        self._queue = queue
        self._scheduler = schedule.Scheduler()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.enqueue_every(retry_interval, Job.RETRY)
        self.enqueue_every(refresh_interval, Job.REFRESH)
        self.enqueue_every(rescan_interval, Job.RESCAN)

    @property
    def jobs(self) -> list[schedule.Job]:
        """The scheduled jobs (tests move their `next_run`)."""
        return list(self._scheduler.jobs)

    def enqueue_every(self, seconds: float, job: Job) -> schedule.Job:
        """Put `job` on the queue every `seconds`."""
        return self.every(seconds, f"enqueue-{job.value}", lambda: self._queue.put(job))

    def every(self, seconds: float, name: str, func: Callable[[], object]) -> schedule.Job:
        """Run `func` every `seconds` (> 0) in the scheduler thread, guarded, tagged `name`.
        `func` must be quick: a slow one delays every other job."""
        if seconds <= 0:
            raise ValueError(f"interval of job {name} must be positive, got {seconds}")
        # schedule types `interval` as int but turns it into a timedelta, so a fractional
        # interval (a watchdog ping every 0.5 s for WatchdogSec=1) works as meant.
        every = self._scheduler.every(seconds)  # type: ignore[arg-type]
        job: schedule.Job = every.seconds.do(_guarded, name, func).tag(name)
        return job

    def run_pending(self) -> None:
        """Run every job that is due now (what the thread does on each wake-up)."""
        self._scheduler.run_pending()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Wake the thread and wait up to `timeout` s for it; True when it has ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        log.debug("scheduler started %s", kv(jobs=len(self._scheduler.jobs)))
        while not self._stop.is_set():
            self.run_pending()
            idle = self._scheduler.idle_seconds
            wait = MAX_IDLE if idle is None else min(max(idle, 0.0), MAX_IDLE)
            self._stop.wait(wait)
        log.debug("scheduler stopped")


def _guarded(name: str, func: Callable[[], object]) -> None:
    """Run one job; log (with traceback) instead of raising, so the job stays scheduled."""
    try:
        func()
    except Exception:
        log.exception("scheduled job failed %s", kv(job=name))
