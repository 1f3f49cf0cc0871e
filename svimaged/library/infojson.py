"""Source 1 of contract section 2: `<stem>.info.json`, as StreamVault or yt-dlp writes it.

StreamVault: `{"id", "twitch_id", "streamer": {"id", "username", "display_name",
"profile_image"}, "title", "category", "started_at", "thumbnail"}`. `streamer.id` is
StreamVault's own database id and is never taken as a Twitch user id.

yt-dlp: `{"id", "extractor", "uploader_id", "uploader", "title", "thumbnail", "timestamp",
"release_timestamp", "upload_date", "categories", "game"}`. For a Twitch VOD `id` is a video
id (`v123456`), not a stream id; only the `twitch:stream` extractor's numeric `id` is one.

Every field is read defensively: a wrong type or an empty string makes that field None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from svimaged.core.model import RecordingMeta
from svimaged.library.jsonfields import (
    MAX_SIDECAR_BYTES,
    epoch,
    http_url,
    ident,
    iso_time,
    load_object,
    text,
)
from svimaged.library.names import normalize_login
from svimaged.library.read import read_bounded

MAX_INFO_JSON_BYTES = MAX_SIDECAR_BYTES
_DIGITS = re.compile(r"[0-9]{1,32}")
_UPLOAD_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
#: StreamVault's local avatar, keyed by the Twitch user id since 2025-07 (earlier versions
#: used their own small database ids in the same name: those are told apart by size).
_LOCAL_AVATAR = re.compile(r"(?:^|/)\.media/profiles/profile_avatar_(?P<id>[0-9]{6,18})\.jpg")


def read_info_json(path: Path) -> RecordingMeta:
    """Read (at most `MAX_INFO_JSON_BYTES`) and parse `path`; errors name the path."""
    return parse_info_json(read_bounded(path, MAX_INFO_JSON_BYTES), source=str(path))


def parse_info_json(data: bytes, *, source: str) -> RecordingMeta:
    """Parse info.json bytes of either shape into a `RecordingMeta`. Pure.

    Raises `MetadataError` naming `source` when the bytes are larger than
    `MAX_INFO_JSON_BYTES`, not UTF-8, not JSON, or not a JSON object at the top level.
    """
    obj = load_object(data, source)
    if "streamer" in obj or "twitch_id" in obj:
        streamer = obj.get("streamer")
        return _streamvault(obj, streamer if isinstance(streamer, dict) else {})
    return _ytdlp(obj)


def _streamvault(obj: dict[str, Any], streamer: dict[str, Any]) -> RecordingMeta:
    category = obj.get("category")
    category_name, category_id = text(category), None
    if isinstance(category, dict):
        category_name, category_id = text(category.get("name")), ident(category.get("id"))
    profile_image = streamer.get("profile_image")
    return RecordingMeta(  # positional (one per recording; keywords take twice as long)
        normalize_login(text(streamer.get("username"))),  # login
        None,  # user_id: `streamer.id` is StreamVault's own
        text(streamer.get("display_name")),  # display_name
        text(obj.get("title")),  # title
        category_name or text(obj.get("category_name")),  # category_name
        category_id or ident(obj.get("category_id")),  # category_id
        ident(obj.get("twitch_id")),  # stream_id
        ident(obj.get("id")),  # local_id
        ident(streamer.get("id")),  # local_streamer_id
        iso_time(obj.get("started_at")),  # started_at
        None,  # season
        None,  # episode
        http_url(obj.get("thumbnail")),  # thumbnail_url
        http_url(profile_image),  # profile_image_url
        _avatar_user_id(profile_image),  # avatar_user_id
    )


def _ytdlp(obj: dict[str, Any]) -> RecordingMeta:
    video_id = ident(obj.get("id"))
    stream_id: str | None = None
    if obj.get("extractor") == "twitch:stream" and video_id and _DIGITS.fullmatch(video_id):
        stream_id, video_id = video_id, None
    categories = obj.get("categories")
    first_category = categories[0] if isinstance(categories, list) and categories else None
    started_at = epoch(obj.get("timestamp")) or epoch(obj.get("release_timestamp"))
    return RecordingMeta(
        login=normalize_login(text(obj.get("uploader_id"))),
        display_name=text(obj.get("uploader")),
        title=text(obj.get("title")),
        category_name=text(first_category) or text(obj.get("game")),
        stream_id=stream_id,
        local_id=video_id,
        started_at=started_at or _upload_date(obj.get("upload_date")),
        thumbnail_url=http_url(obj.get("thumbnail")),
    )


def _avatar_user_id(value: object) -> str | None:
    """The Twitch user id in StreamVault's local avatar path
    (`/recordings/.media/profiles/profile_avatar_<id>.jpg`), else None. At least 6 digits:
    StreamVault's own database ids, which older versions put in the same name, are small."""
    found = text(value)
    match = _LOCAL_AVATAR.search(found) if found else None
    return match["id"] if match else None


def _upload_date(value: object) -> datetime | None:
    """yt-dlp's `upload_date` (`YYYYMMDD`) at 00:00 UTC."""
    found = text(value)
    match = _UPLOAD_DATE.fullmatch(found) if found else None
    if match is None:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None
