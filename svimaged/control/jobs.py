"""Long operations the control protocol starts (sync, cleanup) run as jobs: one at a time,
in order, on one thread, each with an id, a state and progress (`GET /api/jobs/{id}`).

A job submitted with a `key` that a queued (not yet running) job has already is not queued
again: the caller gets the queued job's id (a hundred sync requests while one sync runs are
one more sync, not a hundred). At most `max_queued` jobs wait; one more is `BusyError` (503
`busy`), so nothing can pile up work without bound, and a cleanup never waits behind more
than the running job and the few queued ones.

A job that fails keeps its error: a `SvimagedError` as raised, anything else as a
`SvimagedError` (HTTP 500, code `internal`) naming the job, and a job cancelled by shutdown as
`ShuttingDownError`. `outcome()` and `run()` raise it, so a route never answers a failed job
with 200. After each job the memory it freed is given back to the system (`core.memory`)."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from svimaged.core.clock import Clock, utc_iso
from svimaged.core.errors import BusyError, NotFoundError, ShuttingDownError, SvimagedError
from svimaged.core.log import kv
from svimaged.core.memory import give_back_memory

log = logging.getLogger(__name__)

#: progress(done, total) reported by a running job.
Progress = Callable[[int, int], None]
JobFn = Callable[[Progress], dict[str, object]]
#: Jobs that may wait (not running) at once; one more is refused with 503 `busy`.
MAX_QUEUED = 8


@dataclass(slots=True)
class _Job:
    job_id: str
    kind: str
    fn: JobFn
    queued_at: float
    key: str | None = None
    state: str = "queued"
    done: int = 0
    total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    exc: SvimagedError | None = None

    def view(self) -> dict[str, object]:
        out: dict[str, object] = {
            "job_id": self.job_id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "queued_at": utc_iso(self.queued_at),
            "started_at": utc_iso(self.started_at) if self.started_at else None,
            "finished_at": utc_iso(self.finished_at) if self.finished_at else None,
        }
        if self.error is not None:
            out["error"] = self.error
        out.update(self.result)
        return out


class JobRegistry:
    """Runs submitted jobs one after another on a worker thread; keeps the last `keep`."""

    def __init__(self, clock: Clock, *, keep: int = 100, max_queued: int = MAX_QUEUED) -> None:
        self._clock = clock
        self._keep = keep
        self._max_queued = max_queued
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._waiting: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="svimaged-jobs", daemon=True)
        self._thread.start()

    def submit(self, kind: str, fn: JobFn, *, key: str | None = None) -> str:
        """Queue a job and return its id; with `key`, the id of a queued job with the same
        key instead, if there is one. `BusyError` when `max_queued` jobs wait already."""
        with self._cond:
            if self._closed:
                raise ShuttingDownError("svimaged is shutting down; no new jobs")
            same = next((j for j in self._waiting if key is not None and j.key == key), None)
            if same is not None:
                return same.job_id
            if len(self._waiting) >= self._max_queued:
                raise BusyError(
                    f"{len(self._waiting)} jobs are queued already; try again when one is done"
                )
            job = _Job(f"{kind}-{next(self._ids)}", kind, fn, self._clock.time(), key)
            self._jobs[job.job_id] = job
            while len(self._jobs) > self._keep:
                oldest = next(iter(self._jobs.values()))
                if oldest.state != "done":
                    break
                self._jobs.popitem(last=False)
            self._waiting.append(job)
            self._cond.notify_all()
        return job.job_id

    def get(self, job_id: str) -> dict[str, object]:
        """The job's current view; `NotFoundError` for an unknown id."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}")
            return job.view()

    def wait(self, job_id: str, timeout: float) -> dict[str, object]:
        """The job's view once it is done, or as it is after `timeout` seconds."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}")
            self._cond.wait_for(lambda: job.state == "done" or self._closed, timeout)
            return job.view()

    def outcome(self, job_id: str, timeout: float) -> dict[str, object]:
        """As `wait`, but a job that ended with an error raises it (a `SvimagedError`)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}")
            self._cond.wait_for(lambda: job.state == "done" or self._closed, timeout)
            if job.exc is not None:
                raise job.exc
            return job.view()

    def run(
        self, kind: str, fn: JobFn, timeout: float, *, key: str | None = None
    ) -> dict[str, object]:
        """Submit a job (`key` as in `submit`), wait for it and return its result; its error,
        if any, is raised here (so a route answers with that error's status)."""
        job_id = self.submit(kind, fn, key=key)
        view = self.outcome(job_id, timeout)
        if view["state"] != "done":
            if self._closed:
                raise ShuttingDownError(f"job {job_id} stopped: svimaged is shutting down")
            raise ShuttingDownError(f"job {job_id} did not finish in {timeout:.0f} s")
        with self._cond:
            return dict(self._jobs[job_id].result)

    def close(self, timeout: float = 5.0) -> None:
        """Take no new jobs, drop queued ones, wait at most `timeout` s for the running one
        (0: do not wait; `join` waits later)."""
        with self._cond:
            self._closed = True
            for job in self._waiting:
                job.state, job.error = "done", "cancelled: svimaged is shutting down"
                job.exc = ShuttingDownError(f"job {job.job_id} {job.error}")
            self._waiting.clear()
            self._cond.notify_all()
        self.join(timeout)

    def join(self, timeout: float) -> bool:
        """Wait at most `timeout` s for the job thread to end (after `close`); True when it
        has ended, False while a job still runs."""
        if timeout > 0:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._closed)
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.state, job.started_at = "running", self._clock.time()
            self._run(job)
            give_back_memory()  # a sync or cleanup pass freed what it built: return the pages

    def _run(self, job: _Job) -> None:
        def progress(done: int, total: int) -> None:
            with self._cond:
                job.done, job.total = done, total

        error: str | None = None
        failure: SvimagedError | None = None
        try:
            result = job.fn(progress)
        except SvimagedError as exc:
            result, error, failure = {}, str(exc), exc
        except Exception as exc:  # a job must never kill the job thread
            log.exception("job failed %s", kv(job=job.job_id))
            result, error = {}, f"internal error: {type(exc).__name__}"
            failure = SvimagedError(f"{job.kind} job {job.job_id} failed: {error} (see the log)")
        with self._cond:
            job.result, job.error, job.exc = result, error, failure
            job.state, job.finished_at = "done", self._clock.time()
            self._cond.notify_all()
        log.info("job done %s", kv(job=job.job_id, error=error))
