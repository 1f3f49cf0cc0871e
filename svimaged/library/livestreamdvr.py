"""Source 1 of contract section 2 for LiveStreamDVR's trees: `<basename>.json` next to the
capture (docs/layouts.md; MrBrax/LiveStreamDVR `server/src/Storage/JSON.ts`).

Only `"type": "twitch"` files are read (the same tree may hold YouTube or Kick captures, which
have no Twitch identity). `capture_id` is the stream id (unless it equals the VOD id, which
LiveStreamDVR puts there for a VOD without one), `twitch_vod_id` the archive video's id,
`started_at` the stream's start, the first chapter the category (`game_id`, `game_name`) and,
failing the VOD's title, the title. Files written before 2023-07-24 also carry
`streamer_login`, `streamer_id` and `streamer_name`; newer ones name the channel only by its
folder, which the names source reads.
"""

from __future__ import annotations

from typing import Any

from svimaged.core.model import RecordingMeta
from svimaged.library.jsonfields import iso_time, numeric_id, text
from svimaged.library.names import normalize_login

TWITCH = "twitch"


def is_livestreamdvr(obj: dict[str, Any]) -> bool:
    """True for the shape of a LiveStreamDVR capture's JSON."""
    return "capture_id" in obj or ("version" in obj and "segments" in obj)


def livestreamdvr_meta(obj: dict[str, Any]) -> RecordingMeta:
    """What a LiveStreamDVR capture's JSON says; nothing for a capture of another site."""
    if text(obj.get("type")) != TWITCH:
        return RecordingMeta()
    chapters = obj.get("chapters")
    first: dict[str, Any] = {}
    if isinstance(chapters, list) and chapters and isinstance(chapters[0], dict):
        first = chapters[0]
    vod_id = numeric_id(obj.get("twitch_vod_id")) or numeric_id(obj.get("external_vod_id"))
    capture = numeric_id(obj.get("capture_id"))
    return RecordingMeta(
        login=normalize_login(text(obj.get("streamer_login"))),
        user_id=numeric_id(obj.get("streamer_id")),
        display_name=text(obj.get("streamer_name")),
        title=text(obj.get("twitch_vod_title"))
        or text(obj.get("external_vod_title"))
        or text(first.get("title")),
        category_name=text(first.get("game_name")),
        category_id=numeric_id(first.get("game_id")),
        stream_id=capture if capture != vod_id else None,
        local_id=vod_id,
        started_at=iso_time(obj.get("started_at")),
    )
