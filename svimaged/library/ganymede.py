"""Source 1 of contract section 2 for ganymede's trees: `<file>-info.json` (docs/layouts.md).

ganymede writes one of three shapes (Zibbp/ganymede `internal/platform/interfaces.go`):

- an archived video (VOD, highlight, upload): `id` (the video id), `stream_id` (empty for
  highlights and uploads), `user_id`, `user_login`, `user_name`, `title`, `created_at`,
  `category` (the game's name; no game id anywhere), `thumbnail_url` with
  `%{width}x%{height}`;
- a live capture: `id` is the stream id, `type` is `live`, `game_id`, `game_name`,
  `started_at`; its `thumbnail_url` is the live preview, which is stale once the stream
  ended, so it is not used;
- a clip: `id` is the clip's slug, `channel_id`, `channel_name` (the display name), `game_id`
  (no name), `created_at`, a concrete `thumbnail_url`.

Every field is read defensively, as for info.json.
"""

from __future__ import annotations

from typing import Any

from svimaged.core.model import RecordingMeta
from svimaged.core.urls import THUMBNAIL_SIZE, fill_template
from svimaged.library.jsonfields import (
    http_url,
    ident,
    iso_time,
    load_object,
    numeric_id,
    text,
)
from svimaged.library.names import normalize_login

LIVE = "live"


def parse_ganymede_info(data: bytes, *, source: str) -> RecordingMeta:
    """What a ganymede `-info.json` says. Raises `MetadataError` naming `source` for bytes
    that are not a JSON object (see `infojson.load_object`). Pure."""
    obj = load_object(data, source)
    if "channel_id" in obj and "user_id" not in obj:
        return _clip(obj)
    if text(obj.get("type")) == LIVE:
        return _live(obj)
    return _video(obj)


def _video(obj: dict[str, Any]) -> RecordingMeta:
    template = http_url(obj.get("thumbnail_url"))
    return RecordingMeta(
        login=normalize_login(text(obj.get("user_login"))),
        user_id=numeric_id(obj.get("user_id")),
        display_name=text(obj.get("user_name")),
        title=text(obj.get("title")),
        category_name=text(obj.get("category")),
        stream_id=numeric_id(obj.get("stream_id")),
        local_id=ident(obj.get("id")),
        started_at=iso_time(obj.get("created_at")),
        thumbnail_url=fill_template(template, *THUMBNAIL_SIZE) if template else None,
    )


def _live(obj: dict[str, Any]) -> RecordingMeta:
    return RecordingMeta(
        login=normalize_login(text(obj.get("user_login"))),
        user_id=numeric_id(obj.get("user_id")),
        display_name=text(obj.get("user_name")),
        title=text(obj.get("title")),
        category_name=text(obj.get("game_name")),
        category_id=numeric_id(obj.get("game_id")),
        stream_id=numeric_id(obj.get("id")),
        started_at=iso_time(obj.get("started_at")),
    )


def _clip(obj: dict[str, Any]) -> RecordingMeta:
    return RecordingMeta(
        user_id=numeric_id(obj.get("channel_id")),
        display_name=text(obj.get("channel_name")),
        title=text(obj.get("title")),
        category_id=numeric_id(obj.get("game_id")),
        local_id=ident(obj.get("id")),
        started_at=iso_time(obj.get("created_at")),
        thumbnail_url=http_url(obj.get("thumbnail_url")),
    )
