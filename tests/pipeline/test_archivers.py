"""The trees of the other Twitch archivers, as each writes them (svimaged.demo.archiver_trees):
ganymede (default templates, a custom `{{YYYY}}/{{MM}}` template), LiveStreamDVR,
twitch-archiver, a streamlink recorder, and all of them under one root. Every recording gets
its streamer's poster, a thumb and its numbers, every show a tvshow.nfo; chat renders, side
videos and download leftovers never become episodes; the archivers' own files are kept
(byte for byte, or merged where the rule says so); a second pass writes nothing."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from svimaged.config import Config, parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.archiver_trees import (
    GANYMEDE_CLIP_ID,
    Built,
    ganymede_tree,
    livestreamdvr_tree,
    mixed_tree,
    streamlink_tree,
    twitch_archiver_tree,
)
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.nfo.quirks import LIVESTREAMDVR_HINT
from svimaged.pipeline import Pipeline, run_once
from svimaged.pipeline.resources import build_resources
from svimaged.state import State
from tests.servers import rules

Builder = Callable[[Path, float], Built]
TREES: dict[str, Builder] = {
    "ganymede": lambda root, now: ganymede_tree(root, now=now),
    "ganymede-custom": lambda root, now: ganymede_tree(root, now=now, custom_template=True),
    "livestreamdvr": lambda root, now: livestreamdvr_tree(root, now=now),
    "twitch-archiver": lambda root, now: twitch_archiver_tree(root, now=now),
    "streamlink": lambda root, now: streamlink_tree(root, now=now),
    "mixed": lambda root, now: mixed_tree(root, now=now),
}


def config(fake: FakeTwitch, tmp_path: Path, **extra: Any) -> Config:
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    data["timezone"] = "UTC"
    data.update(extra)
    return parse_config(data, {})


def episodes(built: Built) -> list[Path]:
    """The videos svimaged reads (an HLS playlist is not one: docs/layouts.md)."""
    return [video for video in built.videos if video.suffix != ".m3u8"]


def root_of(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def nfo_of(video: Path) -> Path:
    return video.with_suffix(".nfo")


@pytest.mark.parametrize("name", sorted(TREES))
def test_every_recording_gets_poster_thumb_numbers_and_a_second_pass_writes_nothing(
    name: str, tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = TREES[name](rec, clock.time())
    cfg = config(fake, tmp_path)
    summary = run_once(cfg, clock)
    assert summary.failed == 0
    videos = episodes(built)
    finished = set(videos)
    seen = rules.jellyfin(rec, finished=finished)
    assert set(seen.episodes) == {str(v.relative_to(rec)) for v in videos}  # nothing else
    assert seen.unnumbered() == []
    assert [e for e, image in seen.episodes.items() if image is None] == []
    assert [s for s, image in seen.shows.items() if image is None] == []
    for show in seen.shows:
        tvshow = rec / show / "tvshow.nfo"
        if b'type="twitch>' in tvshow.read_bytes():
            continue  # LiveStreamDVR's broken file: Jellyfin shows its poster.png
        poster = root_of(tvshow).find("thumb[@aspect='poster']")
        assert poster is not None and poster.text and Path(poster.text).is_file()
        assert Path(poster.text).parent == rec / ".images" / "profiles"
    for video in videos:
        nfo = root_of(nfo_of(video))
        # no source knows the category of a stream without a VOD (twitch-archiver's
        # STREAM_ONLY) or of a streamlink recording (Twitch's videos have no game)
        no_category = "STREAM_ONLY" in str(video) or video.name.startswith("sam_records")
        assert bool(nfo.findtext("genre")) != no_category, video
        thumb = nfo.findtext("thumb")  # the stream's artwork, else the category's box art
        assert thumb is not None and Path(thumb).is_file(), video
        assert Path(thumb).is_relative_to(rec / ".images"), video
    for path in built.not_episodes:
        assert not nfo_of(path).exists(), path
    again = run_once(cfg, clock)
    assert (again.nfo_written, again.cached, again.failed) == ([], [], 0)


@pytest.mark.parametrize("name", sorted(TREES))
def test_the_archivers_own_files_are_kept(name: str, tmp_path: Path, fake: FakeTwitch) -> None:
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = TREES[name](rec, clock.time())
    images_before = {path: path.read_bytes() for path in built.local_images}
    run_once(config(fake, tmp_path), clock)
    for path, data in built.archiver_files.items():
        if path.suffix != ".nfo" or path.name == "tvshow.nfo":
            assert path.read_bytes() == data, path  # JSON, chat, playlists, LSDVR's tvshow.nfo
            continue
        before, after = etree.fromstring(data), root_of(path)
        assert after.tag == before.tag, path  # ganymede's <movie> stays a movie
        kept = [(c.tag, c.text, dict(c.attrib)) for c in after]
        for child in before:
            if child.tag == "uniqueid" and child.text == "undefined":
                continue  # LiveStreamDVR's placeholder: replaced by the stream id
            assert (child.tag, child.text, dict(child.attrib)) in kept, (path, child.tag)
    assert {path: path.read_bytes() for path in built.local_images} == images_before


def test_ganymede_is_read_from_its_json_and_its_pictures_first(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = ganymede_tree(rec, now=clock.time())
    run_once(config(fake, tmp_path), clock)
    (vod,) = [v for v in built.videos if "-archive-" in str(v)]
    nfo = root_of(nfo_of(vod))
    info = json.loads(vod.with_name(vod.name.replace("-video.mp4", "-info.json")).read_text())
    assert nfo.tag == "movie"
    assert nfo.findtext("title") == info["title"]
    assert (nfo.findtext("season"), nfo.findtext("episode")) == ("202611", "1")
    assert nfo.findtext("showtitle") == "Gwen Vods"
    state = State.open(tmp_path / "state" / "state.db")
    try:
        rows = {row.rel: row for row in state.images.all()}
        artwork = rows[f"artwork/10000006/stream_{info['stream_id']}.jpg"]
        assert artwork.source == str(
            vod.with_name(vod.name.replace("-video.mp4", "-thumbnail.jpg"))
        )
        profile = rows["profiles/profile_avatar_10000006.jpg"]
        assert profile.source == str(rec / "gwen_vods" / "profile.png")  # before Helix
        (clip,) = [v for v in built.videos if GANYMEDE_CLIP_ID in v.name]
        clip_row = state.recordings.get(str(clip.relative_to(rec)))
        assert clip_row is not None and clip_row.category == "Minecraft"  # by its game id
        for video in episodes(built):  # ganymede's thumbnails, never a download
            found = state.recordings.get(str(video.relative_to(rec)))
            assert found is not None and found.artwork_rel is not None
            assert rows[found.artwork_rel].source == str(
                video.with_name(video.name.replace("-video.mp4", "-thumbnail.jpg"))
            )
    finally:
        state.close()


def test_ganymede_movie_nfo_rules(tmp_path: Path, fake: FakeTwitch) -> None:
    for rule, root in (("episode", "episodedetails"), ("keep", "movie")):
        rec, clock = tmp_path / rule / "rec", FakeClock(time.time())
        built = ganymede_tree(rec, now=clock.time())
        before = {v: nfo_of(v).read_bytes() for v in episodes(built)}
        run_once(config(fake, tmp_path / rule, nfo={"movie_nfo": rule}), clock)
        for video, data in before.items():
            after = nfo_of(video)
            assert root_of(after).tag == root
            if rule == "keep":
                assert after.read_bytes() == data
            else:
                assert root_of(after).findtext("episode") is not None


def test_livestreamdvr_broken_tvshow_nfo_is_read_counted_and_explained(
    tmp_path: Path, fake: FakeTwitch, caplog: pytest.LogCaptureFixture
) -> None:
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = livestreamdvr_tree(rec, now=clock.time())
    tvshow = rec / "liam_dvr" / "tvshow.nfo"
    data = tvshow.read_bytes()
    summary = run_once(config(fake, tmp_path), clock)
    assert tvshow.read_bytes() == data
    assert summary.errors == 1
    assert LIVESTREAMDVR_HINT in caplog.text
    res = build_resources(config(fake, tmp_path), clock)
    try:
        stats = Pipeline(res).stats()
    finally:
        res.close()
    nfo = stats["nfo"]
    assert isinstance(nfo, dict) and nfo["errors"] == 1
    (left,) = nfo["left_alone"]
    assert left["path"] == "liam_dvr/tvshow.nfo" and LIVESTREAMDVR_HINT in left["reason"]
    # the episode NFO LiveStreamDVR wrote with "undefined" ids now has the stream id
    (written,) = [v for v in episodes(built) if nfo_of(v) in built.archiver_files]
    episode = root_of(nfo_of(written))
    assert episode.findtext("uniqueid[@type='twitch']") == "40000000041"
    assert episode.findtext("id") == "undefined"  # not ours: kept


def test_livestreamdvr_side_videos_and_the_capture_being_remuxed_are_no_episodes(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = livestreamdvr_tree(rec, now=clock.time())
    capture = sorted(episodes(built))[-1]
    remuxing = capture.with_suffix(".ts")
    remuxing.write_bytes(b"ts")
    run_once(config(fake, tmp_path), clock)
    state = State.open(tmp_path / "state" / "state.db")
    try:
        known = set(state.recordings.in_folders(["liam_dvr"])["liam_dvr"])
    finally:
        state.close()
    assert known == {str(v.relative_to(rec)) for v in episodes(built)}


def test_numbering_is_by_month_and_follows_a_late_earlier_recording(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = twitch_archiver_tree(rec, now=clock.time())
    cfg = config(fake, tmp_path)
    run_once(cfg, clock)
    numbers = {v.parent.name[:10]: rules.nfo_numbers(nfo_of(v)) for v in episodes(built)}
    assert numbers == {
        "2026-11-16": (202611, 1),
        "2026-11-18": (202611, 2),
        "2026-11-19": (202611, 3),
    }
    # a VOD of 2026-11-17 is archived later: the ones after it move up
    late = rec / "tara_archive" / "2026-11-17_12-00-00 - Late one - 2000000099"
    late.mkdir()
    (late / "vod.mp4").write_bytes(b"v")
    (late / "vod.json").write_text(
        json.dumps(
            {
                "vod_id": 2000000099,
                "stream_id": 0,
                "title": "Late one",
                "created_at": 1794916800.0,
                "thumbnail_url": "",
            }
        )
    )
    clock.advance(3600)
    for path in (late / "vod.mp4", late / "vod.json"):
        os.utime(path, (clock.time() - 600,) * 2)
    run_once(cfg, clock)
    videos = [*episodes(built), late / "vod.mp4"]
    numbers = {v.parent.name[:10]: rules.nfo_numbers(nfo_of(v)) for v in videos}
    assert numbers == {
        "2026-11-16": (202611, 1),
        "2026-11-17": (202611, 2),
        "2026-11-18": (202611, 3),
        "2026-11-19": (202611, 4),
    }


def test_streamlink_names_in_local_time_find_their_stream_on_twitch(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    rec, clock = tmp_path / "rec", FakeClock(time.time())
    built = streamlink_tree(rec, now=clock.time(), tz=berlin)
    run_once(config(fake, tmp_path, timezone="Europe/Berlin"), clock)
    ids = sorted(
        root_of(nfo_of(v)).findtext("uniqueid[@type='twitch']") or "" for v in built.videos
    )
    assert ids == ["40000000031", "40000000032"]
    for video in built.videos:  # the thumb is the matched video's, from Twitch
        thumb = root_of(nfo_of(video)).findtext("thumb") or ""
        assert Path(thumb).name.startswith("stream_4000000003"), thumb
