"""Tests for the archivers' sidecar readers (svimaged.library.ganymede, .livestreamdvr,
.twitch_archiver, .sidecars) on the shapes each archiver writes (svimaged.demo.archiver_trees)
and on hostile bytes."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svimaged.core.errors import MetadataError
from svimaged.core.model import RecordingMeta
from svimaged.demo.archiver_trees import (
    GANYMEDE_CLIP_ID,
    ganymede_tree,
    livestreamdvr_tree,
    twitch_archiver_tree,
)
from svimaged.library.ganymede import parse_ganymede_info
from svimaged.library.jsonfields import numeric_id
from svimaged.library.metadata import gather_recording
from svimaged.library.nfo_meta import read_tvshow_nfo
from svimaged.library.scan import scan_streamer
from svimaged.library.twitch_archiver import first_game
from svimaged.nfo.quirks import LIVESTREAMDVR_BROKEN


def metas(root: Path, folder: str) -> dict[str, RecordingMeta]:
    found = {}
    for rec in scan_streamer(root, folder).recordings:
        meta, _conflicts, errors = gather_recording(rec, None)
        assert errors == [], errors
        found[Path(rec.video).parent.name] = meta
    return found


def test_ganymede_vod_live_highlight_and_clip(tmp_path: Path) -> None:
    ganymede_tree(tmp_path, now=time.time())
    vod = next(m for n, m in metas(tmp_path, "gwen_vods").items() if "-archive-" in n)
    assert (vod.login, vod.user_id, vod.display_name) == ("gwen_vods", "10000006", "Gwen Vods")
    assert (vod.stream_id, vod.local_id, vod.category_name) == (
        "40000000011",
        "2000000011",
        "Just Chatting",
    )
    assert vod.started_at == datetime(2026, 11, 14, 18, 2, 11, tzinfo=UTC)
    assert vod.thumbnail_url is not None and vod.thumbnail_url.endswith("-1280x720.jpg")
    assert vod.title is not None and "&" in vod.title  # Go's \u0026 read back
    live = next(m for n, m in metas(tmp_path, "gwen_vods").items() if "-live-" in n)
    assert (live.stream_id, live.category_id, live.thumbnail_url) == ("40000000012", "27471", None)
    highlight = next(m for n, m in metas(tmp_path, "gwen_vods").items() if "-highlight-" in n)
    assert (highlight.stream_id, highlight.local_id) == (None, "2000000013")
    clip = next(m for n, m in metas(tmp_path, "gwen_vods").items() if "-clip-" in n)
    assert (clip.user_id, clip.local_id, clip.category_id, clip.category_name) == (
        "10000006",
        GANYMEDE_CLIP_ID,
        "27471",
        None,
    )


def test_ganymede_movie_nfo_uniqueid_is_not_a_stream_id(tmp_path: Path) -> None:
    ganymede_tree(tmp_path, now=time.time())
    for rec in scan_streamer(tmp_path, "gwen_vods").recordings:
        info = json.loads(Path(rec.sidecar).read_bytes()) if rec.sidecar else {}
        info.pop("stream_id", None)
        info.pop("type", None)
        info.pop("id", None)
        assert rec.sidecar is not None
        Path(rec.sidecar).write_text(json.dumps(info))
        meta, conflicts, _errors = gather_recording(rec, None)
        assert meta.stream_id is None and conflicts == []  # not the NFO's video id


def test_livestreamdvr_v3_and_v2(tmp_path: Path) -> None:
    livestreamdvr_tree(tmp_path, now=time.time())
    found = metas(tmp_path, "liam_dvr")
    v3 = found["liam_dvr_2026-11-28T18_02_11Z_40000000041"]
    assert (v3.login, v3.user_id) == ("liam_dvr", None)  # the folder's login; no id in v3
    assert (v3.stream_id, v3.local_id) == ("40000000041", "2000000041")
    assert v3.category_id is not None and v3.category_name is not None
    assert v3.started_at == datetime(2026, 11, 28, 18, 2, 11, tzinfo=UTC)
    v2 = found["liam_dvr_2023-03-14T17_30_00Z_39000000042"]
    assert (v2.login, v2.user_id, v2.display_name) == ("liam_dvr", "10000007", "Liam_DVR")


def test_livestreamdvr_other_sites_and_foreign_json_say_nothing(tmp_path: Path) -> None:
    show = tmp_path / "liam"
    (show / "c").mkdir(parents=True)
    (show / "c" / "x.mp4").write_bytes(b"v")
    (show / "c" / "x.json").write_text(
        json.dumps({"type": "youtube", "capture_id": "1", "version": 3, "segments": []})
    )
    (show / "c" / "y.mp4").write_bytes(b"v")
    (show / "c" / "y.json").write_text('{"some": "other program"}')
    found = {
        rec.stem: gather_recording(rec, None) for rec in scan_streamer(tmp_path, "liam").recordings
    }
    for meta, _conflicts, errors in found.values():
        assert errors == [] and meta.stream_id is None and meta.title is not None


def test_twitch_archiver_vod_stream_only_and_chapters(tmp_path: Path) -> None:
    twitch_archiver_tree(tmp_path, now=time.time())
    found = metas(tmp_path, "tara_archive")
    vod = next(m for n, m in found.items() if n.endswith("2000000021"))
    assert (vod.login, vod.stream_id, vod.local_id) == ("tara_archive", "40000000021", "2000000021")
    assert vod.category_name is not None
    assert vod.thumbnail_url is not None and vod.thumbnail_url.endswith("-1280x720.jpg")
    assert vod.started_at == datetime(2026, 11, 16, 19, 30, 7, tzinfo=UTC)
    stream_only = next(m for n, m in found.items() if n.endswith("STREAM_ONLY"))
    assert (stream_only.local_id, stream_only.thumbnail_url, stream_only.category_name) == (
        None,
        None,
        None,
    )


def test_twitch_archiver_folder_name_when_vod_json_is_broken(tmp_path: Path) -> None:
    folder = tmp_path / "tara" / "2026-11-16_19-30-07 - Retro night - 2000000021"
    folder.mkdir(parents=True)
    (folder / "vod.mp4").write_bytes(b"v")
    (folder / "vod.json").write_bytes(b"{not json")
    (rec,) = scan_streamer(tmp_path, "tara").recordings
    meta, _conflicts, errors = gather_recording(rec, None)
    assert len(errors) == 1 and str(folder / "vod.json") in str(errors[0])
    assert (meta.title, meta.local_id, meta.login) == ("Retro night", "2000000021", "tara")
    assert meta.started_at == datetime(2026, 11, 16, 19, 30, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"not python",
        b"__import__('os').system('false')",
        b"[{'type': 'GAME_CHANGE'}]",
        b"[" * 100000 + b"]" * 100000,
        b"[{'description': 'x', 'type': 'GAME_CHANGE'}]" + b" " * 300000,
        "[{'description': 'Pok\u00e9mon', 'type': 'GAME_CHANGE'}]".encode("latin-1"),
    ],
)
def test_chapters_that_are_not_a_game_list_give_none(data: bytes) -> None:
    assert first_game(data) is None


def test_chapters_first_game_change() -> None:
    data = (
        b"[{'description': 'Just Chatting', 'type': 'GAME_CHANGE', 'segment': {'position': 0.0}},"
        b" {'description': 'Minecraft', 'type': 'GAME_CHANGE'}]"
    )
    assert first_game(data) == "Just Chatting"


@given(st.binary(max_size=2000))
def test_ganymede_info_bytes_raise_only_metadata_error(data: bytes) -> None:
    with contextlib.suppress(MetadataError):
        parse_ganymede_info(data, source="x")


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)))
def test_numeric_id_is_digits_or_none(value: object) -> None:
    found = numeric_id(value)
    assert found is None or (found.isascii() and found.isdigit() and found.strip("0"))


def test_livestreamdvr_tvshow_nfo_is_read_with_its_quote_mended(tmp_path: Path) -> None:
    livestreamdvr_tree(tmp_path, now=time.time())
    path = tmp_path / "liam_dvr" / "tvshow.nfo"
    data = path.read_bytes()
    assert LIVESTREAMDVR_BROKEN in data
    show = read_tvshow_nfo(path)
    assert (show.user_id, show.display_name) == ("10000007", "Liam_DVR")
    assert path.read_bytes() == data
