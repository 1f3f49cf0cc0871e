"""Reading sidecar JSON written by other programs: every byte is untrusted. A file is a JSON
object or a `MetadataError` naming it; each field is read defensively (a wrong type or an
empty string makes that field None), so one odd field never costs the others. Pure."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from svimaged.core.errors import MetadataError
from svimaged.core.text import without_lone_surrogates

#: The largest sidecar read; larger ones are reported as errors.
MAX_SIDECAR_BYTES = 8 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]{1,32}")
_UTF8_BOM = b"\xef\xbb\xbf"


def load_object(data: bytes, source: str) -> dict[str, Any]:
    """The JSON object in `data` (a UTF-8 BOM is allowed). Raises `MetadataError` naming
    `source` when the bytes are larger than `MAX_SIDECAR_BYTES`, not UTF-8, not JSON, nested
    too deeply or not an object at the top level."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise MetadataError(f"{source}: larger than {MAX_SIDECAR_BYTES} bytes")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text_ = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{source}: not UTF-8 (byte {exc.start})") from exc
    try:
        obj = json.loads(text_)
    except RecursionError as exc:
        raise MetadataError(f"{source}: JSON nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and ints over the digit limit
        raise MetadataError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise MetadataError(f"{source}: top level is {type(obj).__name__}, not an object")
    return obj


def text(value: object) -> str | None:
    """A stripped non-empty string, else None. JSON can smuggle lone surrogates (`\\ud800`)
    that no UTF-8 writer accepts; they become U+FFFD."""
    if not isinstance(value, str):
        return None
    if not value.isascii():  # an ASCII string has no surrogates to look for
        value = without_lone_surrogates(value)
    return value.strip() or None


def ident(value: object) -> str | None:
    """An id as text: strings stripped, ints (not bools) converted, anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return text(value)


def numeric_id(value: object) -> str | None:
    """A Twitch id (ASCII digits, not zero) as text, else None: `0` and `""` mean "none"
    in the archivers' files."""
    found = ident(value)
    if found is None or not _DIGITS.fullmatch(found) or not found.strip("0"):
        return None
    return found


def http_url(value: object) -> str | None:
    """Only absolute http(s) URLs; local paths and other schemes are dropped."""
    url = text(value)
    if url is None or len(url.split(None, 1)) > 1:  # whitespace inside (`text` stripped it)
        return None
    lower = url.lower()
    return url if lower.startswith(("https://", "http://")) and len(url) > 8 else None


def iso_time(value: object) -> datetime | None:
    """ISO 8601 text (`Z`, an offset, or naive meaning UTC) or epoch seconds, as UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch(value)
    found = text(value)
    if found is None:
        return None
    try:
        parsed = datetime.fromisoformat(found)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def epoch(value: object) -> datetime | None:
    """Epoch seconds (int or float, not bool) as UTC, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
