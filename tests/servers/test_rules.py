"""Every show, season and finished episode shows a picture in Jellyfin and in Plex, by their
own look-up rules (`rules.py`, docs/mediaservers.md), on realistic libraries: the demo tree
(StreamVault and yt-dlp info.json, names only, a user's NFOs, unicode, a recording still
being written) with Twitch, and a StreamVault library without credentials."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.demo.streamvault_tree import build_streamvault_tree
from svimaged.pipeline import run_once
from tests.servers import rules

SETTLE = 60.0


def finished(recordings: Path, now: float) -> set[Path]:
    out = set()
    for show in recordings.iterdir():
        if show.is_dir() and not show.name.startswith("."):
            for video in rules.videos(show):
                if now - video.stat().st_mtime >= SETTLE:
                    out.add(video)
    return out


def demo_library(tmp_path: Path, fake: FakeTwitch, servers: list[str]) -> Path:
    rec = tmp_path / "rec"
    build_demo_tree(rec, fake, now=time.time())
    data = fake_config_data(fake, rec, tmp_path / "state")
    data["media_servers"] = servers
    run_once(parse_config(data, {}), FakeClock(time.time()))
    return rec


def streamvault_library(tmp_path: Path, servers: list[str]) -> Path:
    rec = tmp_path / "rec"
    build_streamvault_tree(rec, finished_mtime=time.time() - 3600)
    data = {
        "recordings": str(rec),
        "state_dir": str(tmp_path / "state"),
        "artwork": {"ffmpeg": False},
        "media_servers": servers,
    }
    run_once(parse_config(data, {}), FakeClock(time.time()))
    return rec


def test_jellyfin_shows_the_show_poster_a_season_poster_and_every_thumb(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec = demo_library(tmp_path, fake, ["kodi", "jellyfin"])
    seen = rules.jellyfin(rec, finished=finished(rec, time.time()))
    # Twitch has no avatar for Eve and her one recording has no category and no artwork (a
    # placeholder video, no ffmpeg frame): nothing anywhere to show. Bob's year folder is a
    # season to Jellyfin that holds one month: its season.nfo and cover are written there.
    assert seen.missing() == ["eve_quiet", "eve_quiet/eve_quiet - S202611E01 - Quiet stream.flv"]
    assert seen.unnumbered() == []
    images = rec / ".images" / "profiles"
    for show, image in seen.shows.items():
        if show == "eve_quiet":  # Twitch has no avatar for Eve: her tvshow.nfo has none
            continue
        assert image is not None and image.parent == images, (show, image)
    assert len(seen.episodes) == 6 and len(seen.seasons) == 2


def test_jellyfin_never_takes_a_season_picture_for_the_show_poster(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    """With `season_poster: category`, season thumbs hold box art: the show poster must
    still be the avatar (the show poster thumb stands first, season thumbs only once it is
    local)."""
    rec = tmp_path / "rec"
    build_demo_tree(rec, fake, now=time.time())
    data = fake_config_data(fake, rec, tmp_path / "state")
    data["nfo"] = {"season_poster": "category"}
    run_once(parse_config(data, {}), FakeClock(time.time()))
    seen = rules.jellyfin(rec, finished=finished(rec, time.time()))
    alice = seen.shows["Alice Plays"]
    assert alice is not None and alice.parent.name == "profiles"


def test_a_streamvault_library_without_credentials_shows_everything_in_jellyfin(
    tmp_path: Path,
) -> None:
    rec = streamvault_library(tmp_path, ["kodi", "jellyfin"])
    seen = rules.jellyfin(rec, finished=finished(rec, time.time()))
    assert seen.missing() == [], seen
    assert all(image is not None and ".images" in image.parts for image in seen.shows.values())
    assert all(
        image is not None and ".images" in image.parts for image in seen.episodes.values()
    )  # never StreamVault's stale files: the NFO path wins


@pytest.mark.parametrize("library", ["demo", "streamvault"])
def test_plex_shows_a_file_for_every_show_season_and_episode(
    tmp_path: Path, fake: FakeTwitch, library: str
) -> None:
    servers = ["kodi", "jellyfin", "plex"]
    if library == "demo":
        rec = demo_library(tmp_path, fake, servers)
    else:
        rec = streamvault_library(tmp_path, servers)
    seen = rules.plex(rec, finished=finished(rec, time.time()))
    if library == "demo":
        assert seen.missing() == [
            # Chloé's recording lies in the show folder itself: a `season<N>.jpg` there would
            # make Kodi (also reading this library) create 202,611 season rows
            "Chloé Café season 202611",
            "eve_quiet",  # no avatar, no category, no artwork: nothing to show
            "eve_quiet season 202611",
            "eve_quiet/eve_quiet - S202611E01 - Quiet stream.flv",
        ]
    else:
        assert seen.missing() == [], seen
    for episode, image in seen.episodes.items():
        if "eve_quiet" not in episode:
            assert image is not None, episode


def test_without_plex_no_plex_file_is_written(tmp_path: Path, fake: FakeTwitch) -> None:
    rec = demo_library(tmp_path, fake, ["kodi", "jellyfin"])
    names = {p.name for p in rec.rglob("*") if p.is_file() and ".images" not in p.parts}
    assert not any(n.startswith("season2") and n.endswith(".jpg") for n in names)
    assert "poster.jpg" not in names and "fanart.jpg" not in names
    for path in rec.rglob("*.jpg"):  # no <stem>.jpg next to any recording
        if ".images" not in path.parts:
            assert not any(path.with_suffix(s).exists() for s in (".mp4", ".mkv", ".ts"))
    assert os.path.isdir(rec / ".images")
