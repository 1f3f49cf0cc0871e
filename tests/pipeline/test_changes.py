"""The daemon's side of the pipeline: per-folder processing, stat-only rescans, maintenance."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import ALICE_ID, BOB_ID, DANA_ID, FakeTwitch
from svimaged.demo.pictures import make_jpeg
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources

ALICE_E1 = "Alice Plays/Season 2026-11/alice_plays - S202611E01 - Morning coffee & chat"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())


def make_engine(tmp_path: Path, fake: FakeTwitch, clock: FakeClock, **extra: Any) -> Pipeline:
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    data.update(extra)
    return Pipeline(build_resources(parse_config(data, {}), clock))


@pytest.fixture
def engine(tmp_path: Path, fake: FakeTwitch, clock: FakeClock) -> Iterator[Pipeline]:
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    eng = make_engine(tmp_path, fake, clock)
    eng.full_pass()
    yield eng
    eng.close()


@pytest.fixture
def no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any metadata file is read."""

    def refuse(path: object) -> Any:
        raise AssertionError(f"read {path}")

    import svimaged.library.metadata
    import svimaged.pipeline.reading

    monkeypatch.setattr(svimaged.library.metadata, "read_sidecar", refuse)
    monkeypatch.setattr(svimaged.library.metadata, "read_episode_nfo", refuse)
    monkeypatch.setattr(svimaged.pipeline.reading, "read_tvshow_nfo", refuse)


def age(path: Path, clock: FakeClock, seconds: float = 3600) -> None:
    os.utime(path, (clock.time() - seconds,) * 2)


def test_unchanged_folder_costs_a_listing_and_nothing_else(
    engine: Pipeline, fake: FakeTwitch, no_reads: None
) -> None:
    hits = dict(fake.hits)
    summary = engine.process_folder("Alice Plays")
    assert summary.recordings == 0 and summary.nfo_written == [] and summary.cached == []
    assert dict(fake.hits) == hits


def test_rescan_of_unchanged_tree_enqueues_nothing_and_reads_no_file(
    engine: Pipeline, no_reads: None
) -> None:
    queued: list[str] = []
    assert engine.rescan(queued.append) == 1  # dana's recording is still being written
    assert queued == ["dana_draws"]


def test_recorder_rewriting_an_nfo_gets_it_merged_again_once(
    engine: Pipeline, tmp_path: Path, clock: FakeClock
) -> None:
    nfo = tmp_path / "rec" / f"{ALICE_E1}.nfo"
    nfo.write_text(
        "<episodedetails><title>Morning coffee</title>"
        "<thumb>../../.media/artwork/7/stream_1.jpg</thumb></episodedetails>"
    )
    age(nfo, clock, 30)
    first = engine.process_folder("Alice Plays")
    assert first.nfo_written == [str(nfo)]
    text = nfo.read_text()
    assert ".media" not in text and f"artwork/{ALICE_ID}/stream_40000000001.jpg" in text
    assert "<title>Morning coffee</title>" in text  # the recorder's title is kept
    again = engine.process_folder("Alice Plays")  # the event of our own write
    assert again.nfo_written == [] and again.recordings == 0


def test_new_recording_is_processed_alone(
    engine: Pipeline, tmp_path: Path, clock: FakeClock, fake: FakeTwitch
) -> None:
    folder = tmp_path / "rec" / "Bob Speedruns" / "2026" / "11"
    video = folder / "bob_speedruns - S202611E02 - Second try.mkv"
    video.write_bytes(b"x")
    age(video, clock)
    summary = engine.process_folder("Bob Speedruns")
    assert summary.recordings == 1
    assert summary.nfo_written == [str(video.with_suffix(".nfo"))]


def test_growing_recording_gets_profile_now_and_nfo_when_finished(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    root = tmp_path / "rec"
    video = root / "dana_draws" / "dana_draws - S202611E01 - Live now.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"x")
    eng = make_engine(tmp_path, fake, clock)
    try:
        assert not eng.is_known("dana_draws")
        first = eng.process_folder("dana_draws")
        assert (root / f".images/profiles/profile_avatar_{DANA_ID}.jpg").is_file()
        assert not video.with_suffix(".nfo").exists()
        assert first.pending == 1
        assert eng.is_known("dana_draws")
        with video.open("ab") as handle:
            handle.write(b"more")
        age(video, clock)
        second = eng.process_folder("dana_draws")
        # the episode NFO, and tvshow.nfo gains the season's poster now that it has a
        # finished recording (no season art for a season that would show up empty)
        assert sorted(second.nfo_written) == sorted(
            [str(root / "dana_draws" / "tvshow.nfo"), str(video.with_suffix(".nfo"))]
        )
        tvshow = (root / "dana_draws" / "tvshow.nfo").read_text()
        assert 'type="season" season="202611"' in tvshow
        assert eng.process_folder("dana_draws").recordings == 0
    finally:
        eng.close()


def test_removed_folder_is_enqueued_and_forgotten(engine: Pipeline, tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(tmp_path / "rec" / "Bob Speedruns")
    queued: list[str] = []
    engine.rescan(queued.append)
    assert "Bob Speedruns" in queued
    engine.process_folder("Bob Speedruns")
    assert not engine.is_known("Bob Speedruns")
    assert engine.res.state.recordings.signatures("Bob Speedruns") == {}


def test_retry_due_caches_and_reopens_the_nfos_that_need_it(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    fake.serve_html_for(fake.url_for("profile", BOB_ID))
    eng = make_engine(tmp_path, fake, clock)
    try:
        assert eng.full_pass().failed == 1
        queued: list[str] = []
        assert eng.retry_due(queued.append).cached == []  # not due yet
        fake.set_image(fake.url_for("profile", BOB_ID), make_jpeg(64, 64, seed=3))
        clock.advance(61)
        done = eng.retry_due(queued.append)
        target = tmp_path / "rec" / f".images/profiles/profile_avatar_{BOB_ID}.jpg"
        assert done.cached == [str(target)]
        assert queued == ["Bob Speedruns"]
        eng.process_folder("Bob Speedruns")
        assert str(target) in (tmp_path / "rec" / "Bob Speedruns" / "tvshow.nfo").read_text()
    finally:
        eng.close()


def test_refresh_refetches_a_cached_file_deleted_from_disk(
    engine: Pipeline, tmp_path: Path, fake: FakeTwitch
) -> None:
    target = tmp_path / "rec" / f".images/profiles/profile_avatar_{ALICE_ID}.jpg"
    target.unlink()
    summary = engine.refresh_stale(lambda _f: None)
    assert summary.cached == [str(target)]
    assert target.is_file()
    assert engine.refresh_stale(lambda _f: None).cached == []


def test_credentials_added_later_look_at_everything_again(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    offline = make_engine(tmp_path, fake, clock, twitch={"client_id": "", "client_secret": ""})
    try:
        offline.full_pass()
    finally:
        offline.close()
    assert not (tmp_path / "rec" / ".images" / "profiles").exists()
    online = make_engine(tmp_path, fake, clock)
    try:
        summary = online.full_pass()
    finally:
        online.close()
    assert any(f"profile_avatar_{ALICE_ID}" in p for p in summary.cached)
    show = (tmp_path / "rec" / "Alice Plays" / "tvshow.nfo").read_text()
    assert f"profile_avatar_{ALICE_ID}.jpg" in show


def test_helix_failure_marks_recordings_for_another_look(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    fake.fail("games", 500, times=2)  # the call and its one retry
    eng = make_engine(tmp_path, fake, clock)
    try:
        first = eng.full_pass()
        assert first.errors >= 1
        assert not (tmp_path / "rec" / ".images" / "categories").exists()
        clock.advance(60)
        second = eng.full_pass()
    finally:
        eng.close()
    assert any("categories/just_chatting.jpg" in p for p in second.cached)


def test_quick_rescan_stats_folders_only_and_sees_new_files(
    engine: Pipeline,
    tmp_path: Path,
    clock: FakeClock,
    no_reads: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert engine.rescan(lambda _f: None) == 1  # the first rescan of an engine is full
    import svimaged.pipeline.rescan

    def no_full_scan(*_a: object, **_k: object) -> object:
        raise AssertionError("a quick rescan must not scan every file")

    monkeypatch.setattr(svimaged.pipeline.rescan, "scan_tree", no_full_scan)
    queued: list[str] = []
    assert engine.rescan(queued.append) == 1
    assert queued == ["dana_draws"]  # still being written: always looked at
    video = (
        tmp_path / "rec" / "Bob Speedruns" / "2026" / "11" / "bob_speedruns - S202611E09 - New.mkv"
    )
    video.write_bytes(b"x")
    queued.clear()
    engine.rescan(queued.append)
    assert sorted(queued) == ["Bob Speedruns", "dana_draws"]


def test_quick_rescan_misses_in_place_edits_that_the_daily_full_one_sees(
    engine: Pipeline, tmp_path: Path, clock: FakeClock
) -> None:
    engine.rescan(lambda _f: None)  # full
    nfo = tmp_path / "rec" / f"{ALICE_E1}.nfo"
    folder_mtime = nfo.parent.stat().st_mtime_ns
    with nfo.open("r+b") as handle:  # an editor writing in place: the folder is unchanged
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n")
    os.utime(nfo.parent, ns=(folder_mtime, folder_mtime))
    queued: list[str] = []
    engine.rescan(queued.append)
    assert "Alice Plays" not in queued
    clock.advance(86400)
    engine.rescan(queued.append)  # a day later: full
    assert "Alice Plays" in queued


def test_our_own_writes_do_not_make_the_folder_look_changed(
    engine: Pipeline, tmp_path: Path, clock: FakeClock
) -> None:
    engine.rescan(lambda _f: None)
    nfo = tmp_path / "rec" / f"{ALICE_E1}.nfo"
    nfo.write_text("<episodedetails><title>Recorder rewrote me</title></episodedetails>")
    age(nfo, clock, 30)
    assert engine.process_folder("Alice Plays").nfo_written == [str(nfo)]
    queued: list[str] = []
    engine.rescan(queued.append)
    assert "Alice Plays" not in queued


def test_unchanged_folder_without_remembered_mtimes_gets_them(engine: Pipeline) -> None:
    engine.res.state.folders.set_dirs("Alice Plays", [])  # as after an upgrade from an older state
    assert not engine.res.state.folders.has_dirs("Alice Plays")
    assert engine.process_folder("Alice Plays").recordings == 0
    assert engine.res.state.folders.has_dirs("Alice Plays")
    engine.rescan(lambda _f: None)  # full
    queued: list[str] = []
    engine.rescan(queued.append)  # quick
    assert "Alice Plays" not in queued


# -- run --once and sync use the quick path -------------------------------------------------


def count_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every streamer folder listed file by file from now on."""
    import svimaged.library.scan
    import svimaged.pipeline.changes

    scanned: list[str] = []
    real = svimaged.library.scan.scan_streamer

    def scan(recordings: Path, name: str, **kw: Any) -> Any:
        scanned.append(name)
        return real(recordings, name, **kw)

    monkeypatch.setattr(svimaged.pipeline.changes, "scan_streamer", scan)
    monkeypatch.setattr(svimaged.library.scan, "scan_streamer", scan)
    return scanned


def test_a_second_full_pass_lists_only_folders_that_changed(
    engine: Pipeline, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = count_scans(monkeypatch)
    clock.advance(60)
    unchanged = engine.full_pass()
    assert scanned == ["dana_draws"]  # only the folder with a recording still being written
    assert all("/dana_draws/" in path for path in unchanged.nfo_written)  # it has settled now
    assert unchanged.streamers == 5
    assert unchanged.recordings == 7  # from the state: nothing else was listed
    new = (
        tmp_path / "rec" / "Bob Speedruns" / "2026" / "11" / "bob_speedruns - S202611E02 - more.mkv"
    )
    new.write_bytes(b"v")
    age(new, clock)
    scanned.clear()
    engine.full_pass()
    assert scanned == ["Bob Speedruns"]  # dana's recording settled in the pass before
    assert new.with_suffix(".nfo").is_file()


def test_full_true_and_a_day_later_list_every_folder(
    engine: Pipeline, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    nfo = tmp_path / "rec" / f"{ALICE_E1}.nfo"
    nfo.write_bytes(nfo.read_bytes().replace(b"<studio>Twitch</studio>", b""))  # in place
    os.utime(nfo.parent, ns=(os.stat(nfo.parent).st_atime_ns, os.stat(nfo.parent).st_mtime_ns))
    scanned = count_scans(monkeypatch)
    clock.advance(60)
    engine.full_pass()
    assert b"<studio>Twitch</studio>" not in nfo.read_bytes()  # a quick pass cannot see it
    engine.full_pass(full=True)
    assert len(set(scanned)) == 5
    assert b"<studio>Twitch</studio>" in nfo.read_bytes()
    scanned.clear()
    clock.advance(86400)
    engine.full_pass()  # the daily full comparison
    assert len(set(scanned)) == 5


def test_one_rescan_at_a_time_a_second_one_is_folded_into_the_first(engine: Pipeline) -> None:
    import threading

    started, release = threading.Event(), threading.Event()
    calls: list[str] = []
    real = engine.rescanner.rescan

    def slow(enqueue: Any, *, full: bool | None = None) -> int:
        calls.append("rescan")
        if len(calls) == 1:
            started.set()
            release.wait(5)
        return real(enqueue, full=full)

    engine.rescanner.rescan = slow  # type: ignore[method-assign]
    first = threading.Thread(target=engine.rescan, args=(lambda _f: None,))
    first.start()
    assert started.wait(5)
    assert engine.rescan(lambda _f: None) == 0  # not run beside the first
    assert calls == ["rescan"]
    release.set()
    first.join(5)
    assert calls == ["rescan", "rescan"]  # the first looked once more
