"""Tests for svimaged.library.layouts and the scan that uses it: which archiver laid out a
recording, told from names alone, and which video files are no recordings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svimaged.core.model import Layout
from svimaged.library.layouts import Recognized, recognize, skip_folder, split_suffix
from svimaged.library.scan import companion_sig, scan_streamer


@pytest.mark.parametrize(
    ("name", "files", "expected"),
    [
        ("a.mp4", {"a.info.json"}, Recognized(Layout.INFO_JSON, "a.info.json")),
        (
            "123-video.mp4",
            {"123-info.json", "123-thumbnail.jpg"},
            Recognized(Layout.GANYMEDE, "123-info.json", "123-thumbnail.jpg"),
        ),
        ("123-video.mp4", {"123-info.json"}, Recognized(Layout.GANYMEDE, "123-info.json")),
        ("123-video.mp4", set(), Recognized(Layout.NAMES)),  # no ganymede without its JSON
        ("123-chat.mp4", {"123-info.json"}, None),
        ("123-chat.mp4", set(), Recognized(Layout.NAMES)),  # a user's "…-chat" video
        ("x_y.mp4", {"x_y.json"}, Recognized(Layout.JSON, "x_y.json")),
        ("x_y_vod.mp4", {"x_y.json"}, None),
        ("x_y_chat.mp4", {"x_y.json"}, None),
        ("x_y_chat_mask.mp4", {"x_y.json"}, None),
        ("x_y_burned.mp4", {"x_y.json"}, None),
        ("x_y_vod.mp4", set(), Recognized(Layout.NAMES)),
        ("x.ts", {"x.mp4", "x.json"}, None),  # being remuxed
        ("x.TS", {"x.mp4"}, None),
        ("x.ts", {"x.json"}, Recognized(Layout.JSON, "x.json")),  # no_vod_convert
        ("merged.ts", {"vod.json"}, None),
        (
            "vod.mp4",
            {"vod.json", "thumbnail.jpg"},
            Recognized(Layout.JSON, "vod.json", "thumbnail.jpg"),
        ),
        ("other.mp4", {"other.json", "thumbnail.jpg"}, Recognized(Layout.JSON, "other.json")),
        ("a - S202611E01 - t.mp4", {"a - S202611E01 - t.nfo"}, Recognized(Layout.NAMES)),
    ],
)
def test_recognize(name: str, files: set[str], expected: Recognized | None) -> None:
    assert recognize(name, files) == expected


def test_skip_folder() -> None:
    assert skip_folder("parts", {"vod.json"})
    assert not skip_folder("parts", set())  # a user's folder called parts
    assert skip_folder("2652223334-video_hls", set())
    assert not skip_folder("Season 2026-11", {"vod.json"})


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_scan_reads_each_archivers_recordings_only(tmp_path: Path) -> None:
    show = tmp_path / "gwen"
    touch(show / "profile.png")
    vod = show / "2026-11-14-1-archive-u"
    touch(vod / "1-video.mp4")
    touch(vod / "1-info.json")
    touch(vod / "1-thumbnail.jpg")
    touch(vod / "1-chat.mp4")
    touch(vod / "sprites" / "sprite-000.jpg")
    hls = show / "2026-12-06-2-archive-u" / "2-video_hls"
    touch(hls / "2_segment0.ts")
    touch(hls / "2-video.m3u8")
    archive = show / "2026-11-16_19-30-07 - t - 3"
    touch(archive / "vod.mp4")
    touch(archive / "vod.json")
    touch(archive / "merged.ts")
    touch(archive / "parts" / "00000.ts")
    folder = scan_streamer(tmp_path, "gwen")
    assert folder.avatar == show / "profile.png"
    by_rel = {rec.rel: rec for rec in folder.recordings}
    assert set(by_rel) == {
        "gwen/2026-11-14-1-archive-u/1-video.mp4",
        "gwen/2026-11-16_19-30-07 - t - 3/vod.mp4",
    }
    ganymede = by_rel["gwen/2026-11-14-1-archive-u/1-video.mp4"]
    assert (ganymede.layout, ganymede.sidecar, ganymede.picture) == (
        Layout.GANYMEDE,
        str(vod / "1-info.json"),
        str(vod / "1-thumbnail.jpg"),
    )
    assert ganymede.nfo is None  # 1-video.nfo would be ganymede's <movie>
    assert companion_sig(ganymede) == ganymede.companions  # re-signing gives the same


def test_a_new_sidecar_or_picture_changes_the_signature(tmp_path: Path) -> None:
    touch(tmp_path / "gwen" / "a" / "1-video.mp4")
    before = scan_streamer(tmp_path, "gwen").recordings[0]
    touch(tmp_path / "gwen" / "a" / "1-info.json")
    middle = scan_streamer(tmp_path, "gwen").recordings[0]
    touch(tmp_path / "gwen" / "a" / "1-thumbnail.jpg")
    after = scan_streamer(tmp_path, "gwen").recordings[0]
    assert len({before.signature, middle.signature, after.signature}) == 3
    assert middle.layout is Layout.GANYMEDE and after.picture is not None


@given(st.text(alphabet=".ab-_ \u00e9", max_size=10))
def test_split_suffix_is_splitext(name: str) -> None:
    assert split_suffix(name) == os.path.splitext(name)
