"""Sources 2 and 3 of contract section 2: the episode NFO and `tvshow.nfo` already on disk.

Parsing goes through `svimaged.nfo.xml.parse_xml` (no entities, no DTD, no network). Only
direct children of the root element are read, whatever the root's tag, so a hand-written
NFO with a different root still yields what it says. Ids are taken only when they are ASCII
digits, which Twitch stream and user ids always are; anything else in a
`<uniqueid type="twitch">` was written by something else and is ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from svimaged.core.errors import NfoParseError
from svimaged.core.model import RecordingMeta, ShowMeta
from svimaged.library.read import read_bounded
from svimaged.nfo.quirks import repaired
from svimaged.nfo.xml import MAX_NFO_BYTES, parse_xml

_DIGITS = re.compile(r"[0-9]{1,32}")
_NUMBER = re.compile(r"[0-9]{1,9}")


def read_episode_nfo(path: str | Path) -> RecordingMeta:
    """Read (bounded) and parse an episode NFO. `OSError` -> `MetadataError`, bad XML ->
    `NfoParseError`; both name the path."""
    return parse_episode_nfo(read_bounded(path, MAX_NFO_BYTES), source=str(path))


def read_tvshow_nfo(path: Path) -> ShowMeta:
    """Read (bounded) and parse a `tvshow.nfo`; errors as for `read_episode_nfo`. A file with
    a flaw another program is known for (LiveStreamDVR's unclosed quote) is read with the
    flaw mended in memory (`nfo.quirks`); the file itself is never changed."""
    data = read_bounded(path, MAX_NFO_BYTES)
    try:
        return parse_tvshow_nfo(data, source=str(path))
    except NfoParseError:
        mended = repaired(data)
        if mended is None:
            raise
        return parse_tvshow_nfo(mended, source=str(path))


def parse_episode_nfo(data: bytes, *, source: str) -> RecordingMeta:
    """What an episode NFO says: `<uniqueid type="twitch">` (or StreamVault's
    `type="twitch_stream_id"`) -> stream_id, `<title>`,
    `<genre>` -> category_name, `<aired>` -> started_at (that date, 00:00 UTC),
    `<season>`/`<episode>`, `<showtitle>` -> display_name. Pure.

    Raises `NfoParseError` naming `source` when the bytes are not a safe, well-formed NFO.
    """
    fields = _children(data, source)
    return RecordingMeta(
        stream_id=_twitch_id(fields) or _twitch_id(fields, "twitch_stream_id"),
        title=_first(fields, "title"),
        category_name=_first(fields, "genre"),
        started_at=_aired(_first(fields, "aired")),
        season=_number(_first(fields, "season")),
        episode=_number(_first(fields, "episode")),
        display_name=_first(fields, "showtitle"),
    )


def parse_tvshow_nfo(data: bytes, *, source: str) -> ShowMeta:
    """What a `tvshow.nfo` says: `<uniqueid type="twitch">` -> user_id (digits only),
    `<title>` -> display_name, `<plot>` -> description. Pure; errors as `parse_episode_nfo`."""
    fields = _children(data, source)
    return ShowMeta(
        user_id=_twitch_id(fields),
        display_name=_first(fields, "title"),
        description=_first(fields, "plot"),
    )


def _children(data: bytes, source: str) -> list[etree._Element]:
    try:
        root = parse_xml(data)
    except NfoParseError as exc:
        raise NfoParseError(f"{source}: {exc}") from exc
    return [child for child in root if isinstance(child.tag, str)]


def _value(element: etree._Element) -> str | None:
    text = "".join(t for t in element.itertext() if isinstance(t, str)).strip()
    return text or None


def _first(fields: list[etree._Element], tag: str) -> str | None:
    """The text of the first `<tag>` that has any."""
    for element in fields:
        if element.tag == tag:
            value = _value(element)
            if value is not None:
                return value
    return None


def _twitch_id(fields: list[etree._Element], kind: str = "twitch") -> str | None:
    for element in fields:
        if element.tag == "uniqueid" and (element.get("type") or "").strip().lower() == kind:
            value = _value(element)
            if value is not None and _DIGITS.fullmatch(value):
                return value
    return None


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and _NUMBER.fullmatch(text) else None


def _aired(text: str | None) -> datetime | None:
    """`YYYY-MM-DD` (anything after the date, like a time, is ignored) at 00:00 UTC."""
    if text is None or len(text) < 10:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
