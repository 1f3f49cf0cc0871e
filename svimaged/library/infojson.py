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

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from svimaged.core.errors import MetadataError
from svimaged.core.model import RecordingMeta
from svimaged.library.names import normalize_login
from svimaged.library.read import read_bounded

MAX_INFO_JSON_BYTES = 8 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]{1,32}")
_UPLOAD_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_UTF8_BOM = b"\xef\xbb\xbf"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
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
    obj = _load_object(data, source)
    if "streamer" in obj or "twitch_id" in obj:
        streamer = obj.get("streamer")
        return _streamvault(obj, streamer if isinstance(streamer, dict) else {})
    return _ytdlp(obj)


def _load_object(data: bytes, source: str) -> dict[str, Any]:
    if len(data) > MAX_INFO_JSON_BYTES:
        raise MetadataError(f"{source}: info.json larger than {MAX_INFO_JSON_BYTES} bytes")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{source}: info.json is not UTF-8 (byte {exc.start})") from exc
    try:
        obj = json.loads(text)
    except RecursionError as exc:
        raise MetadataError(f"{source}: info.json nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and ints over the digit limit
        raise MetadataError(f"{source}: info.json is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise MetadataError(f"{source}: info.json top level is {type(obj).__name__}, not object")
    return obj


def _streamvault(obj: dict[str, Any], streamer: dict[str, Any]) -> RecordingMeta:
    category = obj.get("category")
    category_name, category_id = _text(category), None
    if isinstance(category, dict):
        category_name, category_id = _text(category.get("name")), _ident(category.get("id"))
    return RecordingMeta(
        login=normalize_login(_text(streamer.get("username"))),
        display_name=_text(streamer.get("display_name")),
        title=_text(obj.get("title")),
        category_name=category_name or _text(obj.get("category_name")),
        category_id=category_id or _ident(obj.get("category_id")),
        stream_id=_ident(obj.get("twitch_id")),
        local_id=_ident(obj.get("id")),
        local_streamer_id=_ident(streamer.get("id")),
        started_at=_iso_time(obj.get("started_at")),
        thumbnail_url=_http_url(obj.get("thumbnail")),
        profile_image_url=_http_url(streamer.get("profile_image")),
        avatar_user_id=_avatar_user_id(streamer.get("profile_image")),
    )


def _ytdlp(obj: dict[str, Any]) -> RecordingMeta:
    video_id = _ident(obj.get("id"))
    stream_id: str | None = None
    if obj.get("extractor") == "twitch:stream" and video_id and _DIGITS.fullmatch(video_id):
        stream_id, video_id = video_id, None
    categories = obj.get("categories")
    first_category = categories[0] if isinstance(categories, list) and categories else None
    started_at = _epoch(obj.get("timestamp")) or _epoch(obj.get("release_timestamp"))
    return RecordingMeta(
        login=normalize_login(_text(obj.get("uploader_id"))),
        display_name=_text(obj.get("uploader")),
        title=_text(obj.get("title")),
        category_name=_text(first_category) or _text(obj.get("game")),
        stream_id=stream_id,
        local_id=video_id,
        started_at=started_at or _upload_date(obj.get("upload_date")),
        thumbnail_url=_http_url(obj.get("thumbnail")),
    )


def _avatar_user_id(value: object) -> str | None:
    """The Twitch user id in StreamVault's local avatar path
    (`/recordings/.media/profiles/profile_avatar_<id>.jpg`), else None. At least 6 digits:
    StreamVault's own database ids, which older versions put in the same name, are small."""
    text = _text(value)
    match = _LOCAL_AVATAR.search(text) if text else None
    return match["id"] if match else None


def _text(value: object) -> str | None:
    """A stripped non-empty string, else None. JSON can smuggle lone surrogates (`\\ud800`)
    that no UTF-8 writer accepts; they become U+FFFD."""
    if not isinstance(value, str):
        return None
    return _LONE_SURROGATE.sub("\ufffd", value).strip() or None


def _ident(value: object) -> str | None:
    """An id as text: strings stripped, ints (not bools) converted, anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _http_url(value: object) -> str | None:
    """Only absolute http(s) URLs; local paths and other schemes are dropped."""
    url = _text(value)
    if url is None or any(ch.isspace() for ch in url):
        return None
    lower = url.lower()
    return url if lower.startswith(("https://", "http://")) and len(url) > 8 else None


def _iso_time(value: object) -> datetime | None:
    """ISO 8601 text (`Z`, an offset, or naive meaning UTC) or epoch seconds, as UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _epoch(value)
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _upload_date(value: object) -> datetime | None:
    """yt-dlp's `upload_date` (`YYYYMMDD`) at 00:00 UTC."""
    text = _text(value)
    match = _UPLOAD_DATE.fullmatch(text) if text else None
    if match is None:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None
