"""Source 1 of contract section 2 for twitch-archiver's trees: `vod.json` and `chapters.json`
in each video's folder (docs/layouts.md; Brisppy/twitch-archiver `twitcharchiver/vod.py`).

`vod.json` has `vod_id` (0 for a stream without a VOD), `stream_id`, `title`, `created_at` as
epoch seconds (UTC) and a concrete 90x60 `thumbnail_url`, asked for at 1280x720 instead. No
login, user id or category: the login comes from the channel folder, the category from the
first game change in `chapters.json`, which twitch-archiver writes as a Python literal (single
quotes), read here with `ast.literal_eval` (literals only, never code) within a size bound.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from svimaged.core.model import RecordingMeta
from svimaged.library.jsonfields import epoch, http_url, numeric_id, text

CHAPTERS = "chapters.json"
#: The largest chapters.json read (a few hundred bytes per game change).
MAX_CHAPTERS_BYTES = 256 * 1024
_SMALL_THUMBNAIL = re.compile(r"-90x60\.(jpg|jpeg|png)$")


def is_twitch_archiver(obj: dict[str, Any]) -> bool:
    """True for the shape of twitch-archiver's `vod.json`."""
    return "vod_id" in obj


def twitch_archiver_meta(obj: dict[str, Any], chapters: bytes | None) -> RecordingMeta:
    """What `vod.json` (and `chapters.json`, when given) say."""
    url = http_url(obj.get("thumbnail_url"))
    if url is not None and "404_processing" in url:
        url = None
    return RecordingMeta(
        title=text(obj.get("title")),
        category_name=first_game(chapters) if chapters is not None else None,
        stream_id=numeric_id(obj.get("stream_id")),
        local_id=numeric_id(obj.get("vod_id")),
        started_at=epoch(obj.get("created_at")),
        thumbnail_url=_SMALL_THUMBNAIL.sub(r"-1280x720.\1", url) if url else None,
    )


def first_game(data: bytes) -> str | None:
    """The description of the first `GAME_CHANGE` chapter, or None for anything that is not
    such a list (too large, not a literal, nested too deeply...)."""
    if len(data) > MAX_CHAPTERS_BYTES:
        return None
    try:
        chapters = ast.literal_eval(data.decode("utf-8"))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(chapters, list):
        return None
    for chapter in chapters:
        if isinstance(chapter, dict) and chapter.get("type") == "GAME_CHANGE":
            return text(chapter.get("description"))
    return None
