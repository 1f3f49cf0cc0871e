"""A recordings tree as StreamVault (2025-08 and later) leaves it, for the tests of a library
moving over without Twitch credentials.

What it writes, from StreamVault's own code (docs/migration.md has the details): folders and
file names from the sanitised *display name* (`Alice_Display - S202611E03 - My_title.mp4`),
`<stem>.info.json` whose `streamer.profile_image` is the local avatar path
`/recordings/.media/profiles/profile_avatar_<twitch user id>.jpg`, `tvshow.nfo` with bare
`poster.jpg`/`banner.jpg`/`fanart.jpg` thumbs and no uniqueid, `season.nfo` with a bare
`poster.jpg` thumb, episode NFOs with `uniqueid type="streamvault"` and
`type="twitch_stream_id"` and a bare `<stem>-thumb.jpg` thumb, `poster.jpg`, `fanart.jpg`
and `banner.jpg` in the show folder, `poster.jpg` (the latest episode thumbnail) and
`season-poster.jpg` in the season folder, `<stem>-thumb.jpg` per recording, and its image
cache `.media/{profiles,categories,banners,artwork}`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from svimaged.demo.pictures import make_jpeg
from svimaged.demo.sample_tree import VIDEO_FILLER


@dataclass(frozen=True, slots=True)
class SvStreamer:
    """One streamer as StreamVault knows it."""

    sv_id: int  # StreamVault's own database id
    twitch_id: str  # Twitch user id
    display: str  # StreamVault's `username` (the display name)
    folder: str  # sanitised display name: the show folder and the name in file names


@dataclass(frozen=True, slots=True)
class SvStream:
    """One recording as StreamVault knows it."""

    sv_id: int
    twitch_stream_id: str | None
    title: str  # sanitised (spaces are `_`)
    category: str
    started_at: str  # ISO, UTC
    episode: int


ALICE = SvStreamer(3, "123456789", "Alice Display", "Alice_Display")
BOB = SvStreamer(4, "987654321", "Bob Ünicode", "Bob_Ünicode")
STREAMS: dict[SvStreamer, tuple[SvStream, ...]] = {
    ALICE: (
        SvStream(21, "40000000021", "Morning_chat", "Just Chatting", "2026-10-30T08:00:00Z", 1),
        SvStream(22, "40000000022", "Ranked", "League of Legends", "2026-11-02T18:00:00Z", 1),
        SvStream(23, None, "Shiny_hunt", "Pokémon Scarlet/Violet", "2026-11-03T18:00:00Z", 2),
    ),
    BOB: (SvStream(31, "40000000031", "Any%_run", "Minecraft", "2026-11-04T20:00:00Z", 1),),
}


def stem_of(streamer: SvStreamer, stream: SvStream) -> str:
    """`<display> - SYYYYMMEnn - <title>` as StreamVault's media-server preset names it."""
    season = stream.started_at[:4] + stream.started_at[5:7]
    return f"{streamer.folder} - S{season}E{stream.episode:02d} - {stream.title}"


def season_folder(stream: SvStream) -> str:
    """`Season YYYY-MM`."""
    return f"Season {stream.started_at[:7]}"


def build_streamvault_tree(root: Path, *, finished_mtime: float) -> list[Path]:
    """Write the tree below `root`; returns the video paths."""
    videos: list[Path] = []
    media = root / ".media"
    for streamer, streams in STREAMS.items():
        show = root / streamer.folder
        show.mkdir(parents=True, exist_ok=True)
        avatar = make_jpeg(64, 64, seed=streamer.sv_id)
        _write(media / "profiles" / f"profile_avatar_{streamer.twitch_id}.jpg", avatar)
        _write(media / "banners" / f"banner_{streamer.sv_id}.jpg", make_jpeg(96, 54, seed=7))
        for name in ("poster.jpg", "fanart.jpg", "banner.jpg"):
            _write(show / name, avatar)
        _write(show / "tvshow.nfo", _tvshow_nfo(streamer).encode())
        for stream in streams:
            videos.append(_write_stream(root, media, streamer, stream, finished_mtime))
    return videos


def _write_stream(
    root: Path, media: Path, streamer: SvStreamer, stream: SvStream, mtime: float
) -> Path:
    folder = root / streamer.folder / season_folder(stream)
    stem = stem_of(streamer, stream)
    thumb = make_jpeg(128, 72, seed=stream.sv_id)
    _write(folder / f"{stem}-thumb.jpg", thumb)
    _write(folder / "poster.jpg", thumb)  # StreamVault overwrites it with the latest thumb
    _write(folder / "season-poster.jpg", thumb)
    _write(folder / "season.nfo", _season_nfo(stream).encode())
    _write(folder / f"{stem}.nfo", _episode_nfo(streamer, stream, stem).encode())
    artwork = media / "artwork" / f"streamer_{streamer.sv_id}" / f"stream_{stream.sv_id}.jpg"
    _write(artwork, thumb)
    slug = stream.category.lower().replace(" ", "_").replace("/", "_")
    _write(media / "categories" / f"{slug}.jpg", make_jpeg(60, 80, seed=len(slug)))
    info: dict[str, object] = {
        "id": stream.sv_id,
        "twitch_id": stream.twitch_stream_id,
        "streamer": {
            "id": streamer.sv_id,
            "username": streamer.display,
            "profile_image": f"/recordings/.media/profiles/profile_avatar_{streamer.twitch_id}.jpg",
        },
        "title": stream.title.replace("_", " "),
        "category": stream.category,
        "started_at": stream.started_at,
        "ended_at": None,
        "duration": 3600,
        "events": [],
    }
    _write(folder / f"{stem}.info.json", json.dumps(info).encode())
    video = _write(folder / f"{stem}.mp4", VIDEO_FILLER)
    for path in folder.iterdir():
        os.utime(path, (mtime, mtime))
    return video


#: StreamVault writes its NFOs with ElementTree: an XML declaration, then one line.
_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"


def _tvshow_nfo(streamer: SvStreamer) -> str:
    name = f"{streamer.display} Streams"
    parts = [
        f"<tvshow><title>{name}</title><sorttitle>{name}</sorttitle>",
        f"<studio>Twitch</studio><plot>Streams by {streamer.display} on Twitch.</plot>",
        '<thumb aspect="poster">poster.jpg</thumb><thumb aspect="banner">banner.jpg</thumb>',
        "<fanart><thumb>fanart.jpg</thumb></fanart><genre>Livestream</genre>",
        f"<actor><name>{streamer.display}</name>",
        f"<thumb>../.media/artwork/{streamer.folder}/poster.jpg</thumb>",
        "<role>Streamer</role></actor></tvshow>",
    ]
    return _DECLARATION + "".join(parts)


def _season_nfo(stream: SvStream) -> str:
    number = stream.started_at[:4] + stream.started_at[5:7]
    parts = [
        f"<season><seasonnumber>{number}</seasonnumber>",
        f"<title>{season_folder(stream)}</title><thumb>poster.jpg</thumb></season>",
    ]
    return _DECLARATION + "".join(parts)


def _episode_nfo(streamer: SvStreamer, stream: SvStream, stem: str) -> str:
    parts = [f'<episodedetails><uniqueid type="streamvault" default="true">{stream.sv_id}']
    parts.append("</uniqueid>")
    if stream.twitch_stream_id:
        parts.append(f'<uniqueid type="twitch_stream_id">{stream.twitch_stream_id}</uniqueid>')
    season = stream.started_at[:4] + stream.started_at[5:7]
    parts += [
        f"<title>{stem.replace('_', ' ')}</title><aired>{stream.started_at[:10]}</aired>",
        f"<season>{season}</season><episode>{stream.episode:02d}</episode>",
        f"<genre>{stream.category}</genre><thumb>{stem}-thumb.jpg</thumb>",
        f'<thumb aspect="poster">{stem}-thumb.jpg</thumb></episodedetails>',
    ]
    return _DECLARATION + "".join(parts)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
