"""Pure NFO merging: existing bytes (or None) plus what we know in, new bytes out.

An existing NFO is merged, never clobbered (contract section 3.2): the daemon replaces only the
image elements it manages and adds the text elements it knows only where they are missing.
Everything else (elements, attributes, comments, processing instructions, their order and
layout) stays as it is. No file I/O here: the caller reads, compares and writes.

Contract for callers:
- `NfoParseError` (not well-formed, entity declarations, too large, wrong root element):
  leave the file byte-for-byte as it is and count the error.
- A result that `is` the `existing` object means `<lockdata>true</lockdata>` (or a `<movie>`
  episode NFO the `movie` rule says to keep): do not write.
- A result equal to the file's bytes means: up to date, do not write. Merging is idempotent,
  so the daemon's own writes never cause another write.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from svimaged.config import MovieNfo
from svimaged.core.errors import NfoParseError
from svimaged.nfo import render
from svimaged.nfo.model import EpisodeInfo, SeasonInfo, ShowInfo
from svimaged.nfo.quirks import UNDEFINED
from svimaged.nfo.xml import parse_xml

Managed = Callable[[etree._Element], bool]
#: The root element of a movie NFO (ganymede writes its episodes' NFOs so).
MOVIE_ROOT = "movie"
_INTEGER = re.compile(r"-?[0-9]{1,12}")


def merge_tvshow(existing: bytes | None, info: ShowInfo) -> bytes:
    """Merge `info` into an existing `tvshow.nfo` (or render a fresh one for None).

    Added only when missing: title, plot, `uniqueid type="twitch"`. Replaced when `info` has
    a replacement: the poster thumb(s) (no aspect or aspect="poster", not a season thumb),
    the season thumbs for the seasons in `info.season_thumbs`, and `fanart`. Other thumbs
    (banner, clearlogo, other seasons, ...) are kept.
    """
    if existing is None:
        return render.render_tvshow(info)
    root = _load(existing, render.TVSHOW_ROOT)
    if is_locked(root):
        return existing
    _add_missing(root, render.tvshow_fields(info))
    seasons = {str(thumb.season) for thumb in info.season_thumbs}
    _replace(root, render.tvshow_thumbs(info), _tvshow_managed(info.poster is not None, seasons))
    fanart = render.tvshow_fanart(info)
    if fanart is not None:
        _replace(root, [fanart], lambda element: element.tag == "fanart")
        render.indent_nested(fanart, render.child_indent(root))
    return render.serialize(root)


def merge_episode(existing: bytes | None, info: EpisodeInfo, movie: MovieNfo = "merge") -> bytes:
    """Merge `info` into an existing episode NFO (or render a fresh one for None).

    Added only when missing: title, showtitle, season, episode, aired, genre, studio,
    `uniqueid type="twitch"`. Replaced when `info.thumb` is known: every root `thumb` with no
    aspect or aspect="poster". Thumbs with other aspects are kept. LiveStreamDVR's
    `<uniqueid type="twitch">undefined</uniqueid>` gets the stream id (no other existing
    value is changed). With `info.numbered`, `<season>` and `<episode>` are set to its
    numbers (they are the ones svimaged gave before). A `<movie>` root (ganymede's NFO) is
    merged the same way when `movie` is `merge`, also renamed to `<episodedetails>` for
    `episode`, and left as it is for `keep`.
    """
    if existing is None:
        return render.render_episode(info)
    root = parse_xml(existing)
    if root.tag == MOVIE_ROOT and movie == "keep":
        return existing
    if root.tag == MOVIE_ROOT and movie == "episode":
        root.tag = render.EPISODE_ROOT
    elif root.tag != MOVIE_ROOT:
        _check_root(root, render.EPISODE_ROOT)
    if is_locked(root):
        return existing
    _fix_twitch_id(root, info.stream_id)
    if info.numbered:
        _renumber(root, info)
    _add_missing(root, render.episode_fields(info))
    _replace(root, render.episode_thumbs(info), _is_our_thumb)
    return render.serialize(root)


def merge_season(existing: bytes | None, info: SeasonInfo) -> bytes:
    """Merge `info` into an existing `season.nfo` (StreamVault's, a user's, ours) or render a
    fresh one for None. Added only when missing: seasonnumber, title. Replaced when
    `info.thumb` is known: every root `thumb` with no aspect or aspect="poster" (StreamVault's
    bare `poster.jpg` among them, which no server loads from an NFO)."""
    if existing is None:
        return render.render_season(info)
    root = _load(existing, render.SEASON_ROOT)
    if is_locked(root):
        return existing
    _add_missing(root, render.season_fields(info))
    _replace(root, render.season_thumbs(info), _is_our_thumb)
    return render.serialize(root)


def is_locked(root: etree._Element) -> bool:
    """True when the root has a `<lockdata>` child saying `true` (any case, trimmed)."""
    return any(
        child.tag == "lockdata" and (child.text or "").strip().lower() == "true" for child in root
    )


def _load(existing: bytes, expected_root: str) -> etree._Element:
    root = parse_xml(existing)
    _check_root(root, expected_root)
    return root


def _check_root(root: etree._Element, expected_root: str) -> None:
    if root.tag != expected_root:
        found = str(root.tag)[:60]
        raise NfoParseError(f"expected <{expected_root}> root element, found <{found}>")


def _renumber(root: etree._Element, info: EpisodeInfo) -> None:
    """Set `<season>` and `<episode>` to the numbers svimaged gives (the caller knows the
    ones there are svimaged's own from before)."""
    for tag, value in (("season", info.season), ("episode", info.episode)):
        if value is None:
            continue
        for child in root:
            if child.tag == tag:
                child.text = str(value)


def _fix_twitch_id(root: etree._Element, stream_id: str | None) -> None:
    """Give a `<uniqueid type="twitch">undefined</uniqueid>` (LiveStreamDVR's, `nfo.quirks`)
    the stream id; every other existing value is kept."""
    if stream_id is None or not _INTEGER.fullmatch(stream_id):
        return
    for child in root:
        if _same(child, render.uniqueid(stream_id)) and (child.text or "").strip() in UNDEFINED:
            child.text = stream_id


def _same(candidate: etree._Element, element: etree._Element) -> bool:
    if candidate.tag != element.tag:
        return False
    if element.tag != "uniqueid":
        return True
    return (candidate.get("type") or "").lower() == render.UNIQUEID_TYPE


def _add_missing(root: etree._Element, elements: list[etree._Element]) -> None:
    """Append each element that has no counterpart at the root; existing ones, even empty,
    are the user's. Our uniqueid is only the default when no other one claims to be."""
    for element in elements:
        if any(_same(child, element) for child in root):
            continue
        if element.tag == "uniqueid" and root.find("uniqueid[@default='true']") is not None:
            del element.attrib["default"]
        render.append_child(root, element)


def _replace(root: etree._Element, ours: list[etree._Element], managed: Managed) -> None:
    """Put `ours` where the first managed child stood (or at the end) and drop every managed
    child. With nothing of ours the managed children stay: never delete without a
    replacement."""
    if not ours:
        return
    old = [child for child in root if managed(child)]
    if not old:
        for element in ours:
            render.append_child(root, element)
        return
    render.replace_child(old[0], ours)
    for element in old[1:]:
        render.remove_child(element)


def _is_our_thumb(element: etree._Element) -> bool:
    return element.tag == "thumb" and (element.get("aspect") or "poster") == "poster"


def _tvshow_managed(poster: bool, seasons: set[str]) -> Managed:
    """Managed tvshow thumbs: the poster ones when we have a poster, and the season ones for
    the seasons we have art for."""

    def managed(element: etree._Element) -> bool:
        if not _is_our_thumb(element):
            return False
        if element.get("type") == "season":
            return _season_number(element.get("season")) in seasons
        return poster

    return managed


def _season_number(value: str | None) -> str | None:
    """`season="007"` and `season=" 7"` name season 7; anything else names no season."""
    text = (value or "").strip()
    return str(int(text)) if _INTEGER.fullmatch(text) else None
