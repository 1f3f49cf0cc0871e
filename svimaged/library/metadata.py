"""The merge chain of contract section 2: first hit wins per field.

Order: the recording's sidecar (`<stem>.info.json`, ganymede's `-info.json`, LiveStreamDVR's
or twitch-archiver's `.json`), the existing episode NFO, the existing `tvshow.nfo`, the names.
(Helix, source 5, is applied later by the pipeline, which owns the network.) When two
sources disagree about an identity field (login, stream id, user id) the first still wins
and the disagreement is returned as a `Conflict` for the caller to log.

ganymede and LiveStreamDVR write their own episode NFOs with the *video* id (or
`undefined`) as `<uniqueid type="twitch">`; for their recordings the NFO is not asked for a
stream id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from operator import itemgetter
from typing import Any, TypeVar

from svimaged.core.errors import MetadataError
from svimaged.core.model import Layout, RecordingFiles, RecordingMeta, ShowMeta
from svimaged.library.layouts import TWITCH_ARCHIVER_STEM
from svimaged.library.names import normalize_login, parse_archive_folder, parse_recording_name
from svimaged.library.nfo_meta import read_episode_nfo
from svimaged.library.sidecars import read_sidecar

INFO_JSON = "info.json"
EPISODE_NFO = "nfo"
TVSHOW_NFO = "tvshow.nfo"
NAMES = "names"

#: Identity fields whose disagreement between sources is reported.
CONFLICT_FIELDS: tuple[str, ...] = ("login", "stream_id", "user_id")

_Meta = TypeVar("_Meta", RecordingMeta, ShowMeta)


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two sources disagree about `field`; `kept` (from `kept_source`) won."""

    field: str
    kept_source: str
    kept: str
    other_source: str
    other: str


def merge_meta(
    layers: Sequence[tuple[str, RecordingMeta]],
) -> tuple[RecordingMeta, list[Conflict]]:
    """Merge `(source name, meta)` layers, earliest first: per field the first non-None wins.

    For each field in `CONFLICT_FIELDS`, every later source with a different non-None value
    yields one `Conflict` (logins compare case-insensitively). Pure.
    """
    merged = _first_hits(_NO_RECORDING, layers)
    return merged, _conflicts(layers)


def show_meta_from(layers: Sequence[tuple[str, ShowMeta]]) -> ShowMeta:
    """Merge `(source name, ShowMeta)` layers, earliest first: first non-None per field."""
    return _first_hits(_NO_SHOW, layers)


def gather_recording(
    rec: RecordingFiles, show: ShowMeta | None, *, tz: tzinfo | None = UTC
) -> tuple[RecordingMeta, list[Conflict], list[MetadataError]]:
    """Everything the local sources say about `rec`, merged in contract section 2 order.

    Reads `rec.sidecar` and `rec.nfo` when present; `show` (from `tvshow.nfo`, read by the
    caller once per streamer) contributes user_id, display_name and login; the names come
    last (times in them are in `tz`, None meaning the host's local time). A file that cannot
    be read or understood becomes one `MetadataError` (naming its path) in the returned list
    and is skipped; the caller logs and counts it.
    """
    layers: list[tuple[str, RecordingMeta]] = []
    errors: list[MetadataError] = []
    try:
        sidecar = read_sidecar(rec)
    except MetadataError as exc:
        errors.append(exc)
        sidecar = None
    if sidecar is not None:
        layers.append((INFO_JSON, sidecar))
    nfo = _read_layer(rec.nfo, read_episode_nfo, errors)
    if nfo is not None:
        if rec.layout in (Layout.GANYMEDE, Layout.JSON):
            nfo = nfo._replace(stream_id=None)
        layers.append((EPISODE_NFO, nfo))
    if show is not None and (show.user_id or show.display_name or show.login):
        layers.append((TVSHOW_NFO, _show_layer(show)))
    layers.append((NAMES, names_of(rec, tz)))
    merged, conflicts = merge_meta(layers)
    return merged, conflicts, errors


def names_of(rec: RecordingFiles, tz: tzinfo | None = UTC) -> RecordingMeta:
    """What the names say about `rec`: twitch-archiver's `vod.mp4` by its folder's name (the
    login from the streamer folder), every other recording by its file name."""
    if rec.layout is Layout.JSON and rec.stem == TWITCH_ARCHIVER_STEM:
        folder = parse_archive_folder(os.path.basename(os.path.dirname(rec.video)))
        if folder.title is not None:
            return folder._replace(
                login=normalize_login(rec.streamer_folder),
                display_name=rec.streamer_folder.strip() or None,
            )
    return parse_recording_name(rec.stem, rec.streamer_folder, tz=tz)


def _read_layer(
    path: str | None,
    reader: Callable[[str], RecordingMeta],
    errors: list[MetadataError],
) -> RecordingMeta | None:
    if path is None:
        return None
    try:
        return reader(path)
    except MetadataError as exc:
        errors.append(exc)
        return None


def _show_layer(show: ShowMeta) -> RecordingMeta:
    """What `tvshow.nfo` contributes to each of its recordings."""
    return RecordingMeta(user_id=show.user_id, display_name=show.display_name, login=show.login)


def _first_hits(empty: _Meta, layers: Sequence[tuple[str, _Meta]]) -> _Meta:
    if not layers:
        return empty
    first = layers[0][1]
    if len(layers) == 1 or None not in first:
        return first
    values: Sequence[Any] = first
    for _source, later in layers[1:]:  # layers of one type: as long as each other
        values = [b if a is None else a for a, b in zip(values, later)]  # noqa: B905
        if None not in values:
            break
    return tuple.__new__(type(empty), values)  # `_make` without its length check


_NO_RECORDING = RecordingMeta()
_NO_SHOW = ShowMeta()
_CONFLICT_VALUES = itemgetter(*(RecordingMeta._fields.index(name) for name in CONFLICT_FIELDS))


def _conflicts(layers: Sequence[tuple[str, RecordingMeta]]) -> list[Conflict]:
    """Per field of `CONFLICT_FIELDS` in order, each later value that differs from the
    first one."""
    found: list[Conflict] = []
    if len(layers) == 2 and _two_agree(layers[0][1], layers[1][1]):
        return found  # the common case (a sidecar and the names), without the loops below
    columns = [(source, _CONFLICT_VALUES(meta)) for source, meta in layers]
    for i, name in enumerate(CONFLICT_FIELDS):
        kept_source: str | None = None
        kept: str | None = None
        for source, values in columns:
            value = values[i]
            if value is None:
                continue
            if kept_source is None or kept is None:
                kept_source, kept = source, value
            elif _differs(name, kept, value):
                found.append(Conflict(name, kept_source, kept, source, value))
    return found


def _two_agree(first: RecordingMeta, second: RecordingMeta) -> bool:
    """True when two layers agree on every field of `CONFLICT_FIELDS` both know."""
    a, b = first.login, second.login
    if a is not None and b is not None and a.casefold() != b.casefold():
        return False
    a, b = first.stream_id, second.stream_id
    if a is not None and b is not None and a != b:
        return False
    a, b = first.user_id, second.user_id
    return a is None or b is None or a == b


def _differs(name: str, kept: str, other: str) -> bool:
    if name == "login":
        return kept.casefold() != other.casefold()
    return kept != other
