"""Reading Helix answers: every byte from Twitch is untrusted. Bodies must be JSON objects
with a `data` list of objects; required fields are checked, optional ones default; image URL
templates are filled (box art 285x380, video thumbnails 1280x720); lone surrogates in any
text become U+FFFD. Pure: no I/O here; every problem is a `HelixError` naming the endpoint."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from svimaged.core.errors import HelixError
from svimaged.core.model import TwitchGame, TwitchUser, TwitchVideo
from svimaged.core.text import without_lone_surrogates
from svimaged.core.urls import BOX_ART_SIZE as BOX_ART_SIZE
from svimaged.core.urls import THUMBNAIL_SIZE as THUMBNAIL_SIZE
from svimaged.core.urls import fill_template as fill_template

DEFAULT_TOKEN_TTL = 3600
_DURATION = re.compile(r"(?:([0-9]{1,5})h)?(?:([0-9]{1,5})m)?(?:([0-9]{1,5})s)?")


def box_art_url(template: str | None) -> str | None:
    """The 285x380 box art URL, or None for an empty template or Twitch's `404_boxart`
    placeholder (which means "this category has no box art")."""
    if not template or "/404_boxart" in template:
        return None
    return fill_template(template, *BOX_ART_SIZE)


def thumbnail_url(template: str | None) -> str | None:
    """The 1280x720 video thumbnail URL, or None when empty or a `_404/` placeholder (a video
    still being processed)."""
    if not template or "_404/" in template:
        return None
    return fill_template(template, *THUMBNAIL_SIZE)


def decode_object(endpoint: str, body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or HelixError (HTML pages, truncated JSON, arrays, JSON
    nested too deeply for the parser...)."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise HelixError(f"twitch answer is nested too deeply endpoint={endpoint}") from None
    except (UnicodeDecodeError, ValueError):
        raise HelixError(f"twitch answer is not JSON endpoint={endpoint}") from None
    if not isinstance(payload, dict):
        raise HelixError(f"twitch answer is not a JSON object endpoint={endpoint}")
    return payload


def data_list(endpoint: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    data = payload.get("data")
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise HelixError(f"twitch answer has no data list endpoint={endpoint}")
    return data


def next_cursor(payload: dict[str, Any]) -> str | None:
    pagination = payload.get("pagination")
    if not isinstance(pagination, dict):
        return None
    cursor = _optional(pagination, "cursor")
    return cursor or None


def _required(entry: dict[str, Any], key: str, endpoint: str) -> str:
    value = entry.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise HelixError(f"twitch answer lacks field endpoint={endpoint} field={key}")
    return without_lone_surrogates(value)


def _optional(entry: dict[str, Any], key: str) -> str:
    return _text(entry.get(key))


def _text(value: object) -> str:
    """`value` if it is a string, with lone surrogates replaced (`core.text`), else "".
    Every text of an answer is read through here or `_required`."""
    return without_lone_surrogates(value) if isinstance(value, str) else ""


def parse_user(entry: dict[str, Any]) -> TwitchUser:
    login = _required(entry, "login", "users")
    return TwitchUser(
        id=_required(entry, "id", "users"),
        login=login,
        display_name=_optional(entry, "display_name") or login,
        description=_optional(entry, "description"),
        profile_image_url=_optional(entry, "profile_image_url") or None,
        offline_image_url=_optional(entry, "offline_image_url") or None,
    )


def parse_game(entry: dict[str, Any]) -> TwitchGame:
    return TwitchGame(
        id=_required(entry, "id", "games"),
        name=_required(entry, "name", "games"),
        box_art_url=box_art_url(_optional(entry, "box_art_url")),
    )


def parse_video(entry: dict[str, Any], user_id: str) -> TwitchVideo:
    stream_id = entry.get("stream_id")
    if isinstance(stream_id, int) and not isinstance(stream_id, bool):
        stream_id = str(stream_id)
    return TwitchVideo(
        id=_required(entry, "id", "videos"),
        user_id=_optional(entry, "user_id") or user_id,
        stream_id=_text(stream_id) or None,
        title=_optional(entry, "title"),
        thumbnail_url=thumbnail_url(_optional(entry, "thumbnail_url")),
        created_at=_parse_time(_optional(entry, "created_at")),
        duration=parse_duration(_optional(entry, "duration")),
    )


def parse_duration(value: str) -> int | None:
    """Twitch's `3h8m33s` (any of the parts may be missing) in seconds, None otherwise."""
    match = _DURATION.fullmatch(value.strip()) if value else None
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _parse_time(value: str) -> datetime | None:
    """An RFC 3339 time as aware UTC, or None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_token(payload: dict[str, Any]) -> tuple[str, float]:
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise HelixError("twitch token answer lacks access_token")
    if not (token.isascii() and token.isprintable()):  # it goes into a header as it is
        raise HelixError("twitch token answer has an access_token that is not printable ASCII")
    ttl = payload.get("expires_in")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        ttl = DEFAULT_TOKEN_TTL
    return token, float(ttl)
