"""DaemonApi: the control API over a real engine, fake Twitch on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svimaged.config import parse_config
from svimaged.control.jobs import JobRegistry
from svimaged.control.service import DaemonApi
from svimaged.core.clock import FakeClock
from svimaged.core.errors import FetchError, NotFoundError, SvimagedError, UnsafeNameError
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import ALICE_ID, BOB_ID, FakeTwitch
from svimaged.demo.pictures import make_jpeg
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import PassSummary, Pipeline
from svimaged.pipeline.resources import build_resources

from .test_server import get_json, running


@pytest.fixture
def api(tmp_path: Path, fake: FakeTwitch) -> Iterator[DaemonApi]:
    clock = FakeClock(start=time.time())
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    engine = Pipeline(build_resources(parse_config(data, {}), clock))
    queued: list[str] = []
    daemon_api = DaemonApi(engine, enqueue=queued.append, queue_depth=lambda: len(queued))
    yield daemon_api
    daemon_api.stop()
    daemon_api.jobs.join(5)
    engine.close()


def test_stats_before_and_after_a_sync(api: DaemonApi) -> None:
    before = api.stats()
    assert before["total_cached"] == 0 and before["last_sync"] is None
    job = api.start_sync()
    result = api.wait_job(job, 30)
    assert result["state"] == "done"
    assert result["downloaded"] == 12 and result["failed"] == 0
    assert result["nfo_written"] == 13
    after = api.stats()
    assert after["total_cached"] == 12
    assert after["profiles"] == {"cached_profiles": 4, "failed_downloads": 0}
    assert isinstance(after["last_sync"], str) and after["last_sync"].endswith("Z")
    assert api.job(job)["state"] == "done"


def test_streamer_by_id_and_login(api: DaemonApi) -> None:
    api.wait_job(api.start_sync(), 30)
    by_id = api.streamer(ALICE_ID)
    by_login = api.streamer("Alice_Plays")
    assert by_id == by_login
    assert set(by_id) == {
        "streamer_id",
        "username",
        "display_name",
        "image_url",
        "original_image_url",
        "cached",
        "last_error",
    }
    assert by_id["cached"] is True
    assert by_id["image_url"] == f"/data/images/profiles/profile_avatar_{ALICE_ID}.jpg"
    assert str(by_id["original_image_url"]).startswith("http://127.0.0.1:")


def test_unknown_and_bad_names(api: DaemonApi) -> None:
    with pytest.raises(NotFoundError):
        api.streamer("nobody_here")
    for bad in ["../etc", "a/b", "", ".hidden", "x" * 40, "bob\x00"]:
        with pytest.raises(UnsafeNameError):
            api.streamer(bad)
    with pytest.raises(UnsafeNameError):
        api.category("bad\x00name")
    with pytest.raises(NotFoundError):
        api.category("Never Played This")
    with pytest.raises(NotFoundError):
        api.job("sync-999")


def test_download_streamer_asks_helix_for_an_unknown_login(
    api: DaemonApi, fake: FakeTwitch, tmp_path: Path
) -> None:
    info = api.download_streamer("bob_speedruns", force=False)
    assert info["cached"] is True and info["streamer_id"] == BOB_ID
    assert (tmp_path / f"rec/.images/profiles/profile_avatar_{BOB_ID}.jpg").is_file()
    cdn = fake.hits["cdn"]
    forced = api.download_streamer(BOB_ID, force=True)
    assert forced["cached"] is True and fake.hits["cdn"] == cdn + 1


def test_download_failure_is_a_502_error_with_the_reason(api: DaemonApi, fake: FakeTwitch) -> None:
    fake.serve_html_for(fake.url_for("profile", BOB_ID))
    with pytest.raises(FetchError) as info:
        api.download_streamer("bob_speedruns", force=True)
    assert info.value.http_status == 502
    view = api.streamer("bob_speedruns")
    assert view["cached"] is False and view["last_error"]
    fake.set_image(fake.url_for("profile", BOB_ID), make_jpeg(64, 64, seed=1))
    assert api.download_streamer("bob_speedruns", force=True)["cached"] is True


def test_category_with_slash_in_name(api: DaemonApi, tmp_path: Path) -> None:
    info = api.download_category("Pokémon Scarlet/Violet", force=False)
    assert info["slug"] == "pokemon_scarlet_violet"
    assert info["image_url"] == "/data/images/categories/pokemon_scarlet_violet.jpg"
    assert api.category("pokémon scarlet/violet")["cached"] is True
    assert (tmp_path / "rec/.images/categories/pokemon_scarlet_violet.jpg").is_file()


def test_cleanup_dry_run_and_metrics(api: DaemonApi) -> None:
    api.wait_job(api.start_sync(), 30)
    result = api.cleanup(dry_run=True)
    assert result["total_cleaned"] == 0 and result["dry_run"] is True
    text = api.metrics()
    assert "# TYPE svimaged_images_cached gauge" in text
    assert 'svimaged_images_cached{kind="profile"} 4' in text
    assert "svimaged_downloads_total 11" in text  # + 1 local thumb imported
    assert "svimaged_nfo_writes_total 13" in text
    for line in text.splitlines():
        assert line.startswith("#") or line.startswith("svimaged_")


def test_metrics_and_stats_show_each_notify_server(api: DaemonApi) -> None:
    notify = api.pipeline.res.state.notify
    notify.register([("kodi", "kodi", "http://k:8080"), ("plex.main", "plex", "http://p")])
    notify.sent("kodi", 1_780_000_000.0)
    notify.failed("plex.main", 1_780_000_001.0, "connection refused")
    text = api.metrics()
    assert "# TYPE svimaged_notify_sent_total counter" in text
    assert 'svimaged_notify_sent_total{server="kodi",type="kodi"} 1' in text
    assert 'svimaged_notify_failed_total{server="plex.main",type="plex"} 1' in text
    assert (
        'svimaged_notify_last_success_timestamp_seconds{server="kodi",type="kodi"} 1780000000.0'
        in text
    )
    assert (
        'svimaged_notify_last_success_timestamp_seconds{server="plex.main",type="plex"} 0' in text
    )
    assert api.stats()["notify"]["plex.main"]["last_error"] == "connection refused"


def test_shutting_down_refuses_new_jobs(api: DaemonApi) -> None:
    api.stop()
    assert api.shutting_down()
    with pytest.raises(Exception, match="shutting down"):
        api.start_sync()


def test_a_cleanup_or_sync_that_crashes_is_an_internal_error(
    api: DaemonApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the pipeline")

    monkeypatch.setattr(api.pipeline, "cleanup", crash)
    monkeypatch.setattr(api.pipeline, "full_pass", crash)
    with pytest.raises(SvimagedError) as info:
        api.cleanup(dry_run=True)
    assert (info.value.http_status, info.value.code) == (500, "internal")
    job = api.start_sync()
    with pytest.raises(SvimagedError, match=f"sync job {job} failed: internal error"):
        api.wait_job(job, 30)
    assert api.job(job)["error"] == "internal error: RuntimeError"


def test_sync_requests_coalesce_and_a_cleanup_does_not_wait_behind_them(
    api: DaemonApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the control socket: while a sync runs, 100 `POST /api/images/sync` all get the
    one queued sync's id (202); a cleanup then waits for two syncs, not 101; and with the
    queue full a new job is 503 `busy` in the JSON error shape."""
    release, running_now = threading.Event(), threading.Event()
    passes: list[str] = []
    real_pass = api.pipeline.full_pass

    def slow_pass(**kwargs: Any) -> PassSummary:
        passes.append(threading.current_thread().name)
        running_now.set()
        release.wait(30)
        return real_pass(**kwargs)

    monkeypatch.setattr(api.pipeline, "full_pass", slow_pass)
    with running(api) as (_server, path):
        status, first = get_json(path, "POST", "/api/images/sync")
        assert (status, first["queued"]) == (202, True)
        assert running_now.wait(30)
        ids = {get_json(path, "POST", "/api/images/sync")[1]["job_id"] for _ in range(100)}
        assert len(ids) == 1 and first["job_id"] not in ids
        answers: list[tuple[int, Any]] = []
        cleanup = threading.Thread(
            target=lambda: answers.append(get_json(path, "POST", "/api/images/cleanup?dry_run=1"))
        )
        cleanup.start()
        release.set()
        cleanup.join(60)
        assert answers and answers[0][0] == 200, answers
        assert len(passes) == 3  # the running sync, the one queued, the cleanup's own pass
        api.jobs.close(timeout=0)
        api.jobs = JobRegistry(api.res.clock, max_queued=0)
        status, body = get_json(path, "POST", "/api/images/sync")
        assert status == 503
        assert body == {"error": {"code": "busy", "message": body["error"]["message"]}}
        assert "queued already" in body["error"]["message"]
