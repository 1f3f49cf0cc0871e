"""Tests for svimaged.daemon.workers: one unit of work at a time, failures logged with the
work key, workers that survive whatever a unit raises."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from svimaged.core.clock import FakeClock
from svimaged.core.errors import ShuttingDownError
from svimaged.daemon.queue import FolderWork, Job, WorkQueue
from svimaged.daemon.workers import WorkerPool, handle


class FakePipeline:
    """Records what the workers asked for; folders named `bad*` raise."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._cond = threading.Condition()

    def _record(self, call: str) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def wait_for(self, calls: set[str], timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: calls <= set(self.calls), timeout)

    def process_folder(self, folder: str) -> object:
        self._record(f"folder:{folder}")
        if folder.startswith("bad"):
            raise RuntimeError(f"engine exploded on {folder}")
        return None

    def rescan(self, enqueue: Callable[[str], None]) -> int:
        self._record("rescan")
        enqueue("found-by-rescan")
        return 1

    def retry_due(self, enqueue: Callable[[str], None]) -> object:
        self._record("retry")
        enqueue("retried")
        return None

    def refresh_stale(self, enqueue: Callable[[str], None]) -> object:
        self._record("refresh")
        raise ShuttingDownError("fetcher closed")

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        self._record(f"cleanup:{dry_run}")
        return {"total_cleaned": 0}


class TouchQueue:
    """A QueueLike that only records touches (handle() never calls get/done)."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def get(self, timeout: float | None = None) -> None:
        return None

    def done(self, work: object) -> None:
        pass

    def touch(self, folder: str) -> None:
        self.touched.append(folder)


# ------------------------------------------------------------------------------ unit tests


def test_handle_dispatches_every_kind_of_work() -> None:
    engine, queue = FakePipeline(), TouchQueue()
    handle(engine, queue, FolderWork("alice"))
    handle(engine, queue, Job.RESCAN)
    handle(engine, queue, Job.RETRY)
    handle(engine, queue, Job.CLEANUP)
    assert engine.calls == ["folder:alice", "rescan", "retry", "cleanup:False"]
    assert queue.touched == ["found-by-rescan", "retried"]


def test_handle_logs_failures_with_traceback_and_key(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakePipeline()
    with caplog.at_level(logging.INFO, logger="svimaged.daemon.workers"):
        handle(engine, TouchQueue(), FolderWork("bad one"))
        handle(engine, TouchQueue(), Job.REFRESH)
    failed = [r for r in caplog.records if "work failed" in r.getMessage()]
    assert len(failed) == 1
    assert 'folder="bad one"' in failed[0].getMessage()
    assert failed[0].exc_info is not None and "exploded" in str(failed[0].exc_info[1])
    abandoned = [r for r in caplog.records if "work abandoned" in r.getMessage()]
    assert len(abandoned) == 1 and "job=refresh" in abandoned[0].getMessage()
    assert abandoned[0].levelno == logging.INFO


def test_workers_survive_exceptions_and_keep_working(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakePipeline()
    queue = WorkQueue(clock=FakeClock(), settle_seconds=0, is_known=lambda _f: False)
    pool = WorkerPool(engine, queue, count=2)
    with caplog.at_level(logging.ERROR, logger="svimaged.daemon.workers"):
        pool.start()
        for folder in ("bad-1", "bad-2", "bad-3", "good-1"):
            queue.touch(folder)
        queue.put(Job.RESCAN)
        want = {"folder:bad-1", "folder:bad-2", "folder:bad-3", "folder:good-1", "rescan"}
        assert engine.wait_for(want | {"folder:found-by-rescan"})
        assert pool.alive() == 2
        queue.touch("good-2")  # still taken after three failures
        assert engine.wait_for({"folder:good-2"})
    pool.stop()
    queue.close()
    assert pool.join(time.monotonic() + 10.0) == 0
    assert queue.in_progress() == 0  # done() was called for the failed folders too
    failed = sorted(r.getMessage() for r in caplog.records if "work failed" in r.getMessage())
    assert failed == [f"work failed folder=bad-{n}" for n in (1, 2, 3)]


def test_stopped_pool_does_not_start_again() -> None:
    queue = WorkQueue(clock=FakeClock(), settle_seconds=0)
    pool = WorkerPool(FakePipeline(), queue, count=3)
    pool.stop()
    pool.start()
    assert pool.alive() == 0


class ScriptQueue:
    """Hands out `script` (None: the queue was empty for a poll); stops `pool` at its end."""

    def __init__(self, script: list[FolderWork | None]) -> None:
        self.script = script
        self.pool: WorkerPool | None = None

    def get(self, timeout: float | None = None) -> FolderWork | None:
        if not self.script:
            assert self.pool is not None
            self.pool.stop()
            return None
        return self.script.pop(0)

    def done(self, work: object) -> None:
        pass

    def touch(self, folder: str) -> None:
        pass


def test_worker_gives_memory_back_once_when_idle_after_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given: list[list[str]] = []
    engine = FakePipeline()
    monkeypatch.setattr(
        "svimaged.daemon.workers.give_back_memory", lambda: given.append(list(engine.calls))
    )
    a, b, c = FolderWork("a"), FolderWork("b"), FolderWork("c")
    queue = ScriptQueue([None, a, b, None, None, None, c, None, None])
    pool = WorkerPool(engine, queue, count=1)
    queue.pool = pool
    pool.start()
    assert pool.join(time.monotonic() + 10.0) == 0
    # Not while idle from the start, once after a and b, once after c: never per folder.
    assert given == [["folder:a", "folder:b"], ["folder:a", "folder:b", "folder:c"]]
