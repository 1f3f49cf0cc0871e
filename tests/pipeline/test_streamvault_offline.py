"""A StreamVault library moving over without Twitch credentials: the user ids come from the
names of StreamVault's local avatars, the posters from those avatars, the episode thumbs from
the recordings' own `-thumb.jpg` files; StreamVault's bare relative thumbs (which no server
loads from an NFO) are replaced by absolute paths, its files and other NFO content kept."""

from __future__ import annotations

import time
from pathlib import Path

from lxml import etree

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.streamvault_tree import ALICE, BOB, STREAMS, build_streamvault_tree, stem_of
from svimaged.demo.streamvault_tree import season_folder as season_of
from svimaged.pipeline import Pipeline, run_once
from svimaged.pipeline.resources import build_resources


def offline_config(tmp_path: Path) -> dict[str, object]:
    return {
        "recordings": str(tmp_path / "rec"),
        "state_dir": str(tmp_path / "state"),
        "control": {"socket": str(tmp_path / "state" / "c.sock")},
        "artwork": {"ffmpeg": False},
    }


def thumbs(path: Path) -> list[tuple[str | None, str | None]]:
    root = etree.fromstring(path.read_bytes())
    return [(t.get("aspect"), t.text) for t in root.iter("thumb") if t.getparent() is root]


def test_streamvault_library_without_credentials_gets_every_poster_and_thumb(
    tmp_path: Path,
) -> None:
    rec = tmp_path / "rec"
    build_streamvault_tree(rec, finished_mtime=time.time() - 3600)
    before = {p: p.read_bytes() for p in rec.rglob("*.jpg")}
    summary = run_once(parse_config(offline_config(tmp_path), {}), FakeClock(time.time()))
    assert summary.errors == 0 and summary.failed == 0
    assert summary.needs_credentials > 0  # categories, and what only Helix knows
    images = rec / ".images"
    for streamer in STREAMS:
        show = rec / streamer.folder
        poster = images / f"profiles/profile_avatar_{streamer.twitch_id}.jpg"
        assert poster.is_file()
        tvshow = thumbs(show / "tvshow.nfo")
        assert tvshow[0] == ("poster", str(poster))  # the first poster thumb: ours, local
        assert ("banner", "banner.jpg") in tvshow  # not ours to replace
        backdrop = images / f"backdrops/offline_{streamer.twitch_id}.jpg"  # StreamVault's banner
        assert f"<fanart><thumb>{backdrop}</thumb></fanart>" in (show / "tvshow.nfo").read_text()
        text = (show / "tvshow.nfo").read_text()
        assert f'<uniqueid type="twitch" default="true">{streamer.twitch_id}</uniqueid>' in text
        assert "<sorttitle>" in text and "<genre>Livestream</genre>" in text  # kept
        for stream in STREAMS[streamer]:
            folder = show / season_of(stream)
            episode = thumbs(folder / f"{stem_of(streamer, stream)}.nfo")
            assert len(episode) == 1 and episode[0][1] is not None
            assert episode[0][1].startswith(str(images)), episode  # absolute, in our cache
            assert Path(episode[0][1]).is_file()
            season = thumbs(folder / "season.nfo")
            assert season == [(None, str(poster))]
            assert (folder / "cover.jpg").read_bytes() == poster.read_bytes()  # Jellyfin
    for path, data in before.items():  # StreamVault's own files are never touched
        assert path.read_bytes() == data, path


def test_the_second_pass_writes_nothing(tmp_path: Path) -> None:
    build_streamvault_tree(tmp_path / "rec", finished_mtime=time.time() - 3600)
    config = parse_config(offline_config(tmp_path), {})
    run_once(config, FakeClock(time.time()))
    again = run_once(config, FakeClock(time.time() + 60))
    assert again.cached == [] and again.nfo_written == []


def test_stream_ids_come_from_streamvaults_twitch_stream_id_uniqueid(tmp_path: Path) -> None:
    build_streamvault_tree(tmp_path / "rec", finished_mtime=time.time() - 3600)
    (tmp_path / "rec" / ALICE.folder).joinpath  # noqa: B018 - the tree exists
    for path in (tmp_path / "rec").rglob("*.info.json"):
        path.unlink()  # only the NFOs say which stream it was
    pipeline = Pipeline(build_resources(parse_config(offline_config(tmp_path), {}), FakeClock()))
    try:
        pipeline.full_pass()
        row = pipeline.res.state.recordings.get(
            f"{BOB.folder}/{season_of(STREAMS[BOB][0])}/{stem_of(BOB, STREAMS[BOB][0])}.mp4"
        )
    finally:
        pipeline.close()
    assert row is not None and row.stream_id == "40000000031"
