"""JobRegistry: jobs run one at a time; a failed job is an error to whoever waits for it,
never an empty success (`200 {}`), over the control socket too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.control.jobs import JobRegistry, Progress
from svimaged.core.clock import FakeClock
from svimaged.core.errors import BusyError, NotFoundError, ShuttingDownError, SvimagedError

from .test_server import FakeApi, get_json, make_images, running


def boom(progress: Progress) -> dict[str, object]:
    raise RuntimeError("a bug in the pass")


def fine(progress: Progress) -> dict[str, object]:
    progress(1, 1)
    return {"total_cleaned": 0}


@pytest.fixture
def jobs() -> Iterator[JobRegistry]:
    registry = JobRegistry(FakeClock())
    yield registry
    registry.close()


def test_unexpected_exception_is_a_500_error_not_an_empty_result(jobs: JobRegistry) -> None:
    with pytest.raises(SvimagedError) as info:
        jobs.run("cleanup", boom, 30)
    assert (info.value.http_status, info.value.code) == (500, "internal")
    assert str(info.value) == (
        "cleanup job cleanup-1 failed: internal error: RuntimeError (see the log)"
    )
    view = jobs.get("cleanup-1")
    assert view["state"] == "done"
    assert view["error"] == "internal error: RuntimeError"


def test_memory_is_given_back_after_each_job_once_it_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []
    given = threading.Semaphore(0)

    def give_back() -> bool:
        events.append("give back")
        given.release()
        return True

    def job(progress: Progress) -> dict[str, object]:
        events.append("job")
        return {}

    monkeypatch.setattr("svimaged.control.jobs.give_back_memory", give_back)
    registry = JobRegistry(FakeClock())
    try:
        registry.run("sync", job, 30)
        assert given.acquire(timeout=10)
        with pytest.raises(SvimagedError):  # a failed pass freed memory too
            registry.run("cleanup", boom, 30)
        assert given.acquire(timeout=10)
        assert events == ["job", "give back", "give back"]
    finally:
        registry.close()


def test_outcome_raises_the_error_of_a_failed_job_and_returns_a_good_one(
    jobs: JobRegistry,
) -> None:
    failed = jobs.submit("sync", boom)
    with pytest.raises(SvimagedError, match="sync job sync-1 failed"):
        jobs.outcome(failed, 30)
    good = jobs.submit("sync", fine)
    view = jobs.outcome(good, 30)
    assert view["state"] == "done" and view["total_cleaned"] == 0 and "error" not in view
    assert jobs.run("cleanup", fine, 30) == {"total_cleaned": 0}


def test_a_svimaged_error_keeps_its_own_status(jobs: JobRegistry) -> None:
    def missing(progress: Progress) -> dict[str, object]:
        raise NotFoundError("no such thing")

    with pytest.raises(NotFoundError, match="no such thing"):
        jobs.run("cleanup", missing, 30)


def blocked(registry: JobRegistry) -> threading.Event:
    """Start a job that runs until the returned event is set (the queue then fills)."""
    release, started = threading.Event(), threading.Event()

    def blocking(progress: Progress) -> dict[str, object]:
        started.set()
        release.wait(30)
        return {}

    registry.submit("sync", blocking)
    assert started.wait(30)
    return release


def test_a_job_cancelled_by_shutdown_is_503_not_an_empty_result() -> None:
    jobs = JobRegistry(FakeClock())
    release = blocked(jobs)
    queued = jobs.submit("cleanup", fine)
    closer = threading.Thread(target=jobs.close, kwargs={"timeout": 30})
    closer.start()
    with pytest.raises(ShuttingDownError, match="cancelled"):
        jobs.outcome(queued, 30)
    release.set()
    closer.join(30)


def test_close_without_waiting_returns_at_once_and_join_waits_for_the_running_job() -> None:
    """The daemon's stop drops queued jobs without waiting (its budget is shared with the
    workers), then joins the running job against its own deadline."""
    jobs = JobRegistry(FakeClock())
    release = blocked(jobs)
    closer = threading.Thread(target=jobs.close, kwargs={"timeout": 0})
    closer.start()
    closer.join(5)  # would block until the job ends if close() waited for it
    assert not closer.is_alive()
    assert jobs.join(0) is False
    release.set()
    assert jobs.join(30) is True


def test_a_queued_sync_absorbs_the_syncs_asked_for_after_it(jobs: JobRegistry) -> None:
    release = blocked(jobs)
    runs: list[int] = []

    def sync(progress: Progress) -> dict[str, object]:
        runs.append(1)
        return {"downloaded": 0}

    ids = {jobs.submit("sync", sync, key="sync") for _ in range(100)}
    assert ids == {"sync-2"}
    release.set()
    assert jobs.outcome("sync-2", 30)["state"] == "done"
    assert runs == [1]
    assert jobs.submit("sync", sync, key="sync") == "sync-3"  # none queued now: a new one


def test_the_job_queue_is_bounded_and_refuses_with_busy() -> None:
    registry = JobRegistry(FakeClock(), max_queued=2)
    release = blocked(registry)
    try:
        registry.submit("sync", fine, key="sync")
        registry.submit("cleanup", fine, key="cleanup dry_run=True")
        with pytest.raises(BusyError, match="2 jobs are queued") as busy:
            registry.submit("cleanup", fine, key="cleanup dry_run=False")
        assert (busy.value.http_status, busy.value.code) == (503, "busy")
        assert registry.submit("sync", fine, key="sync") == "sync-2"  # absorbed, not refused
    finally:
        release.set()
        registry.close()


class JobApi(FakeApi):
    """FakeApi whose sync and cleanup run through a real JobRegistry with a failing job."""

    def __init__(self, images_root: Path) -> None:
        super().__init__(images_root)
        self.jobs = JobRegistry(FakeClock())

    def start_sync(self, *, full: bool = False) -> str:
        return self.jobs.submit("sync", boom)

    def job(self, job_id: str) -> dict[str, object]:
        return self.jobs.get(job_id)

    def wait_job(self, job_id: str, timeout: float) -> dict[str, object]:
        return self.jobs.outcome(job_id, timeout)

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        return self.jobs.run("cleanup", boom, 30)


@pytest.fixture
def job_api(tmp_path: Path) -> Iterator[JobApi]:
    make_images(tmp_path / ".images")
    api = JobApi(tmp_path / ".images")
    yield api
    api.jobs.close()


@pytest.mark.parametrize("url", ["/api/images/cleanup", "/api/images/cleanup?dry_run=1"])
def test_failed_cleanup_answers_500_with_the_error_body(job_api: JobApi, url: str) -> None:
    with running(job_api) as (_server, path):
        status, body = get_json(path, "POST", url)
    assert status == 500
    assert body["error"]["code"] == "internal"
    assert "cleanup job cleanup-1 failed: internal error: RuntimeError" in body["error"]["message"]


def test_failed_sync_with_wait_answers_500_and_the_job_shows_the_error(job_api: JobApi) -> None:
    with running(job_api) as (_server, path):
        status, body = get_json(path, "POST", "/api/images/sync?wait=1")
        assert status == 500
        assert body["error"]["code"] == "internal"
        status, view = get_json(path, "GET", "/api/jobs/sync-1")
    assert status == 200
    assert (view["state"], view["error"]) == ("done", "internal error: RuntimeError")
    assert json.dumps(view)  # the job view stays plain JSON
