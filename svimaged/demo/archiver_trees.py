"""Recordings trees as four Twitch archivers leave them, for the demo and the tests.

Each builder writes one channel of the fake Twitch's sample library (`fake_twitch`) in the
exact shape its archiver writes, read from the archiver's own source, and returns a `Built`
that says which files are episodes, which video-like files are not, which sidecars the
archiver wrote (with their exact bytes) and which local pictures it left.

* `ganymede_tree` (Zibbp/ganymede, v4.19 and later): `gwen_vods/profile.png` (JPEG bytes
  under a `.png` name, as `internal/archive/archive.go` downloads the Twitch avatar
  unchanged) and one folder per capture named by the folder template (default
  `{{date}}-{{id}}-{{type}}-{{uuid}}` with a version-1 uuid; `internal/config/config.go`),
  files named by the file template (default `{{id}}`): `-video.mp4`, `-info.json` (compact
  Go JSON with `\\u0026`/`\\u003c`/`\\u003e` escapes, `internal/utils/file.go`; the
  `VideoInfo`, `LiveStreamInfo` or `ClipInfo` shape of `internal/platform/interfaces.go`),
  `-thumbnail.jpg`, `-web_thumbnail.jpg`, chat (`-chat.json`, the rendered `-chat.mp4`;
  `-live-chat.json` and `-chat-convert.json` for live captures), `sprites/sprite-NNN.jpg`
  and the `<movie>` NFO of `internal/nfo/nfo.go` next to the video. Captures: a VOD, a live
  capture (named by its stream id, NFO uniqueid still the stream id), a highlight and a clip.
  `custom_template=True` renders them with `{{YYYY}}/{{MM}}/{{date}}-{{id}}-{{type}}-{{uuid}}`
  and `{{channel}}-{{date}}-{{id}}` as after a storage migration (`internal/task/task.go`,
  which also renames the live `-chat-convert.json` to `-live-chat-convert.json`) and adds two
  December VODs, one saved as HLS (`<file>-video_hls/<id>-video.m3u8`, `<id>_segmentN.ts`
  and the NFO inside that folder, no `-video.mp4`; `internal/exec/exec.go`).
* `livestreamdvr_tree` (MrBrax/LiveStreamDVR; root is `<data>/storage/vods`): `liam_dvr/`
  with `tvshow.nfo` exactly as `TwitchChannel.ts` writes it (the unclosed
  `type="twitch>` quote makes it ill-formed XML; no trailing newline) and `poster.png`, and
  one folder per capture named `{internalName}_{date}_{id}`: `<base>.json`
  (`JSON.stringify(x, null, 4)`, `server/src/Storage/JSON.ts`), `<base>.mp4` and its side
  files (`TwitchVOD.ts` `associatedFiles`). The 2026-11 capture is a version-3 file without
  `streamer_*` fields, matched to its VOD, with the episode NFO `saveKodiNfo` writes at
  finalize time (`undefined` ids); a 2023 capture is a version-2 file with
  `streamer_name/streamer_id/streamer_login` whose Twitch VOD has long expired; a 2026-12
  capture is version 3, not yet matched to its VOD. Neither has an NFO.
* `twitch_archiver_tree` (Brisppy/twitch-archiver, channel mode): `tara_archive/` with
  `<YYYY-MM-DD_HH-MM-SS UTC> - <sanitised title> - <vod id | STREAM_ONLY>/` folders
  (`twitcharchiver/utils.py` `build_output_dir_name`) holding `vod.mp4`, `vod.json`
  (`json.dumps` defaults, `twitcharchiver/vod.py`), `thumbnail.jpg`, `chapters.json` (the
  Python repr of the chapters, not JSON; `twitcharchiver/downloaders/video.py`) and the chat
  logs: a VOD, a live stream without a VOD (`vod_id` 0, no thumbnail), a highlight, and an
  interrupted download (`parts/*.ts`, `merged.ts`, no `vod.mp4`).
* `streamlink_tree` (ancalentari/twitch-stream-recorder `twitch-recorder.py`; root is its
  `processed/` folder): `sam_records/sam_records - YYYY-MM-DD HHhMMmSSs - <title>.mp4` in
  the recorder host's local time, every character that is not alphanumeric, space, `-`, `_`
  or `.` deleted from the whole name. No sidecars, no pictures.
* `mixed_tree`: all four below one root.

Videos are `VIDEO_FILLER` bytes (an HLS playlist is real playlist text); pictures are small
generated JPEGs and PNGs at the archivers' aspect ratios. Chat dumps are short stand-ins in
the general shape of TwitchDownloader's or the archiver's chat files, not byte-exact copies.
Every file gets the mtime `now - 3600`: the archiver finished an hour ago.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from svimaged.demo.fake_helix import DEFAULT_DURATION
from svimaged.demo.fake_twitch import (
    GWEN_ID,
    JUST_CHATTING_ID,
    LIAM_ID,
    MINECRAFT_ID,
    SAM_ID,
    SAMPLE_USERS,
    SAMPLE_VIDEO_DURATIONS,
    SAMPLE_VIDEOS,
    TARA_ID,
)
from svimaged.demo.pictures import make_jpeg, make_png
from svimaged.demo.sample_tree import VIDEO_FILLER

_GAMES = {JUST_CHATTING_ID: "Just Chatting", MINECRAFT_ID: "Minecraft"}
_CLOUDFRONT = "d1m7jfoe9zdc1j"
_DOCKER_MAC = 0x0242AC120004  # the node of ganymede's version-1 uuids in a container
_VIEWER = ("987654321", "someviewer", "SomeViewer")


@dataclass(frozen=True)
class Built:
    """What a builder wrote (absolute paths below its root).

    `videos`: the episode videos svimaged must treat as recordings (an HLS archive's is its
    `.m3u8` playlist). `not_episodes`: video-suffixed files that must never become episodes
    (rendered chat, side videos, HLS segments, download leftovers). `archiver_files`: every
    NFO, JSON and other text file the archiver wrote, with its exact bytes, so tests can
    check they are kept byte-identical (or merged, for NFOs); an HLS playlist is both here
    and in `videos`. `local_images`: the pictures the archiver left that could serve as
    artwork (ganymede thumbnails and `profile.png`, twitch-archiver `thumbnail.jpg`,
    LiveStreamDVR `poster.png`); sprite sheets and contact sheets are in none of the lists.
    """

    videos: tuple[Path, ...]
    not_episodes: tuple[Path, ...]
    archiver_files: dict[Path, bytes]
    local_images: tuple[Path, ...]


def merge(*parts: Built) -> Built:
    """One `Built` holding everything of `parts`, in order."""
    files: dict[Path, bytes] = {}
    for part in parts:
        files.update(part.archiver_files)
    return Built(
        videos=tuple(p for part in parts for p in part.videos),
        not_episodes=tuple(p for part in parts for p in part.not_episodes),
        archiver_files=files,
        local_images=tuple(p for part in parts for p in part.local_images),
    )


# -- shared helpers ---------------------------------------------------------------------------


class _Tree:
    """Writes files with one mtime and records them in the lists of a `Built`."""

    def __init__(self, now: float) -> None:
        self.mtime = now - 3600
        self.videos: list[Path] = []
        self.not_episodes: list[Path] = []
        self.files: dict[Path, bytes] = {}
        self.images: list[Path] = []

    def write(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (self.mtime, self.mtime))
        return path

    def video(self, path: Path) -> None:
        self.videos.append(self.write(path, VIDEO_FILLER))

    def not_episode(self, path: Path) -> None:
        self.not_episodes.append(self.write(path, VIDEO_FILLER))

    def sidecar(self, path: Path, data: bytes | str) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        self.files[self.write(path, raw)] = raw

    def image(self, path: Path, data: bytes, *, artwork: bool = True) -> None:
        self.write(path, data)
        if artwork:
            self.images.append(path)

    def jpeg(self, path: Path, width: int, height: int, *, artwork: bool = True) -> None:
        self.image(path, make_jpeg(width, height, _seed(path)), artwork=artwork)

    def built(self) -> Built:
        return Built(
            tuple(self.videos), tuple(self.not_episodes), dict(self.files), tuple(self.images)
        )


@dataclass(frozen=True, slots=True)
class _Vod:
    """A sample video of the fake Twitch, as the archivers saw it."""

    id: str
    user_id: str
    stream_id: str
    title: str
    created: datetime
    seconds: int


def _seed(path: Path) -> int:
    """A picture seed that differs per file (its last three path parts), whatever the root."""
    return zlib.crc32("/".join(path.parts[-3:]).encode("utf-8"))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(duration: str) -> int:
    """Helix `1h2m3s` as seconds."""
    total, number = 0, ""
    for char in duration:
        if char.isdigit():
            number += char
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
            number = ""
    return total


def _vod(video_id: str) -> _Vod:
    """The sample video `video_id` of `fake_twitch.SAMPLE_VIDEOS`."""
    for vid, uid, sid, title, created in SAMPLE_VIDEOS:
        if vid == video_id:
            seconds = _seconds(SAMPLE_VIDEO_DURATIONS.get(vid, DEFAULT_DURATION))
            return _Vod(vid, uid, sid, title, _utc(created), seconds)
    raise KeyError(video_id)


def _user(user_id: str) -> tuple[str, str]:
    """(login, display name) of a sample user."""
    for uid, login, display in SAMPLE_USERS:
        if uid == user_id:
            return login, display
    raise KeyError(user_id)


def _z(moment: datetime) -> str:
    """RFC 3339 UTC without fraction, as Helix writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _js_iso(moment: datetime) -> str:
    """JavaScript's `Date.toISOString()`: UTC, always with milliseconds."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _hex(*parts: str, length: int = 20) -> str:
    """A stable hex string made from `parts` (Twitch's opaque hashes)."""
    return hashlib.sha256("/".join(parts).encode("utf-8")).hexdigest()[:length]


def _chat_comment(offset: int, created: datetime, text: str) -> dict[str, Any]:
    viewer_id, viewer_login, viewer_name = _VIEWER
    return {
        "_id": str(uuid.UUID(_hex("comment", str(offset), text, length=32), version=4)),
        "created_at": _js_iso(created + timedelta(seconds=offset)),
        "content_offset_seconds": offset,
        "commenter": {"display_name": viewer_name, "_id": viewer_id, "name": viewer_login},
        "message": {"body": text, "bits_spent": 0, "fragments": [{"text": text}]},
    }


def _td_chat(vod: _Vod, game: str, text: str) -> bytes:
    """A short stand-in for TwitchDownloader's chat JSON (`FileInfo`, `streamer`, `video`,
    `comments`, `embeddedData`)."""
    _login, display = _user(vod.user_id)
    chat = {
        "FileInfo": {
            "Version": {"Major": 1, "Minor": 4, "Patch": 0},
            "CreatedAt": _js_iso(vod.created + timedelta(seconds=vod.seconds + 900)),
            "UpdatedAt": _js_iso(vod.created + timedelta(seconds=vod.seconds + 900)),
        },
        "streamer": {"name": display, "id": int(vod.user_id)},
        "video": {
            "title": vod.title,
            "description": None,
            "id": vod.id,
            "created_at": _js_iso(vod.created),
            "start": 0,
            "end": vod.seconds,
            "length": vod.seconds,
            "viewCount": 1287,
            "game": game,
            "chapters": [],
        },
        "comments": [_chat_comment(12, vod.created, text)],
        "embeddedData": None,
    }
    return json.dumps(chat, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- ganymede ---------------------------------------------------------------------------------


def go_json(value: object) -> bytes:
    """Go `encoding/json` `Marshal` output: compact, raw UTF-8, `&`, `<`, `>`, U+2028 and
    U+2029 escaped as `\\u0026`, `\\u003c`, `\\u003e`, `\\u2028`, `\\u2029`; no newline."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text.encode("utf-8")


def _go_xml_text(text: str) -> str:
    """Go `encoding/xml` `EscapeText`."""
    table = {
        '"': "&#34;",
        "'": "&#39;",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\t": "&#x9;",
        "\n": "&#xA;",
        "\r": "&#xD;",
    }
    return "".join(table.get(char, char) for char in text)


def ganymede_nfo(
    title: str, premiered: datetime | None, studio: str, genres: Iterable[str], ext_id: str
) -> bytes:
    """The `<movie>` NFO ganymede writes next to a video (`internal/nfo/nfo.go`): Go's
    `xml.Header`, two-space indent, genres de-duplicated case-insensitively, a final
    newline; no thumb, plot, runtime or actor."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<movie>"]
    lines.append(f"  <title>{_go_xml_text(title)}</title>")
    if premiered is not None:
        lines.append(f"  <premiered>{premiered.astimezone(UTC):%Y-%m-%d}</premiered>")
    if studio:
        lines.append(f"  <studio>{_go_xml_text(studio)}</studio>")
    seen: set[str] = set()
    for genre in genres:
        if genre.casefold() not in seen:
            seen.add(genre.casefold())
            lines.append(f"  <genre>{_go_xml_text(genre)}</genre>")
    if ext_id:
        lines.append(f'  <uniqueid type="twitch" default="true">{_go_xml_text(ext_id)}</uniqueid>')
    lines.append("</movie>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _uuid1(moment: datetime, clock_seq: int) -> str:
    """The version-1 uuid `uuid.NewUUID()` gives at `moment` in a Docker container."""
    ticks = int(moment.timestamp() * 10_000_000) + 0x01B21DD213814000
    ticks += clock_seq * 7919 % 10_000_000  # the sub-second part of the clock
    fields = (
        ticks & 0xFFFFFFFF,
        (ticks >> 32) & 0xFFFF,
        ((ticks >> 48) & 0x0FFF) | 0x1000,
        0x80 | ((clock_seq >> 8) & 0x3F),
        clock_seq & 0xFF,
        _DOCKER_MAC,
    )
    return str(uuid.UUID(fields=fields))


@dataclass(frozen=True, slots=True)
class _GanymedeNames:
    """ganymede's storage templates for one tree."""

    login: str
    custom: bool

    def folder(self, channel: Path, kind: str, ext_id: str, date: datetime, uid: str) -> Path:
        name = f"{date:%Y-%m-%d}-{ext_id}-{kind}-{uid}"
        return channel / f"{date:%Y}" / f"{date:%m}" / name if self.custom else channel / name

    def file(self, ext_id: str, date: datetime) -> str:
        return f"{self.login}-{date:%Y-%m-%d}-{ext_id}" if self.custom else ext_id


GANYMEDE_HIGHLIGHT_ID = "2000000013"
GANYMEDE_CLIP_ID = "BraveShinyCastleKappaPride-Gw3nV0dsC1ipAbCd"


def _cf_base(vod: _Vod, login: str) -> str:
    """`<hash>_<login>_<stream id>_<epoch>`: the folder of a VOD on Twitch's CloudFront."""
    epoch = int(vod.created.timestamp())
    return f"{_hex('vod', vod.id)}_{login}_{vod.stream_id}_{epoch}"


def _video_info(
    vod: _Vod,
    *,
    kind: str,
    chapters: list[tuple[str, int, int, str]] | None,
    category: str,
    view_count: int,
    muted: list[dict[str, int]] | None,
    cf_base: str,
    thumb_name: str = "thumb0",
) -> dict[str, Any]:
    """ganymede's `VideoInfo` (VOD, highlight, upload), fields in struct order."""
    login, display = _user(vod.user_id)
    if chapters is None:
        chapters = [("fallback", 0, vod.seconds, category)]
    return {
        "id": vod.id,
        "stream_id": vod.stream_id if kind == "archive" else "",
        "user_id": vod.user_id,
        "user_login": login,
        "user_name": display,
        "title": vod.title,
        "description": "",
        "created_at": _z(vod.created),
        "published_at": _z(vod.created),
        "url": f"https://www.twitch.tv/videos/{vod.id}",
        "thumbnail_url": (
            f"https://static-cdn.jtvnw.net/cf_vods/{_CLOUDFRONT}/{cf_base}"
            f"//thumb/{thumb_name}-%{{width}}x%{{height}}.jpg"
        ),
        "viewable": "public",
        "view_count": view_count,
        "language": "en",
        "type": kind,
        "duration": vod.seconds * 10**9,
        "category": category,
        "restriction": None,
        "chapters": [
            {
                "id": cid,
                "type": "FALLBACK" if cid == "fallback" else "GAME_CHANGE",
                "title": title,
                "start": start,
                "end": end,
            }
            for cid, start, end, title in chapters
        ],
        "muted_segments": muted,
        "sprite_thumbnails_manifest_url": (
            f"https://{_CLOUDFRONT}.cloudfront.net/{cf_base}/storyboards/{vod.id}-info.json"
        ),
    }


def _ganymede_capture(
    tree: _Tree,
    folder: Path,
    file: str,
    *,
    info: dict[str, Any],
    nfo: bytes,
    sprites: int,
    thumb: tuple[int, int] = (192, 108),
    web: tuple[int, int] = (64, 36),
    hls_id: str | None = None,
) -> None:
    """The files every ganymede capture has: video (or HLS), info.json, NFO, thumbnails,
    sprites."""
    tree.sidecar(folder / f"{file}-info.json", go_json(info))
    if hls_id is None:
        tree.video(folder / f"{file}-video.mp4")
        tree.sidecar(folder / f"{file}-video.nfo", nfo)
    else:
        hls = folder / f"{file}-video_hls"
        playlist = hls / f"{hls_id}-video.m3u8"
        segments = [f"{hls_id}_segment{n}.ts" for n in range(2)]
        text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        text += "".join(f"#EXTINF:10.000000,\n{name}\n" for name in segments)
        text += "#EXT-X-ENDLIST\n"
        tree.sidecar(playlist, text)
        tree.videos.append(playlist)
        for name in segments:
            tree.not_episode(hls / name)
        tree.sidecar(hls / f"{hls_id}-video.nfo", nfo)
    if thumb == web:  # a clip: both files are the raw Helix clip thumbnail
        data = make_jpeg(*thumb, _seed(folder / file))
        tree.image(folder / f"{file}-thumbnail.jpg", data)
        tree.image(folder / f"{file}-web_thumbnail.jpg", data)
    else:
        tree.jpeg(folder / f"{file}-thumbnail.jpg", *thumb)
        tree.jpeg(folder / f"{file}-web_thumbnail.jpg", *web)
    for n in range(sprites):
        tree.jpeg(folder / "sprites" / f"sprite-{n:03d}.jpg", 160, 90, artwork=False)


def ganymede_tree(root: Path, *, now: float, custom_template: bool = False) -> Built:
    """Write Gwen's ganymede library below `root` (ganymede's videos folder).

    Default templates: `gwen_vods/profile.png` and four captures: the VOD 2000000011 (with
    chat JSON and the rendered `-chat.mp4`), the live capture of stream 40000000012 (folder
    and files named by the stream id; its VOD on Twitch is 2000000012), the highlight
    `GANYMEDE_HIGHLIGHT_ID` (not an archive, so not in the fake's `videos`) and the clip
    `GANYMEDE_CLIP_ID` of VOD 2000000011. `custom_template=True`: the same four under
    `YYYY/MM/` with files named `gwen_vods-<date>-<id>`, as a storage migration leaves them,
    plus VOD 2000000014 and the HLS archive 2000000015 in December.
    """
    tree = _Tree(now)
    login, display = _user(GWEN_ID)
    channel = root / login
    names = _GanymedeNames(login, custom_template)
    tree.image(channel / "profile.png", make_jpeg(60, 60, _seed(channel / "profile.png")))

    # A VOD with two game chapters, chat archived and rendered.
    vod = _vod("2000000011")
    cf_base = _cf_base(vod, login)
    chapters = [
        (_hex("chapter", vod.id, "1", length=12), 0, 2700, "Just Chatting"),
        (_hex("chapter", vod.id, "2", length=12), 2700, vod.seconds, "Minecraft"),
    ]
    info = _video_info(
        vod,
        kind="archive",
        chapters=chapters,
        category="Just Chatting",
        view_count=1287,
        muted=[{"duration": 360, "offset": 9000}],
        cf_base=cf_base,
    )
    archived = vod.created + timedelta(seconds=vod.seconds + 900)
    folder = names.folder(channel, "archive", vod.id, vod.created, _uuid1(archived, 0x0F0E))
    file = names.file(vod.id, vod.created)
    nfo = ganymede_nfo(vod.title, vod.created, display, ["Just Chatting", "Minecraft"], vod.id)
    _ganymede_capture(tree, folder, file, info=info, nfo=nfo, sprites=6)
    tree.sidecar(folder / f"{file}-chat.json", _td_chat(vod, "Just Chatting", "hi gwen"))
    tree.not_episode(folder / f"{file}-chat.mp4")

    # A live capture: named by the stream id; the NFO was written before the VOD matched.
    live_vod = _vod("2000000012")
    started = live_vod.created
    live = {
        "id": live_vod.stream_id,
        "user_id": GWEN_ID,
        "user_login": login,
        "user_name": display,
        "game_id": MINECRAFT_ID,
        "game_name": _GAMES[MINECRAFT_ID],
        "type": "live",
        "title": live_vod.title,
        "viewer_count": 214,
        "started_at": _z(started),
        "language": "en",
        "thumbnail_url": (
            f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{login}-{{width}}x{{height}}.jpg"
        ),
    }
    sid = live_vod.stream_id
    folder = names.folder(
        channel, "live", sid, started, _uuid1(started + timedelta(seconds=31), 0x23C4)
    )
    file = names.file(sid, started)
    nfo = ganymede_nfo(live_vod.title, started, display, ["Minecraft", "Just Chatting"], sid)
    _ganymede_capture(tree, folder, file, info=live, nfo=nfo, sprites=3)
    tree.sidecar(folder / f"{file}-chat.json", _td_chat(live_vod, "Minecraft", "castle!"))
    live_chat = [
        {
            "action_type": "text_message",
            "author": {"display_name": _VIEWER[2], "id": _VIEWER[0], "name": _VIEWER[1]},
            "message": "castle!",
            "message_id": _hex("live", sid, length=32),
            "time_in_seconds": 12.0,
            "timestamp": int(started.timestamp()) * 1_000_000 + 12_000_000,
        }
    ]
    tree.sidecar(folder / f"{file}-live-chat.json", json.dumps(live_chat, indent=4))
    convert = "-live-chat-convert.json" if custom_template else "-chat-convert.json"
    tree.sidecar(folder / f"{file}{convert}", _td_chat(live_vod, "Minecraft", "castle!"))

    # A highlight of the live stream's VOD: VideoInfo with an empty stream id.
    highlight = _Vod(
        GANYMEDE_HIGHLIGHT_ID,
        GWEN_ID,
        "",
        "Best of the castle build",
        _utc("2026-11-22T10:00:00Z"),
        1342,
    )
    info = _video_info(
        highlight,
        kind="highlight",
        chapters=None,
        category="Minecraft",
        view_count=311,
        muted=None,
        cf_base=_cf_base(live_vod, login),
        thumb_name=f"thumb{highlight.id}",
    )
    archived = highlight.created + timedelta(hours=2)
    folder = names.folder(
        channel, "highlight", highlight.id, highlight.created, _uuid1(archived, 0x31A9)
    )
    file = names.file(highlight.id, highlight.created)
    nfo = ganymede_nfo(highlight.title, highlight.created, display, ["Minecraft"], highlight.id)
    _ganymede_capture(tree, folder, file, info=info, nfo=nfo, sprites=1)

    # A clip of the VOD: ClipInfo, the raw 480x272 clip thumbnail twice, no genres.
    clip_created = _utc("2026-11-14T19:31:40Z")
    clip = {
        "id": GANYMEDE_CLIP_ID,
        "url": f"https://clips.twitch.tv/{GANYMEDE_CLIP_ID}",
        "channel_id": GWEN_ID,
        "channel_name": display,
        "creator_id": _VIEWER[0],
        "creator_name": _VIEWER[2],
        "video_id": vod.id,
        "game_id": MINECRAFT_ID,
        "language": "en",
        "title": "the castle gate falls",
        "view_count": 57,
        "created_at": _z(clip_created),
        "thumbnail_url": (
            "https://static-cdn.jtvnw.net/twitch-clips-thumbnails-prod/"
            f"{GANYMEDE_CLIP_ID}/{uuid.UUID(_hex('clip', length=32), version=4)}"
            "/preview-480x272.jpg"
        ),
        "duration": 30,
        "vod_offset": int((clip_created - vod.created).total_seconds()),
    }
    archived = clip_created + timedelta(hours=1)
    folder = names.folder(channel, "clip", GANYMEDE_CLIP_ID, clip_created, _uuid1(archived, 0x0F0E))
    file = names.file(GANYMEDE_CLIP_ID, clip_created)
    nfo = ganymede_nfo("the castle gate falls", clip_created, display, [], GANYMEDE_CLIP_ID)
    _ganymede_capture(
        tree, folder, file, info=clip, nfo=nfo, sprites=0, thumb=(120, 68), web=(120, 68)
    )

    if custom_template:
        _ganymede_december(tree, channel, names, display)
    return tree.built()


def _ganymede_december(tree: _Tree, channel: Path, names: _GanymedeNames, display: str) -> None:
    """The custom-template tree's two December VODs, the second one saved as HLS."""
    for video_id, game, sprites, clock, hls in (
        ("2000000014", "Minecraft", 4, 0x1E77, False),
        ("2000000015", "Just Chatting", 2, 0x0B21, True),
    ):
        vod = _vod(video_id)
        info = _video_info(
            vod,
            kind="archive",
            chapters=None,
            category=game,
            view_count=402,
            muted=None,
            cf_base=_cf_base(vod, names.login),
        )
        archived = vod.created + timedelta(seconds=vod.seconds + 900)
        folder = names.folder(channel, "archive", vod.id, vod.created, _uuid1(archived, clock))
        file = names.file(vod.id, vod.created)
        nfo = ganymede_nfo(vod.title, vod.created, display, [game], vod.id)
        _ganymede_capture(
            tree,
            folder,
            file,
            info=info,
            nfo=nfo,
            sprites=sprites,
            hls_id=vod.id if hls else None,
        )
        if not hls:
            tree.sidecar(folder / f"{file}-chat.json", _td_chat(vod, game, "nether time"))


# -- LiveStreamDVR ----------------------------------------------------------------------------


def _html_entities(text: str) -> str:
    """`html-entities` `encode()` in its default `specialChars` mode."""
    table = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
    return "".join(table.get(char, char) for char in text)


def js_json(value: object) -> bytes:
    """`JSON.stringify(value, null, 4)`: four-space indent, raw UTF-8, no final newline."""
    return json.dumps(value, ensure_ascii=False, indent=4).encode("utf-8")


def lsdvr_tvshow_nfo(display: str, user_id: str, description: str, episodes: int) -> bytes:
    """`tvshow.nfo` as `TwitchChannel.ts` writes it, bug included: the `uniqueid` attribute
    quote is never closed, so no XML parser accepts the file. No final newline."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<tvshow>\n"
        f"<title>{display}</title>\n"
        f'<uniqueid type="twitch>{user_id}</uniqueid>\n'
        '<thumb aspect="poster">poster.png</thumb>\n'
        f"<episode>{episodes}</episode>\n"
        f"<plot>{_html_entities(description)}</plot>\n"
        "<actor>\n"
        f"\t<name>{display}</name>\n"
        "\t<role>Themselves</role>\n"
        "</actor>\n"
        "</tvshow>"
    ).encode()


def lsdvr_episode_nfo(vod_json: dict[str, Any], display: str) -> bytes:
    """The episode NFO `TwitchVOD.saveKodiNfo()` writes at finalize time, before the VOD is
    matched: the external VOD id is still `undefined` and the title is the first chapter's.
    Dates in the server's time zone, here UTC."""
    chapters: list[dict[str, Any]] = vod_json["chapters"]
    started = _utc(vod_json["started_at"])
    plot = "".join(
        f"{n}. {chapter['title']} ({chapter['game_name']})\n"
        for n, chapter in enumerate(chapters, 1)
    )
    games = list(dict.fromkeys(chapter["game_name"] for chapter in chapters))
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>',
        "<episodedetails>",
        f"\t<title>{_html_entities(chapters[0]['title'])}</title>",
        f"\t<showtitle>{display}</showtitle>",
        '\t<uniqueid type="twitch">undefined</uniqueid>',
        f"\t<season>{started:%Y%m}</season>",
        f"\t<episode>{vod_json['stream_number'] + 1}</episode>",
        f"\t<plot>{_html_entities(plot)}</plot>",
        f"\t<runtime>{math.ceil(vod_json['duration'] / 60)}</runtime>",
        "\t<actor>",
        f"\t\t<name>{display}</name>",
        "\t\t<role>Themselves</role>",
        "\t</actor>",
        *(f"\t<tag>{game}</tag>" for game in games),
        f"\t<premiered>{started:%Y-%m-%d}</premiered>",
        f"\t<aired>{started:%Y-%m-%d}</aired>",
        f"\t<dateadded>{started:%Y-%m-%d}</dateadded>",
        f"\t<year>{started:%Y}</year>",
        f"\t<studio>{display}</studio>",
        "\t<id>undefined</id>",
        "</episodedetails>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


_LSDVR_CHANNEL_UUID = "3f6b2c1d-8e4a-4b7f-9c2d-5a1e0f7b6c33"
LSDVR_EXPIRED_VOD_ID = "1900000042"
_LSDVR_OLD_STREAM_ID = "39000000042"


def _lsdvr_base(login: str, started: datetime, capture_id: str) -> str:
    """`{internalName}_{date}_{id}`: `date` is the UTC start with `:` made `_`."""
    return f"{login}_{started.astimezone(UTC):%Y-%m-%dT%H_%M_%SZ}_{capture_id}"


def _video_metadata(seconds: int, size: int, width: int, height: int) -> dict[str, Any]:
    return {
        "type": "video",
        "container": "MPEG-4",
        "size": size,
        "duration": seconds,
        "full_duration": seconds,
        "bitrate": size * 8 // seconds,
        "width": width,
        "height": height,
        "fps": 60,
        "fps_mode": "CFR",
        "audio_codec": "AAC",
        "audio_bitrate": 160000,
        "audio_bitrate_mode": "CBR",
        "audio_sample_rate": 48000,
        "audio_channels": 2,
        "video_codec": "AVC",
        "video_bitrate": size * 8 // seconds - 165914,
        "video_bitrate_mode": "VBR",
    }


def _lsdvr_chapter(
    at: datetime, game_id: str, title: str, box_art: str, **extra: object
) -> dict[str, Any]:
    chapter: dict[str, Any] = {
        "started_at": _js_iso(at),
        "game_id": game_id,
        "game_name": _GAMES[game_id],
        "title": title,
        "is_mature": False,
        "online": True,
    }
    chapter.update(extra)
    chapter["box_art_url"] = box_art
    return chapter


def _lsdvr_v3(
    vod: _Vod, base: str, *, capture_seconds: int, chapters: list[dict[str, Any]], number: int
) -> dict[str, Any]:
    """A version-3 VOD JSON (no `streamer_*`), in the key order the writer leaves."""
    started = vod.created
    ended = started + timedelta(seconds=capture_seconds + 15.517)
    return {
        "type": "twitch",
        "uuid": str(uuid.UUID(_hex("lsdvr", vod.stream_id, length=32), version=4)),
        "capture_id": vod.stream_id,
        "channel_uuid": _LSDVR_CHANNEL_UUID,
        "is_capturing": False,
        "is_converting": False,
        "is_finalized": True,
        "duration": capture_seconds,
        "saved_at": _js_iso(ended + timedelta(seconds=655.385)),
        "created_at": _js_iso(started + timedelta(seconds=3.311)),
        "not_started": False,
        "prevent_deletion": False,
        "failed": False,
        "bookmarks": [],
        "cloud_storage": False,
        "export_data": {},
        "viewers": [],
        "stream_pauses": [],
        "version": 3,
        "chapters": chapters,
        "segments": [f"{base}.mp4"],
        "stream_resolution": "best",
        "video_metadata": _video_metadata(capture_seconds, 651432 * capture_seconds, 1920, 1080),
        "capture_started": _js_iso(started + timedelta(seconds=4.02)),
        "capture_started2": _js_iso(started + timedelta(seconds=8.644)),
        "started_at": _js_iso(started),
        "ended_at": _js_iso(ended),
        "stream_number": number,
        "stream_season": f"{started:%Y%m}",
        "stream_absolute_season": 3,
    }


def _lsdvr_matched(vod: _Vod) -> dict[str, Any]:
    """The `external_vod_*` and `twitch_vod_*` fields `setProviderVod` adds."""
    return {
        "external_vod_exists": True,
        "external_vod_id": vod.id,
        "external_vod_duration": vod.seconds,
        "external_vod_title": vod.title,
        "external_vod_date": _js_iso(vod.created),
        "twitch_vod_id": vod.id,
        "twitch_vod_duration": vod.seconds,
        "twitch_vod_title": vod.title,
        "twitch_vod_date": _z(vod.created),
    }


def _lsdvr_side_text(tree: _Tree, folder: Path, base: str, edl: str) -> None:
    tree.sidecar(folder / f"{base}-llc-edl.csv", edl)
    tree.sidecar(folder / f"{base}-ffmpeg-chapters.txt", b"")
    tree.sidecar(folder / f"{base}.chapters.vtt", b"")


def livestreamdvr_tree(root: Path, *, now: float) -> Built:
    """Write Liam's LiveStreamDVR channel below `root` (`<data>/storage/vods`).

    `liam_dvr/tvshow.nfo` (broken), `poster.png` and three captures: stream 40000000041
    (2026-11-28, version 3, matched to VOD 2000000041, episode NFO with `undefined` ids,
    every side file: `_vod.mp4`, `_chat.mp4`, `_chat_mask.mp4`, `_burned.mp4`,
    `-contact_sheet.png`, `.chapters.vtt`, `-llc-edl.csv`, `-ffmpeg-chapters.txt`,
    `_chat.json`, `.chatdump`); stream 39000000042 (2023-03-14, version 2 with
    `streamer_*`, its VOD `LSDVR_EXPIRED_VOD_ID` gone from Twitch); stream 40000000043
    (2026-12-03, version 3, not matched; Twitch has it as VOD 2000000043). Only the first
    has an NFO.
    """
    tree = _Tree(now)
    login, display = _user(LIAM_ID)
    channel = root / login
    description = "Block building, redstone & chat."  # as in fake_twitch.sample_library
    tree.sidecar(channel / "tvshow.nfo", lsdvr_tvshow_nfo(display, LIAM_ID, description, 3))
    tree.image(channel / "poster.png", make_png(60, 60, _seed(channel / "poster.png")))

    # 2026-11: version 3, matched, finalize-time NFO, every side file.
    vod = _vod("2000000041")
    base = _lsdvr_base(login, vod.created, vod.stream_id)
    folder = channel / base
    switch = vod.created + timedelta(seconds=2709.051)
    chapters = [
        _lsdvr_chapter(
            vod.created + timedelta(seconds=3.388),
            JUST_CHATTING_ID,
            vod.title,
            f"https://static-cdn.jtvnw.net/ttv-boxart/{JUST_CHATTING_ID}-140x190.jpg",
        ),
        _lsdvr_chapter(switch, MINECRAFT_ID, vod.title, f"/cache/covers/{MINECRAFT_ID}.jpg"),
    ]
    data = _lsdvr_v3(vod, base, capture_seconds=15153, chapters=chapters, number=12)
    nfo = lsdvr_episode_nfo(data, display)  # before the VOD match
    data.update(_lsdvr_matched(vod))
    tree.sidecar(folder / f"{base}.json", js_json(data))
    tree.video(folder / f"{base}.mp4")
    tree.sidecar(folder / f"{base}.nfo", nfo)
    for suffix in ("_vod.mp4", "_chat.mp4", "_chat_mask.mp4", "_burned.mp4"):
        tree.not_episode(folder / f"{base}{suffix}")
    sheet = folder / f"{base}-contact_sheet.png"
    tree.image(sheet, make_png(160, 120, _seed(sheet)), artwork=False)
    _lsdvr_side_text(tree, folder, base, '0,2706,""\n2706,,""\n')
    tree.sidecar(folder / f"{base}_chat.json", _td_chat(vod, "Just Chatting", "hi liam"))
    tree.sidecar(folder / f"{base}.chatdump", b"")

    # 2023-03: version 2, written before 2023-07-24, so it still names the streamer.
    started = _utc("2023-03-14T17:30:00Z")
    base = _lsdvr_base(login, started, _LSDVR_OLD_STREAM_ID)
    folder = channel / base
    old_title = "first day in the new world"
    old: dict[str, Any] = {
        "version": 2,
        "type": "twitch",
        "uuid": str(uuid.UUID(_hex("lsdvr", _LSDVR_OLD_STREAM_ID, length=32), version=4)),
        "capture_id": _LSDVR_OLD_STREAM_ID,
        "stream_resolution": "best",
        "streamer_name": display,
        "streamer_id": LIAM_ID,
        "streamer_login": login,
        "channel_uuid": _LSDVR_CHANNEL_UUID,
        "chapters": [
            _lsdvr_chapter(
                started + timedelta(seconds=3.114),
                MINECRAFT_ID,
                old_title,
                f"https://static-cdn.jtvnw.net/ttv-boxart/{MINECRAFT_ID}_IGDB-140x190.jpg",
                viewer_count=38,
            )
        ],
        "segments": [f"{base}.mp4"],
        "is_capturing": False,
        "is_converting": False,
        "is_finalized": True,
        "duration": 7421,
        "video_metadata": _video_metadata(7421, 527211 * 7421, 1280, 720),
        "saved_at": "2023-03-14T20:01:12.533Z",
        "created_at": "2023-03-14T17:30:02.870Z",
        "capture_started": "2023-03-14T17:30:03.502Z",
        "capture_started2": "2023-03-14T17:30:08.166Z",
        "started_at": _js_iso(started),
        "ended_at": "2023-03-14T19:33:41.009Z",
        "twitch_vod_id": LSDVR_EXPIRED_VOD_ID,
        "twitch_vod_duration": 7428,
        "twitch_vod_title": old_title,
        "twitch_vod_date": _z(started),
        "twitch_vod_exists": True,
        "twitch_vod_muted": 1,
        "not_started": False,
        "stream_number": 4,
        "stream_season": "202303",
        "stream_absolute_season": 1,
        "prevent_deletion": False,
        "failed": False,
        "bookmarks": [],
        "cloud_storage": False,
        "export_data": {},
        "viewers": [],
        "stream_pauses": [],
    }
    tree.sidecar(folder / f"{base}.json", js_json(old))
    tree.video(folder / f"{base}.mp4")
    _lsdvr_side_text(tree, folder, base, '0,,""\n')

    # 2026-12: version 3, its VOD not matched (no external_vod_* / twitch_vod_*).
    vod = _vod("2000000043")
    base = _lsdvr_base(login, vod.created, vod.stream_id)
    folder = channel / base
    chapters = [
        _lsdvr_chapter(
            vod.created + timedelta(seconds=2.871),
            MINECRAFT_ID,
            vod.title,
            f"/cache/covers/{MINECRAFT_ID}.jpg",
        )
    ]
    data = _lsdvr_v3(vod, base, capture_seconds=8994, chapters=chapters, number=13)
    tree.sidecar(folder / f"{base}.json", js_json(data))
    tree.video(folder / f"{base}.mp4")
    _lsdvr_side_text(tree, folder, base, '0,,""\n')
    return tree.built()


# -- twitch-archiver --------------------------------------------------------------------------


def twitch_archiver_title(title: str | None) -> str:
    """The title part of a twitch-archiver folder name (`build_output_dir_name` and
    `sanitize_text`): cut to 128 characters plus `...`, then to 192 UTF-8 bytes plus
    `...`, then each of `/ \\ : | < > " ? *`, control characters and `'` made `_`."""
    if title is None:
        title = ""
    if len(title) > 128:
        title = title[:128] + "..."
    if len(title.encode("utf-8")) > 192:
        title = title.encode("utf-8")[:192].decode("utf-8", "ignore") + "..."
    if not title:
        return ""
    return re.sub(r'[/\\:|<>"?*\0-\x1f\x27]', "_", title)


def twitch_archiver_folder(title: str, created_at: float, vod_id: int) -> str:
    """`<YYYY-MM-DD_HH-MM-SS in UTC> - <title> - <vod id | STREAM_ONLY>`."""
    stamp = datetime.fromtimestamp(created_at, UTC).strftime("%Y-%m-%d_%H-%M-%S")
    last = str(vod_id) if vod_id != 0 else "STREAM_ONLY"
    return " - ".join([stamp, twitch_archiver_title(title), last])


def _ta_vod_json(
    vod_id: int, stream_id: int, title: str, created: datetime, thumb: str, seconds: int
) -> bytes:
    """`vod.json`: `json.dumps(Vod.to_dict(), default=str)`, one line, ASCII-escaped."""
    epoch = created.timestamp()
    data = {
        "vod_id": vod_id,
        "stream_id": stream_id,
        "title": title,
        "description": "",
        "created_at": epoch,
        "published_at": epoch,
        "thumbnail_url": thumb,
        "duration": seconds,
    }
    return json.dumps(data, default=str).encode("utf-8")


def _ta_chapters(chapters: list[tuple[str, float | int, float | int]]) -> bytes:
    """`chapters.json`: `str()` of the chapter list, a Python repr, not JSON."""
    value = [
        {
            "description": game,
            "type": "GAME_CHANGE",
            "segment": {"position": position, "duration": duration},
        }
        for game, position, duration in chapters
    ]
    return repr(value).encode("utf-8")


def _ta_thumb(login: str, vod: _Vod, name: str = "thumb0") -> str:
    """The GQL `previewThumbnailURL`: a concrete 90x60 URL."""
    return (
        f"https://static-cdn.jtvnw.net/cf_vods/{_CLOUDFRONT}/{_cf_base(vod, login)}"
        f"//thumb/{name}-90x60.jpg"
    )


TWITCH_ARCHIVER_HIGHLIGHT_ID = "2000000023"
TWITCH_ARCHIVER_STREAM_ONLY_ID = "40000000022"


def twitch_archiver_tree(root: Path, *, now: float) -> Built:
    """Write Tara's twitch-archiver channel folder below `root` (the `-d` directory).

    `tara_archive/` with: VOD 2000000021 (`vod.mp4`, `vod.json`, `thumbnail.jpg`,
    `chapters.json` with float positions, `verbose_chat.json`, `readable_chat.txt`); stream
    `TWITCH_ARCHIVER_STREAM_ONLY_ID` without a VOD (`... - STREAM_ONLY`, `vod_id` 0, empty
    `thumbnail_url`, `chapters.json` `[]`, no thumbnail); highlight
    `TWITCH_ARCHIVER_HIGHLIGHT_ID` (integer chapter positions, a non-ASCII title escaped in
    `vod.json`); and VOD 2000000024 whose download was interrupted (`vod.json`,
    `chapters.json`, `parts/00000.ts`..`00002.ts`, `parts/chapters.txt`, `merged.ts`, no
    `vod.mp4`).
    """
    tree = _Tree(now)
    login, _display = _user(TARA_ID)
    channel = root / login

    vod = _vod("2000000021")
    folder = channel / twitch_archiver_folder(vod.title, vod.created.timestamp(), int(vod.id))
    tree.video(folder / "vod.mp4")
    tree.sidecar(
        folder / "vod.json",
        _ta_vod_json(
            int(vod.id),
            int(vod.stream_id),
            vod.title,
            vod.created,
            _ta_thumb(login, vod),
            vod.seconds,
        ),
    )
    tree.jpeg(folder / "thumbnail.jpg", 192, 108)
    tree.sidecar(
        folder / "chapters.json",
        _ta_chapters([("Just Chatting", 0.0, 2706.0), ("Minecraft", 2706.0, vod.seconds - 2706.0)]),
    )
    comment = {
        "id": str(uuid.UUID(_hex("ta-comment", vod.id, length=32), version=4)),
        "commenter": {"id": _VIEWER[0], "login": _VIEWER[1], "displayName": _VIEWER[2]},
        "contentOffsetSeconds": 12,
        "createdAt": _js_iso(vod.created + timedelta(seconds=12.345)),
        "message": {
            "fragments": [{"emote": None, "text": "hi tara"}],
            "userBadges": [{"id": "c3Vic2NyaWJlcjsxMjs=", "setID": "subscriber", "version": "12"}],
            "userColor": "#1E90FF",
        },
    }
    tree.sidecar(folder / "verbose_chat.json", json.dumps([comment], default=str))
    tree.sidecar(folder / "readable_chat.txt", f"[12.345] (S){_VIEWER[2]}: hi tara\n")

    # A live stream Twitch kept no VOD of.
    started = _utc("2026-11-18T21:00:05Z")
    title = "Chill & chat <3 (VODs off)"
    folder = channel / twitch_archiver_folder(title, started.timestamp(), 0)
    tree.video(folder / "vod.mp4")
    stream_id = int(TWITCH_ARCHIVER_STREAM_ONLY_ID)
    tree.sidecar(folder / "vod.json", _ta_vod_json(0, stream_id, title, started, "", 7312))
    tree.sidecar(folder / "chapters.json", _ta_chapters([]))

    # A highlight of the VOD: same layout and keys.
    created = _utc("2026-11-19T10:00:00Z")
    title = "Best of retro night ✨"
    folder = channel / twitch_archiver_folder(
        title, created.timestamp(), int(TWITCH_ARCHIVER_HIGHLIGHT_ID)
    )
    tree.video(folder / "vod.mp4")
    thumb = _ta_thumb(login, vod, f"thumb{TWITCH_ARCHIVER_HIGHLIGHT_ID}")
    tree.sidecar(
        folder / "vod.json",
        _ta_vod_json(
            int(TWITCH_ARCHIVER_HIGHLIGHT_ID), int(vod.stream_id), title, created, thumb, 1342
        ),
    )
    tree.jpeg(folder / "thumbnail.jpg", 192, 108)
    tree.sidecar(folder / "chapters.json", _ta_chapters([("Minecraft", 0, 1342)]))

    # An interrupted download: parts and the merge left over, no vod.mp4 yet.
    vod = _vod("2000000024")
    folder = channel / twitch_archiver_folder(vod.title, vod.created.timestamp(), int(vod.id))
    tree.sidecar(
        folder / "vod.json",
        _ta_vod_json(
            int(vod.id),
            int(vod.stream_id),
            vod.title,
            vod.created,
            _ta_thumb(login, vod),
            vod.seconds,
        ),
    )
    tree.sidecar(folder / "chapters.json", _ta_chapters([("Minecraft", 0, vod.seconds)]))
    for n in range(3):
        tree.not_episode(folder / "parts" / f"{n:05d}.ts")
    tree.sidecar(folder / "parts" / "chapters.txt", ";FFMETADATA1\n")
    tree.not_episode(folder / "merged.ts")
    return tree.built()


# -- streamlink recorders ---------------------------------------------------------------------


def streamlink_recorder_name(username: str, started: datetime, title: str) -> str:
    """`<username> - YYYY-MM-DD HHhMMmSSs - <title>.mp4` with every character that is not
    alphanumeric (Unicode), space, `-`, `_` or `.` deleted from the whole name. `started` is
    the recorder host's naive local time, so pass an aware time in that zone."""
    name = f"{username} - {started:%Y-%m-%d %Hh%Mm%Ss} - {title}.mp4"
    return "".join(char for char in name if char.isalnum() or char in " -_.")


#: (video id, seconds between the stream start and the recorder noticing it)
_SAM_RECORDINGS = (("2000000031", 20), ("2000000032", 16))


def streamlink_tree(root: Path, *, now: float, tz: tzinfo = UTC) -> Built:
    """Write Sam's recordings below `root` (the recorder's `processed/` folder):
    `sam_records/sam_records - 2026-11-28 19h02m24s - Sams speedrun  chill  discord 3.mp4`
    and `sam_records/sam_records - 2026-12-02 20h00m17s - Café run  día 2 .mp4` with `tz` as
    the recorder's local time zone (the names above are for UTC). The recordings started
    20 and 16 seconds after their streams (VODs 2000000031 and 2000000032)."""
    tree = _Tree(now)
    login, _display = _user(SAM_ID)
    for video_id, delay in _SAM_RECORDINGS:
        vod = _vod(video_id)
        noticed = (vod.created + timedelta(seconds=delay)).astimezone(tz)
        tree.video(root / login / streamlink_recorder_name(login, noticed, vod.title))
    return tree.built()


def mixed_tree(root: Path, *, now: float) -> Built:
    """All four trees below `root`: `gwen_vods/` (default templates), `liam_dvr/`,
    `tara_archive/` and `sam_records/` (UTC names)."""
    return merge(
        ganymede_tree(root, now=now),
        livestreamdvr_tree(root, now=now),
        twitch_archiver_tree(root, now=now),
        streamlink_tree(root, now=now),
    )


__all__ = [
    "GANYMEDE_CLIP_ID",
    "GANYMEDE_HIGHLIGHT_ID",
    "LSDVR_EXPIRED_VOD_ID",
    "TWITCH_ARCHIVER_HIGHLIGHT_ID",
    "TWITCH_ARCHIVER_STREAM_ONLY_ID",
    "Built",
    "ganymede_nfo",
    "ganymede_tree",
    "go_json",
    "js_json",
    "livestreamdvr_tree",
    "lsdvr_episode_nfo",
    "lsdvr_tvshow_nfo",
    "merge",
    "mixed_tree",
    "streamlink_recorder_name",
    "streamlink_tree",
    "twitch_archiver_folder",
    "twitch_archiver_title",
    "twitch_archiver_tree",
]
