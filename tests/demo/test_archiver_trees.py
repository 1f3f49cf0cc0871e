"""The archiver trees must have the shapes the archivers really write (names, serializer
quirks, broken NFOs), agree with the fake Twitch's sample videos, and list every file."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from lxml import etree
from PIL import Image

from svimaged.core.model import VIDEO_SUFFIXES
from svimaged.demo import archiver_trees as at
from svimaged.demo.fake_helix import helix_duration
from svimaged.demo.fake_twitch import (
    GWEN_ID,
    LIAM_ID,
    MINECRAFT_ID,
    NO_ART_GAME_ID,
    SAM_ID,
    SAMPLE_GAMES,
    SAMPLE_USERS,
    SAMPLE_VIDEO_DURATIONS,
    SAMPLE_VIDEOS,
    TARA_ID,
    FakeTwitch,
)
from svimaged.demo.sample_tree import VIDEO_FILLER

NOW = 1_800_000_000.0
VIDEOS = {v[0]: v for v in SAMPLE_VIDEOS}  # id -> (id, user, stream, title, created)
BUILDERS: dict[str, Callable[[Path], at.Built]] = {
    "ganymede": lambda root: at.ganymede_tree(root, now=NOW),
    "ganymede-custom": lambda root: at.ganymede_tree(root, now=NOW, custom_template=True),
    "livestreamdvr": lambda root: at.livestreamdvr_tree(root, now=NOW),
    "twitch-archiver": lambda root: at.twitch_archiver_tree(root, now=NOW),
    "streamlink": lambda root: at.streamlink_tree(root, now=NOW),
    "streamlink-berlin": lambda root: at.streamlink_tree(
        root, now=NOW, tz=ZoneInfo("Europe/Berlin")
    ),
    "mixed": lambda root: at.mixed_tree(root, now=NOW),
}
#: Pictures an archiver writes that are no artwork (and so in none of Built's lists).
NOT_ARTWORK = re.compile(r"(/sprites/sprite-\d{3}\.jpg|-contact_sheet\.png)$")


def seconds(video_id: str) -> int:
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(\d+)s", SAMPLE_VIDEO_DURATIONS[video_id])
    assert match is not None
    h, m, s = match.groups()
    return int(h or 0) * 3600 + int(m or 0) * 60 + int(s)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def files_below(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def rel(built: at.Built, root: Path) -> dict[str, list[str]]:
    return {
        "videos": sorted(p.relative_to(root).as_posix() for p in built.videos),
        "not_episodes": sorted(p.relative_to(root).as_posix() for p in built.not_episodes),
        "files": sorted(p.relative_to(root).as_posix() for p in built.archiver_files),
        "images": sorted(p.relative_to(root).as_posix() for p in built.local_images),
    }


def one(built: at.Built, pattern: str) -> tuple[Path, bytes]:
    """The single archiver file whose posix path matches `pattern` (re.search)."""
    found = [(p, b) for p, b in built.archiver_files.items() if re.search(pattern, p.as_posix())]
    assert len(found) == 1, (pattern, [p for p, _ in found])
    return found[0]


# -- every tree -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_built_lists_exactly_what_was_written(name: str, tmp_path: Path) -> None:
    built = BUILDERS[name](tmp_path)
    on_disk = files_below(tmp_path)
    videos, others = set(built.videos), set(built.not_episodes)
    assert videos and not videos & others
    assert len(videos) == len(built.videos) and len(others) == len(built.not_episodes)
    listed = videos | others | set(built.archiver_files) | set(built.local_images)
    assert listed <= on_disk
    assert {p for p in on_disk - listed if not NOT_ARTWORK.search(p.as_posix())} == set()
    for path, data in built.archiver_files.items():
        assert path.read_bytes() == data, path
    for path in videos - set(built.archiver_files):
        assert path.read_bytes() == VIDEO_FILLER, path
    for path in others:
        assert path.read_bytes() == VIDEO_FILLER and path.suffix in VIDEO_SUFFIXES, path
    # Every video-like file is either an episode or a named non-episode.
    video_like = {p for p in on_disk if p.suffix in VIDEO_SUFFIXES | {".m3u8"}}
    assert video_like == videos | others
    for path in on_disk:
        assert os.stat(path).st_mtime == pytest.approx(NOW - 3600), path


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_local_images_are_real_pictures(name: str, tmp_path: Path) -> None:
    built = BUILDERS[name](tmp_path)
    seen: set[bytes] = set()
    for path in built.local_images:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            expected = "PNG" if path.name == "poster.png" else "JPEG"  # profile.png is a JPEG
            assert image.format == expected, path
            if path.name.endswith("thumbnail.jpg"):
                width, height = image.size
                assert abs(width / height - 16 / 9) < 0.05 or (width, height) == (120, 68)
        seen.add(data)
    clip_pairs = sum(1 for p in built.local_images if "-clip-" in p.as_posix()) // 2
    assert len(seen) == len(built.local_images) - clip_pairs  # a clip's two are the same


def test_builders_are_deterministic_whatever_the_root(tmp_path: Path) -> None:
    first = at.mixed_tree(tmp_path / "a", now=NOW)
    second = at.mixed_tree(tmp_path / "b" / "deeper", now=NOW)
    assert rel(first, tmp_path / "a") == rel(second, tmp_path / "b" / "deeper")
    for path, data in first.archiver_files.items():
        twin = tmp_path / "b" / "deeper" / path.relative_to(tmp_path / "a")
        assert second.archiver_files[twin] == data


def test_mixed_tree_is_the_four_trees(tmp_path: Path) -> None:
    mixed = at.mixed_tree(tmp_path / "mixed", now=NOW)
    parts = [
        at.ganymede_tree(tmp_path / "one", now=NOW),
        at.livestreamdvr_tree(tmp_path / "one", now=NOW),
        at.twitch_archiver_tree(tmp_path / "one", now=NOW),
        at.streamlink_tree(tmp_path / "one", now=NOW),
    ]
    assert rel(mixed, tmp_path / "mixed") == rel(at.merge(*parts), tmp_path / "one")
    assert {p.name for p in (tmp_path / "mixed").iterdir()} == {
        "gwen_vods",
        "liam_dvr",
        "tara_archive",
        "sam_records",
    }


# -- ganymede ---------------------------------------------------------------------------------

VIDEO_INFO_KEYS = [
    "id", "stream_id", "user_id", "user_login", "user_name", "title", "description",
    "created_at", "published_at", "url", "thumbnail_url", "viewable", "view_count", "language",
    "type", "duration", "category", "restriction", "chapters", "muted_segments",
    "sprite_thumbnails_manifest_url",
]  # fmt: skip
LIVE_INFO_KEYS = [
    "id", "user_id", "user_login", "user_name", "game_id", "game_name", "type", "title",
    "viewer_count", "started_at", "language", "thumbnail_url",
]  # fmt: skip
CLIP_INFO_KEYS = [
    "id", "url", "channel_id", "channel_name", "creator_id", "creator_name", "video_id",
    "game_id", "language", "title", "view_count", "created_at", "thumbnail_url", "duration",
    "vod_offset",
]  # fmt: skip
GANYMEDE_FOLDER = re.compile(
    r"^gwen_vods/(?:(\d{4})/(\d\d)/)?(\d{4}-\d\d-\d\d)-([\w-]+?)-(archive|live|highlight|clip)"
    r"-([0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-0242ac120004)$"
)


def test_ganymede_default_layout(tmp_path: Path) -> None:
    built = at.ganymede_tree(tmp_path, now=NOW)
    videos = {}
    for video in built.videos:
        folder = video.parent.relative_to(tmp_path).as_posix()
        match = GANYMEDE_FOLDER.fullmatch(folder)
        assert match is not None and match[1] is None, folder
        date, ext_id, kind, uid = match[3], match[4], match[5], match[6]
        assert video.name == f"{ext_id}-video.mp4"
        assert uuid.UUID(uid).version == 1
        for suffix in ("-info.json", "-video.nfo"):
            assert video.with_name(f"{ext_id}{suffix}") in built.archiver_files
        for suffix in ("-thumbnail.jpg", "-web_thumbnail.jpg"):
            assert video.with_name(f"{ext_id}{suffix}") in built.local_images
        videos[kind] = (ext_id, date, video)
    assert set(videos) == {"archive", "live", "highlight", "clip"}
    assert videos["archive"][:2] == ("2000000011", "2026-11-14")
    assert videos["live"][:2] == ("40000000012", "2026-11-20")
    assert videos["highlight"][:2] == (at.GANYMEDE_HIGHLIGHT_ID, "2026-11-22")
    assert videos["clip"][:2] == (at.GANYMEDE_CLIP_ID, "2026-11-14")
    profile = tmp_path / "gwen_vods" / "profile.png"
    assert profile in built.local_images and profile.read_bytes()[:3] == b"\xff\xd8\xff"
    vod_folder = videos["archive"][2].parent
    assert [p.name for p in built.not_episodes] == ["2000000011-chat.mp4"]
    assert sorted(p.name for p in (vod_folder / "sprites").iterdir()) == [
        f"sprite-{n:03d}.jpg" for n in range(6)
    ]
    live_folder = videos["live"][2].parent
    assert {p.name for p in live_folder.glob("*chat*")} == {
        "40000000012-chat.json",
        "40000000012-live-chat.json",
        "40000000012-chat-convert.json",
    }


def test_ganymede_info_json_is_compact_go_json(tmp_path: Path) -> None:
    built = at.ganymede_tree(tmp_path, now=NOW)
    _, data = one(built, r"/2000000011-info\.json$")
    assert b"\\u0026" in data and b"&" not in data and b"\n" not in data
    assert b'","' in data and b'", "' not in data and b'": ' not in data
    info = json.loads(data)
    assert list(info) == VIDEO_INFO_KEYS
    vid, uid, sid, title, created = VIDEOS["2000000011"]
    assert (info["id"], info["user_id"], info["stream_id"]) == (vid, uid, sid)
    assert (info["title"], info["created_at"], info["type"]) == (title, created, "archive")
    assert info["user_login"] == "gwen_vods" and info["user_name"] == "Gwen Vods"
    assert info["duration"] == seconds(vid) * 10**9
    assert [c["title"] for c in info["chapters"]] == ["Just Chatting", "Minecraft"]
    assert info["chapters"][-1]["end"] == seconds(vid)
    assert info["thumbnail_url"].startswith("https://static-cdn.jtvnw.net/cf_vods/")
    assert info["thumbnail_url"].endswith("/thumb/thumb0-%{width}x%{height}.jpg")
    assert f"_gwen_vods_{sid}_{int(utc(created).timestamp())}/" in info["thumbnail_url"]
    assert "game_id" not in info and info["restriction"] is None

    _, data = one(built, r"-live-.*/40000000012-info\.json$")
    assert b"\\u003c3" in data and b"<" not in data
    live = json.loads(data)
    assert list(live) == LIVE_INFO_KEYS
    vid, uid, sid, title, created = VIDEOS["2000000012"]
    assert (live["id"], live["started_at"], live["title"]) == (sid, created, title)
    assert (live["game_id"], live["game_name"], live["type"]) == (MINECRAFT_ID, "Minecraft", "live")
    assert live["thumbnail_url"].endswith("live_user_gwen_vods-{width}x{height}.jpg")

    _, data = one(built, r"-highlight-.*-info\.json$")
    highlight = json.loads(data)
    assert list(highlight) == VIDEO_INFO_KEYS
    assert highlight["stream_id"] == "" and highlight["type"] == "highlight"
    assert highlight["chapters"] == [
        {"id": "fallback", "type": "FALLBACK", "title": "Minecraft", "start": 0, "end": 1342}
    ]
    assert highlight["id"] not in VIDEOS  # Helix `videos` type=archive does not list it

    _, data = one(built, r"-clip-.*-info\.json$")
    clip = json.loads(data)
    assert list(clip) == CLIP_INFO_KEYS
    assert clip["video_id"] == "2000000011" and clip["channel_id"] == GWEN_ID
    assert clip["channel_name"] == "Gwen Vods" and clip["game_id"] == MINECRAFT_ID
    vod_start = utc(VIDEOS["2000000011"][4])
    assert vod_start + timedelta(seconds=clip["vod_offset"]) == utc(clip["created_at"])


def test_ganymede_nfo_exact_bytes(tmp_path: Path) -> None:
    built = at.ganymede_tree(tmp_path, now=NOW)
    _, vod_nfo = one(built, r"/2000000011-video\.nfo$")
    assert vod_nfo == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<movie>\n"
        b"  <title>Gwen&#39;s cozy stream &amp; chill | !discord</title>\n"
        b"  <premiered>2026-11-14</premiered>\n"
        b"  <studio>Gwen Vods</studio>\n"
        b"  <genre>Just Chatting</genre>\n"
        b"  <genre>Minecraft</genre>\n"
        b'  <uniqueid type="twitch" default="true">2000000011</uniqueid>\n'
        b"</movie>\n"
    )
    _, live_nfo = one(built, r"/40000000012-video\.nfo$")
    movie = etree.fromstring(live_nfo)
    assert movie.tag == "movie" and movie.findtext("title") == VIDEOS["2000000012"][3]
    assert movie.findtext("uniqueid") == "40000000012"  # written before the VOD matched
    assert [g.text for g in movie.iter("genre")] == ["Minecraft", "Just Chatting"]
    _, clip_nfo = one(built, r"-clip-.*\.nfo$")
    clip = etree.fromstring(clip_nfo)
    assert clip.findtext("uniqueid") == at.GANYMEDE_CLIP_ID and clip.find("genre") is None
    for path, data in built.archiver_files.items():
        if path.suffix == ".nfo":
            assert etree.fromstring(data).find("thumb") is None
    assert at.ganymede_nfo("a\"b'<c>", None, "", ["X", "x", "Y"], "").decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<movie>\n'
        "  <title>a&#34;b&#39;&lt;c&gt;</title>\n  <genre>X</genre>\n  <genre>Y</genre>\n"
        "</movie>\n"
    )


def test_ganymede_custom_templates_and_hls(tmp_path: Path) -> None:
    built = at.ganymede_tree(tmp_path, now=NOW, custom_template=True)
    by_id = {}
    for video in built.videos:
        folder = video.parent.relative_to(tmp_path).as_posix()
        if video.suffix == ".m3u8":
            assert video.parent.name.endswith("-video_hls")
            folder = video.parent.parent.relative_to(tmp_path).as_posix()
        match = GANYMEDE_FOLDER.fullmatch(folder)
        assert match is not None, folder
        year, month, date, ext_id = match[1], match[2], match[3], match[4]
        assert date.startswith(f"{year}-{month}-")
        by_id[ext_id] = video
        stem = f"gwen_vods-{date}-{ext_id}"
        assert (video.parent / f"{stem}-video.mp4" == video) or video.suffix == ".m3u8"
        assert tmp_path / folder / f"{stem}-info.json" in built.archiver_files
    assert set(by_id) == {
        "2000000011",
        "40000000012",
        at.GANYMEDE_HIGHLIGHT_ID,
        at.GANYMEDE_CLIP_ID,
        "2000000014",
        "2000000015",
    }
    hls = by_id["2000000015"]
    assert hls.name == "2000000015-video.m3u8"
    assert hls.parent.name == "gwen_vods-2026-12-06-2000000015-video_hls"
    assert hls.parent.parent.parent.relative_to(tmp_path).as_posix() == "gwen_vods/2026/12"
    assert not list(hls.parent.parent.glob("*-video.mp4"))
    assert hls.with_name("2000000015-video.nfo") in built.archiver_files
    segments = sorted(p.name for p in built.not_episodes if p.suffix == ".ts")
    assert segments == ["2000000015_segment0.ts", "2000000015_segment1.ts"]
    playlist = built.archiver_files[hls].decode()
    assert playlist.startswith("#EXTM3U\n") and playlist.endswith("#EXT-X-ENDLIST\n")
    assert [line for line in playlist.splitlines() if not line.startswith("#")] == segments
    live = by_id["40000000012"].parent
    stem = "gwen_vods-2026-11-20-40000000012"
    assert {p.name for p in live.glob("*chat*")} == {  # a migration renames chat-convert
        f"{stem}-chat.json",
        f"{stem}-live-chat.json",
        f"{stem}-live-chat-convert.json",
    }
    for video_id in ("2000000014", "2000000015"):
        _, data = one(built, rf"-{video_id}-info\.json$")
        info = json.loads(data)
        vid, _uid, sid, title, created = VIDEOS[video_id]
        assert (info["stream_id"], info["title"], info["created_at"]) == (sid, title, created)
        assert info["duration"] == seconds(vid) * 10**9


# -- LiveStreamDVR ----------------------------------------------------------------------------

LSDVR_TVSHOW = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b"<tvshow>\n"
    b"<title>Liam_DVR</title>\n"
    b'<uniqueid type="twitch>10000007</uniqueid>\n'
    b'<thumb aspect="poster">poster.png</thumb>\n'
    b"<episode>3</episode>\n"
    b"<plot>Block building, redstone &amp; chat.</plot>\n"
    b"<actor>\n"
    b"\t<name>Liam_DVR</name>\n"
    b"\t<role>Themselves</role>\n"
    b"</actor>\n"
    b"</tvshow>"
)
V3_BASE = "liam_dvr_2026-11-28T18_02_11Z_40000000041"


def test_livestreamdvr_layout(tmp_path: Path) -> None:
    built = at.livestreamdvr_tree(tmp_path, now=NOW)
    layout = rel(built, tmp_path)
    assert layout["videos"] == [
        "liam_dvr/liam_dvr_2023-03-14T17_30_00Z_39000000042/"
        "liam_dvr_2023-03-14T17_30_00Z_39000000042.mp4",
        f"liam_dvr/{V3_BASE}/{V3_BASE}.mp4",
        "liam_dvr/liam_dvr_2026-12-03T17_45_09Z_40000000043/"
        "liam_dvr_2026-12-03T17_45_09Z_40000000043.mp4",
    ]
    assert layout["not_episodes"] == sorted(
        f"liam_dvr/{V3_BASE}/{V3_BASE}{s}"
        for s in ("_vod.mp4", "_chat.mp4", "_chat_mask.mp4", "_burned.mp4")
    )
    assert layout["images"] == ["liam_dvr/poster.png"]
    for suffix in (
        ".json", ".nfo", "_chat.json", ".chapters.vtt", "-llc-edl.csv", "-ffmpeg-chapters.txt",
    ):  # fmt: skip
        assert f"liam_dvr/{V3_BASE}/{V3_BASE}{suffix}" in layout["files"]
    assert (tmp_path / "liam_dvr" / V3_BASE / f"{V3_BASE}-contact_sheet.png").is_file()
    assert [p for p in layout["files"] if p.endswith(".nfo")] == [
        f"liam_dvr/{V3_BASE}/{V3_BASE}.nfo",
        "liam_dvr/tvshow.nfo",
    ]


def test_livestreamdvr_tvshow_nfo_is_broken_as_written(tmp_path: Path) -> None:
    built = at.livestreamdvr_tree(tmp_path, now=NOW)
    data = built.archiver_files[tmp_path / "liam_dvr" / "tvshow.nfo"]
    assert data == LSDVR_TVSHOW and not data.endswith(b"\n")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(data)


def test_livestreamdvr_v3_json(tmp_path: Path) -> None:
    built = at.livestreamdvr_tree(tmp_path, now=NOW)
    data = built.archiver_files[tmp_path / "liam_dvr" / V3_BASE / f"{V3_BASE}.json"]
    parsed = json.loads(data)
    # JSON.stringify(x, null, 4): four-space indent, raw UTF-8, no final newline.
    assert data == json.dumps(parsed, indent=4, ensure_ascii=False).encode()
    assert data.startswith(b'{\n    "type": "twitch",\n') and data.endswith(b"\n}")
    assert parsed["version"] == 3
    assert not {"streamer_login", "streamer_id", "streamer_name"} & set(parsed)
    vid, uid, sid, title, created = VIDEOS["2000000041"]
    assert uid == LIAM_ID and parsed["capture_id"] == sid
    assert parsed["started_at"] == created.replace("Z", ".000Z")
    assert parsed["twitch_vod_id"] == parsed["external_vod_id"] == vid
    assert parsed["twitch_vod_title"] == title and parsed["twitch_vod_date"] == created
    assert parsed["twitch_vod_duration"] == seconds(vid)
    assert 0 <= parsed["twitch_vod_duration"] - parsed["duration"] <= 60  # capture vs. VOD
    assert parsed["segments"] == [f"{V3_BASE}.mp4"]
    games = [(c["game_id"], c["game_name"]) for c in parsed["chapters"]]
    assert games == [("509658", "Just Chatting"), ("27471", "Minecraft")]
    assert all(c["title"] == title for c in parsed["chapters"])  # the stream title

    other = "liam_dvr_2026-12-03T17_45_09Z_40000000043"
    late = json.loads(built.archiver_files[tmp_path / "liam_dvr" / other / f"{other}.json"])
    vid, _, sid, _, created = VIDEOS["2000000043"]
    assert late["version"] == 3 and late["capture_id"] == sid
    assert late["started_at"] == created.replace("Z", ".000Z")
    assert not any(k.startswith(("twitch_vod", "external_vod", "streamer_")) for k in late)


def test_livestreamdvr_v2_json_names_the_streamer(tmp_path: Path) -> None:
    built = at.livestreamdvr_tree(tmp_path, now=NOW)
    base = "liam_dvr_2023-03-14T17_30_00Z_39000000042"
    old = json.loads(built.archiver_files[tmp_path / "liam_dvr" / base / f"{base}.json"])
    assert old["version"] == 2 and old["type"] == "twitch"
    assert (old["streamer_login"], old["streamer_id"], old["streamer_name"]) == (
        "liam_dvr",
        LIAM_ID,
        "Liam_DVR",
    )
    assert old["twitch_vod_id"] == at.LSDVR_EXPIRED_VOD_ID not in VIDEOS
    assert old["segments"] == [f"{base}.mp4"]


def test_livestreamdvr_episode_nfo_has_undefined_ids(tmp_path: Path) -> None:
    built = at.livestreamdvr_tree(tmp_path, now=NOW)
    data = built.archiver_files[tmp_path / "liam_dvr" / V3_BASE / f"{V3_BASE}.nfo"]
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n')
    assert b'\t<uniqueid type="twitch">undefined</uniqueid>\n' in data
    assert b"\t<id>undefined</id>\n" in data
    assert b"<title>Liam&apos;s block party &amp; chill | !discord</title>" in data
    episode = etree.fromstring(data)
    assert episode.tag == "episodedetails"
    assert episode.findtext("runtime") == "253"  # 15153 s, rounded up
    assert (episode.findtext("season"), episode.findtext("episode")) == ("202611", "13")
    assert [t.text for t in episode.iter("tag")] == ["Just Chatting", "Minecraft"]
    assert episode.findtext("plot") == (
        "1. Liam's block party & chill | !discord (Just Chatting)\n"
        "2. Liam's block party & chill | !discord (Minecraft)\n"
    )


# -- twitch-archiver --------------------------------------------------------------------------

TA_FOLDER = re.compile(r"^(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d) - (.*) - (\d+|STREAM_ONLY)$")


def test_twitch_archiver_layout(tmp_path: Path) -> None:
    built = at.twitch_archiver_tree(tmp_path, now=NOW)
    layout = rel(built, tmp_path)
    vod = "tara_archive/2026-11-16_19-30-07 - Tara_s retro night_ Mario & Zelda _ !schedule"
    stream = "tara_archive/2026-11-18_21-00-05 - Chill & chat _3 (VODs off) - STREAM_ONLY"
    highlight = "tara_archive/2026-11-19_10-00-00 - Best of retro night ✨ - 2000000023"
    partial = "tara_archive/2026-12-05_16-30-42 - Speedrun practice_ any% _ glitchless_"
    assert layout["videos"] == [
        f"{vod} - 2000000021/vod.mp4",
        f"{stream}/vod.mp4",
        f"{highlight}/vod.mp4",
    ]
    assert layout["not_episodes"] == [
        f"{partial} - 2000000024/merged.ts",
        *(f"{partial} - 2000000024/parts/0000{n}.ts" for n in range(3)),
    ]
    assert layout["images"] == [f"{vod} - 2000000021/thumbnail.jpg", f"{highlight}/thumbnail.jpg"]
    assert {Path(p).name for p in layout["files"]} == {
        "vod.json",
        "chapters.json",
        "verbose_chat.json",
        "readable_chat.txt",
        "chapters.txt",
    }
    assert not (tmp_path / partial / "vod.mp4").exists()
    for folder in (tmp_path / "tara_archive").iterdir():
        match = TA_FOLDER.fullmatch(folder.name)
        assert match is not None, folder.name
        info = json.loads((folder / "vod.json").read_bytes())
        stamp = datetime.fromtimestamp(info["created_at"], UTC)
        assert match[1] == stamp.strftime("%Y-%m-%d_%H-%M-%S")
        assert match[2] == at.twitch_archiver_title(info["title"])
        assert match[3] == (str(info["vod_id"]) if info["vod_id"] else "STREAM_ONLY")


def test_twitch_archiver_vod_json_and_chapters(tmp_path: Path) -> None:
    built = at.twitch_archiver_tree(tmp_path, now=NOW)
    vods = {}
    for path, data in built.archiver_files.items():
        if path.name == "vod.json":
            info = json.loads(data)
            assert data == json.dumps(info).encode() and b"\n" not in data  # ", " and ": "
            assert list(info) == [
                "vod_id", "stream_id", "title", "description", "created_at", "published_at",
                "thumbnail_url", "duration",
            ]  # fmt: skip
            assert isinstance(info["created_at"], float) and isinstance(info["vod_id"], int)
            vods[info["vod_id"]] = (path.parent, info)
        if path.name == "chapters.json":
            if data != b"[]":
                with pytest.raises(json.JSONDecodeError):
                    json.loads(data)
            chapters = ast.literal_eval(data.decode())
            assert all(c["type"] == "GAME_CHANGE" for c in chapters)
    assert set(vods) == {0, 2000000021, 2000000023, 2000000024}
    for video_id in ("2000000021", "2000000024"):
        folder, info = vods[int(video_id)]
        vid, uid, sid, title, created = VIDEOS[video_id]
        assert uid == TARA_ID and info["stream_id"] == int(sid) and info["title"] == title
        assert info["created_at"] == utc(created).timestamp()
        assert info["duration"] == seconds(vid)
        assert info["thumbnail_url"].endswith("/thumb/thumb0-90x60.jpg")
    folder, info = vods[2000000021]
    chapters = ast.literal_eval((folder / "chapters.json").read_text())
    assert [c["description"] for c in chapters] == ["Just Chatting", "Minecraft"]
    assert sum(c["segment"]["duration"] for c in chapters) == info["duration"]
    assert (folder / "chapters.json").read_bytes().startswith(b"[{'description': 'Just")
    folder, info = vods[0]
    assert info["thumbnail_url"] == "" and not (folder / "thumbnail.jpg").exists()
    assert str(info["stream_id"]) == at.TWITCH_ARCHIVER_STREAM_ONLY_ID
    assert not any(v[2] == at.TWITCH_ARCHIVER_STREAM_ONLY_ID for v in SAMPLE_VIDEOS)
    folder, _ = vods[2000000023]
    assert b"\\u2728" in (folder / "vod.json").read_bytes()  # ensure_ascii


def test_twitch_archiver_title_sanitising() -> None:
    assert at.twitch_archiver_title("a/b\\c:d|e<f>g\"h?i*j'k\tl") == "a_b_c_d_e_f_g_h_i_j_k_l"
    assert at.twitch_archiver_title(None) == ""
    assert at.twitch_archiver_title("x" * 129) == "x" * 128 + "..."
    assert at.twitch_archiver_title("x" * 128) == "x" * 128
    wide = "é" * 100  # 200 UTF-8 bytes, 100 characters
    assert at.twitch_archiver_title(wide) == "é" * 96 + "..."
    assert at.twitch_archiver_folder("t", 0.0, 0) == "1970-01-01_00-00-00 - t - STREAM_ONLY"


# -- streamlink recorders ---------------------------------------------------------------------


def test_streamlink_names(tmp_path: Path) -> None:
    built = at.streamlink_tree(tmp_path / "utc", now=NOW)
    assert rel(built, tmp_path / "utc")["videos"] == [
        "sam_records/sam_records - 2026-11-28 19h02m24s - Sams speedrun  chill  discord 3.mp4",
        "sam_records/sam_records - 2026-12-02 20h00m17s - Café run  día 2 .mp4",
    ]
    berlin = at.streamlink_tree(tmp_path / "berlin", now=NOW, tz=ZoneInfo("Europe/Berlin"))
    assert [p.name for p in berlin.videos] == [
        "sam_records - 2026-11-28 20h02m24s - Sams speedrun  chill  discord 3.mp4",
        "sam_records - 2026-12-02 21h00m17s - Café run  día 2 .mp4",
    ]
    assert not built.archiver_files and not built.local_images and not built.not_episodes
    for video, video_id in zip(built.videos, ("2000000031", "2000000032"), strict=True):
        _, uid, _, title, created = VIDEOS[video_id]
        stamp = re.search(r" - (\d{4}-\d\d-\d\d \d\dh\d\dm\d\ds) - ", video.name)
        assert stamp is not None and uid == SAM_ID
        recorded = datetime.strptime(stamp[1], "%Y-%m-%d %Hh%Mm%Ss").replace(tzinfo=UTC)
        assert timedelta(0) < recorded - utc(created) < timedelta(minutes=1)
        assert video.name == at.streamlink_recorder_name("sam_records", recorded, title)


# -- the fake Twitch --------------------------------------------------------------------------


@pytest.fixture
def http(fake: FakeTwitch) -> Iterator[requests.Session]:
    form = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "grant_type": "client_credentials",
    }
    token = requests.post(fake.auth_url, data=form, timeout=5).json()["access_token"]
    session = requests.Session()
    session.headers.update({"Client-Id": fake.client_id, "Authorization": f"Bearer {token}"})
    yield session
    session.close()


def test_sample_library_has_the_archiver_users_and_minecraft() -> None:
    users = {uid: (login, name) for uid, login, name in SAMPLE_USERS}
    assert users[GWEN_ID] == ("gwen_vods", "Gwen Vods")
    assert users[LIAM_ID] == ("liam_dvr", "Liam_DVR")
    assert users[TARA_ID] == ("tara_archive", "Tara Archive")
    assert users[SAM_ID] == ("sam_records", "Sam Records")
    assert [uid for uid, _, _ in SAMPLE_USERS][:5] == [f"1000000{n}" for n in range(1, 6)]
    assert (MINECRAFT_ID, "Minecraft") in SAMPLE_GAMES
    assert SAMPLE_GAMES[-1][0] == NO_ART_GAME_ID  # still the last, still without art
    assert set(SAMPLE_VIDEO_DURATIONS) <= set(VIDEOS)
    # The archivers' files say how long these VODs are; Helix must say the same.
    assert {vid: seconds(vid) for vid in SAMPLE_VIDEO_DURATIONS} == {
        "2000000011": 15153,
        "2000000012": 7312,
        "2000000014": 9876,
        "2000000015": 3600,
        "2000000021": 11234,
        "2000000024": 9876,
        "2000000031": 10000,
        "2000000032": 5025,
        "2000000041": 15160,
        "2000000043": 9001,
    }


def test_fake_answers_the_archiver_videos_with_their_durations(
    fake: FakeTwitch, http: requests.Session
) -> None:
    expected = {
        GWEN_ID: {"2000000011", "2000000012", "2000000014", "2000000015"},
        LIAM_ID: {"2000000041", "2000000043"},
        TARA_ID: {"2000000021", "2000000024"},
        SAM_ID: {"2000000031", "2000000032"},
    }
    for user_id, ids in expected.items():
        answer = http.get(f"{fake.api_base}/videos", params={"user_id": user_id, "first": "100"})
        data = {v["id"]: v for v in answer.json()["data"]}
        assert set(data) == ids
        for vid, video in data.items():
            _, _, sid, title, created = VIDEOS[vid]
            assert (video["stream_id"], video["title"], video["created_at"]) == (
                sid,
                title,
                created,
            )
            assert video["duration"] == SAMPLE_VIDEO_DURATIONS[vid]
            assert video["duration"] == helix_duration(seconds(vid))
    old = http.get(f"{fake.api_base}/videos", params={"id": "2000000001"}).json()["data"][0]
    assert old["duration"] == "3h8m33s"
    games = http.get(f"{fake.api_base}/games", params={"id": MINECRAFT_ID}).json()["data"]
    assert games[0]["name"] == "Minecraft" and "/ttv-boxart/27471-" in games[0]["box_art_url"]
    avatar = requests.get(fake.url_for("profile", GWEN_ID), timeout=5)
    assert avatar.content[:3] == b"\xff\xd8\xff"  # as ganymede's profile.png holds


def test_helix_duration_and_add_video_checks_it(fake: FakeTwitch) -> None:
    assert [helix_duration(s) for s in (0, 59, 60, 3600, 3661, 15153)] == [
        "0s",
        "59s",
        "1m0s",
        "1h0m0s",
        "1h1m1s",
        "4h12m33s",
    ]
    with pytest.raises(ValueError):
        helix_duration(-1)
    for bad in ("3:08:33", "1h2m", "", "01h2m3s"):
        with pytest.raises(ValueError):
            fake.add_video("9", GWEN_ID, "9", "t", duration=bad)
    fake.add_video("9", GWEN_ID, "9", "t", duration="12s")
