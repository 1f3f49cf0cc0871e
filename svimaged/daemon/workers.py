"""The daemon's workers: each thread takes one unit of work at a time from the queue (a
streamer folder or a job) and hands it to the pipeline (huey's consumer model). A unit that
fails is logged with its key; the worker goes on with the next one. A folder whose pass left
a recording still being written is touched again, so it is looked at once more after
`settle_seconds` even when no file event comes (a recording whose mtime lies in the future
settles by svimaged's own clock). A worker that finds the queue empty after work gives the
memory freed meanwhile back to the system (`core.memory`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from svimaged.core.errors import ShuttingDownError
from svimaged.core.log import kv
from svimaged.core.memory import give_back_memory
from svimaged.daemon.queue import FolderWork, Job, Work

log = logging.getLogger(__name__)

WORKER_POLL = 1.0


class PipelineLike(Protocol):
    """What the workers need from `pipeline.Pipeline`."""

    def process_folder(self, folder: str) -> object: ...
    def rescan(self, enqueue: Callable[[str], None]) -> int: ...
    def retry_due(self, enqueue: Callable[[str], None]) -> object: ...
    def refresh_stale(self, enqueue: Callable[[str], None]) -> object: ...
    def cleanup(self, *, dry_run: bool) -> dict[str, object]: ...


class QueueLike(Protocol):
    """What the workers need from `workqueue.WorkQueue`."""

    def get(self, timeout: float | None = None) -> Work | None: ...
    def done(self, work: Work) -> None: ...
    def touch(self, folder: str) -> None: ...


def work_key(work: Work) -> str:
    """`folder=<name>` or `job=<kind>`, for log lines."""
    if isinstance(work, FolderWork):
        return kv(folder=work.folder)
    return kv(job=work.value)


def handle(pipeline: PipelineLike, queue: QueueLike, work: Work) -> None:
    """Do one unit of work. Never raises: a failure is logged with its traceback and the
    work key, so the worker that called this goes on with the next unit."""
    try:
        if isinstance(work, FolderWork):
            summary = pipeline.process_folder(work.folder)
            if getattr(summary, "pending", 0):
                queue.touch(work.folder)  # look again once it may have settled
        elif work is Job.RESCAN:
            pipeline.rescan(queue.touch)  # logs its own summary line
        elif work is Job.RETRY:
            pipeline.retry_due(queue.touch)
        elif work is Job.REFRESH:
            pipeline.refresh_stale(queue.touch)
        elif work is Job.CLEANUP:
            result = pipeline.cleanup(dry_run=False)
            log.info("scheduled cleanup done %s", kv(removed=result.get("total_cleaned")))
    except ShuttingDownError:
        log.info("work abandoned, shutting down %s", work_key(work))
    except Exception:
        log.exception("work failed %s", work_key(work))


class WorkerPool:
    """`count` threads, each taking one unit at a time from the queue until `stop()`."""

    def __init__(self, pipeline: PipelineLike, queue: QueueLike, count: int) -> None:
        self._pipeline = pipeline
        self._queue = queue
        self._count = count
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads (and restart any that died)."""
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self._count and not self._stopping.is_set():
            thread = threading.Thread(
                target=self._loop, name=f"worker-{len(self._threads) + 1}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def alive(self) -> int:
        """How many worker threads run."""
        return sum(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        """Ask the workers to end after their current unit (close the queue to wake them)."""
        self._stopping.set()

    def join(self, deadline: float) -> int:
        """Wait until the monotonic `deadline` for the workers; returns how many still run."""
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.alive()

    def _loop(self) -> None:
        worked = False  # since this worker last found the queue empty
        while not self._stopping.is_set():
            work = self._queue.get(timeout=WORKER_POLL)
            if work is None:
                if worked:  # idle after work (a first pass, a burst): hand freed pages back
                    give_back_memory()
                    worked = False
                continue
            worked = True
            try:
                handle(self._pipeline, self._queue, work)
            finally:
                self._queue.done(work)
