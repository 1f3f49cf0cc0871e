"""The scheduler: jobs only enqueue, a failing job is logged and stays scheduled, the thread
wakes on stop(). Jobs are made due by moving their `next_run` into the past."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
import schedule

from svimaged.daemon.queue import Job
from svimaged.daemon.scheduler import JobScheduler


class RecordingQueue:
    """A JobSink that remembers what was put."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.put_event = threading.Event()

    def put(self, job: Job) -> None:
        self.jobs.append(job)
        self.put_event.set()


def make_due(job: schedule.Job) -> None:
    job.next_run = dt.datetime.now() - dt.timedelta(seconds=1)


def next_run(job: schedule.Job) -> dt.datetime:
    assert job.next_run is not None
    return job.next_run


def by_tag(scheduler: JobScheduler, tag: str) -> schedule.Job:
    (job,) = [j for j in scheduler.jobs if tag in j.tags]
    return job


def test_queue_jobs_and_their_intervals() -> None:
    queue = RecordingQueue()
    scheduler = JobScheduler(queue, rescan_interval=21600)
    periods = {next(iter(j.tags)): (j.interval, j.unit) for j in scheduler.jobs}
    assert periods == {
        "enqueue-retry": (60, "seconds"),
        "enqueue-refresh": (3600, "seconds"),
        "enqueue-rescan": (21600, "seconds"),
    }
    scheduler.run_pending()
    assert queue.jobs == []  # nothing is due right after start


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("enqueue-retry", Job.RETRY),
        ("enqueue-refresh", Job.REFRESH),
        ("enqueue-rescan", Job.RESCAN),
    ],
)
def test_due_job_only_enqueues(tag: str, expected: Job) -> None:
    queue = RecordingQueue()
    scheduler = JobScheduler(queue, rescan_interval=600)
    job = by_tag(scheduler, tag)
    make_due(job)
    scheduler.run_pending()
    assert queue.jobs == [expected]
    assert next_run(job) > dt.datetime.now()
    scheduler.run_pending()
    assert queue.jobs == [expected]  # not due again yet


def test_failing_job_is_logged_with_traceback_and_runs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("summary exploded")

    scheduler = JobScheduler(RecordingQueue(), rescan_interval=600)
    job = scheduler.every(600, "summary", broken)
    with caplog.at_level(logging.ERROR, logger="svimaged.daemon.scheduler"):
        make_due(job)
        scheduler.run_pending()
        make_due(job)
        scheduler.run_pending()
    assert len(calls) == 2
    failures = [r for r in caplog.records if "scheduled job failed" in r.getMessage()]
    assert len(failures) == 2
    assert "job=summary" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], RuntimeError)
    assert job in scheduler.jobs
    assert next_run(job) > dt.datetime.now()


def test_a_failing_job_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    queue = RecordingQueue()
    scheduler = JobScheduler(queue, rescan_interval=600)
    broken = scheduler.every(60, "broken", lambda: 1 / 0)
    make_due(broken)
    make_due(by_tag(scheduler, "enqueue-retry"))
    with caplog.at_level(logging.ERROR, logger="svimaged.daemon.scheduler"):
        scheduler.run_pending()
    assert queue.jobs == [Job.RETRY]
    assert any(r.exc_info and isinstance(r.exc_info[1], ZeroDivisionError) for r in caplog.records)


def test_fractional_interval_and_bad_interval() -> None:
    scheduler = JobScheduler(RecordingQueue(), rescan_interval=600)
    before = dt.datetime.now()
    job = scheduler.every(0.5, "watchdog", lambda: None)
    assert before + dt.timedelta(seconds=0.4) < next_run(job)
    assert next_run(job) <= dt.datetime.now() + dt.timedelta(seconds=0.5)
    with pytest.raises(ValueError, match="positive"):
        scheduler.every(0, "never", lambda: None)


def test_uses_its_own_scheduler_not_the_global_one() -> None:
    schedule.clear()
    JobScheduler(RecordingQueue(), rescan_interval=600)
    assert schedule.jobs == []


def test_thread_runs_due_jobs_and_stops_promptly() -> None:
    queue = RecordingQueue()
    scheduler = JobScheduler(queue, rescan_interval=600)
    make_due(by_tag(scheduler, "enqueue-rescan"))
    scheduler.start()
    try:
        assert queue.put_event.wait(5.0)
        assert scheduler.is_alive()
    finally:
        assert scheduler.stop(timeout=2.0)
    assert not scheduler.is_alive()
    assert queue.jobs == [Job.RESCAN]


def test_stop_without_start() -> None:
    assert JobScheduler(RecordingQueue(), rescan_interval=600).stop()
