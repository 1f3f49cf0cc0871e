"""WorkQueue: debounce on an injected clock, new folders at once, jobs first, one worker per
folder, re-arming, close, and many threads at once. No sleeps: the fake clock is advanced and
blocked getters are woken; waits on threads are bounded joins."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import defaultdict

import pytest

from svimaged.core.clock import FakeClock, SystemClock
from svimaged.core.errors import StateError
from svimaged.daemon import queue as workqueue
from svimaged.daemon.queue import FolderWork, Job, Work, WorkQueue

SETTLE = 10.0


def make(clock: FakeClock, settle: float = SETTLE, known: set[str] | None = None) -> WorkQueue:
    if known is None:
        return WorkQueue(clock=clock, settle_seconds=settle)
    return WorkQueue(clock=clock, settle_seconds=settle, is_known=lambda f: f in known)


def now(q: WorkQueue) -> Work | None:
    return q.get(timeout=0)


# ---------------------------------------------------------------------------- debounce


def test_folder_is_due_settle_seconds_after_touch(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    assert now(q) is None
    fake_clock.advance(SETTLE - 0.001)
    assert now(q) is None
    fake_clock.advance(0.001)
    assert now(q) == FolderWork("Streamer")


def test_each_touch_restarts_the_settle_time(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    fake_clock.advance(SETTLE - 1)
    q.touch("Streamer")
    fake_clock.advance(SETTLE - 1)
    assert now(q) is None
    fake_clock.advance(1)
    assert now(q) == FolderWork("Streamer")


def test_storm_of_touches_is_one_unit_of_work(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    for _ in range(10_000):
        q.touch("Streamer")
        fake_clock.advance(0.0001)
    assert q.depth() == 1
    fake_clock.advance(SETTLE)
    work = now(q)
    assert work == FolderWork("Streamer")
    q.done(work)
    fake_clock.advance(SETTLE * 10)
    assert now(q) is None
    assert q.depth() == 0


def test_folders_come_out_in_due_order_after_retouch(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("A")
    fake_clock.advance(1)
    q.touch("B")
    fake_clock.advance(1)
    q.touch("A")  # A is now due after B
    fake_clock.advance(SETTLE - 1)
    assert now(q) == FolderWork("B")
    assert now(q) is None
    fake_clock.advance(1)
    assert now(q) == FolderWork("A")


# ---------------------------------------------------------------------------- new folders


def test_unknown_folder_is_handed_out_at_once_then_debounced(fake_clock: FakeClock) -> None:
    asked: list[str] = []

    def is_known(folder: str) -> bool:
        asked.append(folder)
        return False

    q = WorkQueue(clock=fake_clock, settle_seconds=SETTLE, is_known=is_known)
    q.touch("New")
    q.touch("New")  # more events of the same storm keep it due at once
    first = now(q)
    assert first == FolderWork("New")
    q.touch("New")  # still being recorded while the first pass runs
    q.done(first)
    assert now(q) is None
    fake_clock.advance(SETTLE)
    second = now(q)
    assert second == FolderWork("New")
    q.done(second)
    q.touch("New")  # still unknown, but its one immediate hand-out is spent
    assert now(q) is None
    fake_clock.advance(SETTLE)
    assert now(q) == FolderWork("New")
    assert asked == ["New"]  # never asked again once fast-tracked


def test_known_folder_is_not_fast_tracked(fake_clock: FakeClock) -> None:
    q = make(fake_clock, known={"Old"})
    q.touch("Old")
    assert now(q) is None


def test_is_known_asked_once_per_storm(fake_clock: FakeClock) -> None:
    calls: list[str] = []

    def is_known(folder: str) -> bool:
        calls.append(folder)
        return True

    q = WorkQueue(clock=fake_clock, settle_seconds=SETTLE, is_known=is_known)
    for _ in range(1000):
        q.touch("Streamer")
    assert calls == ["Streamer"]


def test_is_known_error_means_debounce(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_folder: str) -> bool:
        raise StateError("database is locked")

    q = WorkQueue(clock=fake_clock, settle_seconds=SETTLE, is_known=broken)
    with caplog.at_level(logging.WARNING, logger="svimaged.daemon.queue"):
        q.touch("Streamer")
    assert now(q) is None
    assert "folder=Streamer" in caplog.text
    fake_clock.advance(SETTLE)
    assert now(q) == FolderWork("Streamer")


# ---------------------------------------------------------------------------- jobs


def test_jobs_come_before_folders_in_fifo_order(fake_clock: FakeClock) -> None:
    q = make(fake_clock, known=set())
    q.touch("New")  # due at once, yet jobs win
    q.put(Job.REFRESH)
    q.put(Job.RESCAN)
    assert [now(q), now(q), now(q)] == [Job.REFRESH, Job.RESCAN, FolderWork("New")]


def test_a_queued_job_kind_is_not_queued_twice(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.put(Job.RESCAN)
    q.put(Job.RESCAN)
    q.put(Job.RETRY)
    assert q.depth() == 2
    assert now(q) == Job.RESCAN
    q.put(Job.RESCAN)  # the first one is running, not queued: this one counts
    assert q.depth() == 2
    assert q.in_progress() == 1
    assert [now(q), now(q), now(q)] == [Job.RETRY, Job.RESCAN, None]
    for job in (Job.RESCAN, Job.RETRY, Job.RESCAN):
        q.done(job)
    assert q.in_progress() == 0


# ---------------------------------------------------------------------------- in progress


def test_folder_in_progress_is_not_handed_out_twice_and_is_rearmed(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    fake_clock.advance(SETTLE)
    work = now(q)
    assert work == FolderWork("Streamer")
    q.touch("Streamer")  # a new file while the worker runs
    fake_clock.advance(SETTLE * 3)
    assert now(q) is None  # never to a second worker
    assert q.in_progress() == 1
    assert q.depth() == 0
    q.done(work)
    assert q.depth() == 1
    # it was quiet for longer than settle_seconds since that touch: due at once
    assert now(q) == FolderWork("Streamer")


def test_rearmed_folder_waits_for_settle_after_its_last_touch(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    fake_clock.advance(SETTLE)
    work = now(q)
    assert work is not None
    q.touch("Streamer")
    fake_clock.advance(1)
    q.done(work)
    fake_clock.advance(SETTLE - 1.5)
    assert now(q) is None
    fake_clock.advance(0.5)
    assert now(q) == FolderWork("Streamer")


def test_done_of_untouched_folder_removes_it(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    fake_clock.advance(SETTLE)
    work = now(q)
    assert work is not None
    assert (q.depth(), q.in_progress()) == (0, 1)
    q.done(work)
    assert (q.depth(), q.in_progress()) == (0, 0)
    fake_clock.advance(SETTLE * 5)
    assert now(q) is None


def test_done_of_work_not_in_progress_is_ignored(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    q.done(FolderWork("Streamer"))  # waiting, not running
    q.done(FolderWork("Other"))
    q.done(Job.RESCAN)
    assert (q.depth(), q.in_progress()) == (1, 0)


def test_depth_and_in_progress_count_folders_and_jobs(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    for name in ("A", "B", "C"):
        q.touch(name)
    q.put(Job.RETRY)
    assert (q.depth(), q.in_progress()) == (4, 0)
    job = now(q)
    fake_clock.advance(SETTLE)
    folder = now(q)
    assert job == Job.RETRY
    assert isinstance(folder, FolderWork)
    assert (q.depth(), q.in_progress()) == (2, 2)
    q.done(job)
    q.done(folder)
    assert (q.depth(), q.in_progress()) == (2, 0)


# ---------------------------------------------------------------------------- blocking


def _getter(q: WorkQueue, timeout: float | None, out: list[Work | None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(q.get(timeout=timeout)), daemon=True)
    thread.start()
    return thread


def test_close_wakes_a_blocked_get(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    out: list[Work | None] = []
    thread = _getter(q, None, out)
    q.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert out == [None]


def test_after_close_get_returns_none_and_intake_stops(fake_clock: FakeClock) -> None:
    q = make(fake_clock, known=set())
    q.touch("New")
    q.close()
    q.touch("Other")
    q.put(Job.RESCAN)
    assert q.get(timeout=5) is None  # at once, though work was waiting
    assert q.depth() == 1


def test_wake_lets_a_blocked_get_see_an_advanced_clock(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workqueue, "MAX_WAIT", 60.0)  # only wake() can cut the wait short
    q = make(fake_clock)
    q.touch("Streamer")
    out: list[Work | None] = []
    thread = _getter(q, 30.0, out)
    fake_clock.advance(SETTLE)
    q.wake()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert out == [FolderWork("Streamer")]


def test_blocked_get_notices_an_advanced_clock_within_max_wait(fake_clock: FakeClock) -> None:
    q = make(fake_clock)
    q.touch("Streamer")
    out: list[Work | None] = []
    thread = _getter(q, 30.0, out)
    fake_clock.advance(SETTLE)  # no wake(): the MAX_WAIT poll must find it
    thread.join(timeout=5)
    assert out == [FolderWork("Streamer")]


def test_touch_and_put_wake_a_blocked_get(fake_clock: FakeClock) -> None:
    q = make(fake_clock, known=set())
    results: list[Work | None] = []
    first = _getter(q, 30.0, results)
    q.put(Job.RETRY)
    first.join(timeout=5)
    second = _getter(q, 30.0, results)
    q.touch("New")
    second.join(timeout=5)
    assert results == [Job.RETRY, FolderWork("New")]


def test_get_times_out_with_none() -> None:
    q = WorkQueue(clock=SystemClock(), settle_seconds=60)
    q.touch("Streamer")
    started = time.monotonic()
    assert q.get(timeout=0.05) is None
    assert time.monotonic() - started >= 0.05


def test_get_wakes_when_a_folder_becomes_due_without_a_touch() -> None:
    q = WorkQueue(clock=SystemClock(), settle_seconds=0.2)
    started = time.monotonic()
    q.touch("Streamer")
    assert q.get(timeout=5) == FolderWork("Streamer")
    assert time.monotonic() - started >= 0.2


# ---------------------------------------------------------------------------- concurrency


def test_many_threads_lose_no_folder_and_never_share_one() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock, settle_seconds=0)
    folders = [f"S{i}" for i in range(150)]
    seq = itertools.count()
    last_touch: dict[str, int] = defaultdict(int)
    last_handout: dict[str, int] = defaultdict(lambda: -1)
    running: set[str] = set()
    clashes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def toucher(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(600):
            folder = rnd.choice(folders)
            mark = next(seq)
            with lock:
                last_touch[folder] = max(last_touch[folder], mark)
            q.touch(folder)

    def worker() -> None:
        while not stop.is_set():
            work = q.get(timeout=0.05)
            if not isinstance(work, FolderWork):
                continue
            mark = next(seq)
            with lock:
                if work.folder in running:
                    clashes.append(work.folder)
                running.add(work.folder)
                last_handout[work.folder] = mark
            time.sleep(0)  # yield inside the critical window so a second hand-out would show
            with lock:
                running.discard(work.folder)
            q.done(work)

    touchers = [threading.Thread(target=toucher, args=(i,)) for i in range(8)]
    workers = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for thread in workers + touchers:
        thread.start()
    for thread in touchers:
        thread.join(timeout=10)
    deadline = time.monotonic() + 10
    while (q.depth() or q.in_progress()) and time.monotonic() < deadline:
        q.wake()
        time.sleep(0.01)  # polling the condition; the assertions below do not depend on it
    stop.set()
    q.close()
    for thread in workers:
        thread.join(timeout=5)
    assert (q.depth(), q.in_progress()) == (0, 0)
    assert clashes == []
    touched = set(last_touch)
    assert touched == set(folders)
    late = [f for f in touched if last_handout[f] < last_touch[f]]
    assert late == []
