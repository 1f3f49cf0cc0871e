"""Image files for the media servers that read files rather than NFO art (Plex, Emby, and
Jellyfin's season covers): placed as copies or hard links (`nfo.sidecars`), kept in step with
the cache, retired when no server wants them, never the user's."""

from __future__ import annotations

import os
import time
from pathlib import Path

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.model import Origin
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import ALICE_ID, FakeTwitch
from svimaged.demo.pictures import make_png
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources

E1 = "Alice Plays/Season 2026-11/alice_plays - S202611E01 - Morning coffee & chat"
E3 = "Alice Plays/Season 2026-11/alice_plays - S202611E03 - Pokemon shiny hunt"


def make(
    tmp_path: Path, fake: FakeTwitch, mode: str, clock: FakeClock | None = None, **extra: object
) -> Pipeline:
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    data["nfo"] = {"sidecars": mode}
    data["media_servers"] = ["kodi", "jellyfin", "plex"]
    data.update(extra)
    clock = clock or FakeClock(start=time.time())
    return Pipeline(build_resources(parse_config(data, {}), clock))


def tree(tmp_path: Path, fake: FakeTwitch) -> Path:
    root = tmp_path / "rec"
    build_demo_tree(root, fake, now=time.time())
    return root


def test_hardlinked_sidecars_and_a_quiet_second_pass(tmp_path: Path, fake: FakeTwitch) -> None:
    root = tree(tmp_path, fake)
    engine = make(tmp_path, fake, "hardlink")
    try:
        engine.full_pass()
        poster = root / "Alice Plays" / "poster.jpg"
        cached = root / f".images/profiles/profile_avatar_{ALICE_ID}.jpg"
        assert poster.stat().st_ino == cached.stat().st_ino
        thumb = root / f"{E1}.jpg"
        art = root / f".images/artwork/{ALICE_ID}/stream_40000000001.jpg"
        assert thumb.stat().st_ino == art.stat().st_ino
        before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
        second = engine.full_pass()
        assert second.cached == [] and second.nfo_written == []
        assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
        row = engine.res.state.images.get(f"artwork/{ALICE_ID}/stream_40000000001.jpg")
        assert row is not None and row.source is not None
        assert row.origin is not Origin.LOCAL  # our sidecar is never a source
    finally:
        engine.close()


def test_copied_sidecars(tmp_path: Path, fake: FakeTwitch) -> None:
    root = tree(tmp_path, fake)
    engine = make(tmp_path, fake, "copy")
    try:
        engine.full_pass()
    finally:
        engine.close()
    poster = root / "Alice Plays" / "poster.jpg"
    cached = root / f".images/profiles/profile_avatar_{ALICE_ID}.jpg"
    assert poster.read_bytes() == cached.read_bytes()
    assert poster.stat().st_ino != cached.stat().st_ino
    season = root / "Alice Plays" / "Season 2026-11"
    assert (season / "season202611.jpg").read_bytes() == cached.read_bytes()  # Plex
    assert (season / "cover.jpg").read_bytes() == cached.read_bytes()  # Jellyfin
    assert not (season / "poster.jpg").exists()  # a show poster for Plex: never written
    assert not list((root / "Alice Plays").glob("season*"))  # Kodi's season-row trap


def test_user_files_are_never_overwritten(tmp_path: Path, fake: FakeTwitch) -> None:
    root = tree(tmp_path, fake)
    mine = root / "Alice Plays" / "poster.jpg"
    mine.write_bytes(b"my own poster")
    user_thumb = root / f"{E3}-thumb.png"  # the demo's local thumb stays the source
    engine = make(tmp_path, fake, "hardlink")
    try:
        engine.full_pass()
        engine.full_pass()
    finally:
        engine.close()
    assert mine.read_bytes() == b"my own poster"
    assert user_thumb.exists()


def test_changed_cached_image_replaces_the_sidecar(tmp_path: Path, fake: FakeTwitch) -> None:
    root = tree(tmp_path, fake)
    clock = FakeClock(start=time.time())
    engine = make(tmp_path, fake, "hardlink", clock, refresh_interval=0)
    try:
        engine.full_pass()
        clock.advance(1)
        poster = root / "Alice Plays" / "poster.jpg"
        old = poster.read_bytes()
        fake.set_image(fake.url_for("profile", ALICE_ID), make_png(64, 64, seed=77), "image/png")
        queued: list[str] = []
        engine.refresh_stale(queued.append)
        assert "Alice Plays" in queued
        engine.process_folder("Alice Plays")
        cached = root / f".images/profiles/profile_avatar_{ALICE_ID}.jpg"
        assert poster.read_bytes() != old
        assert poster.stat().st_ino == cached.stat().st_ino
    finally:
        engine.close()


def test_cleanup_removes_only_unchanged_sidecars_of_gone_recordings(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    root = tree(tmp_path, fake)
    engine = make(tmp_path, fake, "copy")
    try:
        engine.full_pass()
        thumb1 = root / f"{E1}.jpg"
        os.unlink(root / f"{E1}.mp4")
        e2 = "Alice Plays/Season 2026-11/alice_plays - S202611E02 - Ranked grind"
        thumb2 = root / f"{e2}.jpg"
        os.unlink(root / f"{e2}.mp4")
        thumb2.write_bytes(b"edited by the user")
        dry = engine.cleanup(dry_run=True)
        assert dry["sidecars_cleaned"] == 1  # exactly what the real run removes
        assert thumb1.exists()
        real = engine.cleanup(dry_run=False)
    finally:
        engine.close()
    assert real["sidecars_cleaned"] == 1
    assert not thumb1.exists()
    assert thumb2.read_bytes() == b"edited by the user"


def test_a_server_taken_out_retires_only_the_unchanged_files(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    root = tree(tmp_path, fake)
    engine = make(tmp_path, fake, "copy")
    try:
        engine.full_pass()
    finally:
        engine.close()
    poster = root / "Alice Plays" / "poster.jpg"
    thumb = root / f"{E1}.jpg"
    cover = root / "Alice Plays" / "Season 2026-11" / "cover.jpg"
    assert poster.exists() and thumb.exists() and cover.exists()
    thumb.write_bytes(b"the user's own picture now")
    engine = make(tmp_path, fake, "copy", media_servers=["kodi", "jellyfin"])
    try:
        summary = engine.full_pass()
        assert summary.nfo_written == []  # same NFO bytes: nothing else rewritten
    finally:
        engine.close()
    assert not poster.exists()  # Plex's, unchanged: removed
    assert thumb.read_bytes() == b"the user's own picture now"  # changed: the user's now
    assert cover.exists()  # Jellyfin still wants it


def test_a_cached_file_changed_through_a_hard_link_is_fetched_again(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    root = tree(tmp_path, fake)
    clock = FakeClock(start=time.time())
    engine = make(tmp_path, fake, "hardlink", clock)
    try:
        engine.full_pass()
        poster = root / "Alice Plays" / "poster.jpg"
        cached = root / f".images/profiles/profile_avatar_{ALICE_ID}.jpg"
        good = cached.read_bytes()
        assert poster.stat().st_ino == cached.stat().st_ino
        with open(poster, "r+b") as handle:  # a media server saves its art into the file
            handle.write(make_png(8, 8, seed=5))
            handle.truncate()
        assert cached.read_bytes() != good
        engine.res.state.recordings.invalidate_all()
        summary = engine.full_pass()
        assert str(cached) in summary.cached
        assert cached.read_bytes() == good  # the cache holds the recorded image again
        assert poster.stat().st_ino != cached.stat().st_ino  # the changed file is the user's
        row = engine.res.state.outputs.sidecar("Alice Plays/poster.jpg")
        assert row is not None and row.foreign
    finally:
        engine.close()
