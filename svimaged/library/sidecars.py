"""Source 1 of contract section 2, by layout: the sidecar file `library.layouts` recognised
next to a recording, read (bounded, non-blocking) and parsed by the module of the archiver
that wrote it. A `<stem>.json` is LiveStreamDVR's or twitch-archiver's by its content; a JSON
object of neither shape says nothing (it belongs to some other program)."""

from __future__ import annotations

import os

from svimaged.core.errors import MetadataError
from svimaged.core.model import Layout, RecordingFiles, RecordingMeta
from svimaged.library.ganymede import parse_ganymede_info
from svimaged.library.infojson import parse_info_json
from svimaged.library.jsonfields import MAX_SIDECAR_BYTES, load_object
from svimaged.library.livestreamdvr import is_livestreamdvr, livestreamdvr_meta
from svimaged.library.read import read_bounded
from svimaged.library.twitch_archiver import (
    CHAPTERS,
    MAX_CHAPTERS_BYTES,
    is_twitch_archiver,
    twitch_archiver_meta,
)


def read_sidecar(rec: RecordingFiles) -> RecordingMeta | None:
    """What `rec`'s sidecar says, None when it has none. Raises `MetadataError` naming the
    file when it cannot be read or is not a JSON object."""
    path = rec.sidecar
    if path is None or rec.layout is Layout.NAMES:
        return None
    data = read_bounded(path, MAX_SIDECAR_BYTES)
    if rec.layout is Layout.INFO_JSON:
        return parse_info_json(data, source=str(path))
    if rec.layout is Layout.GANYMEDE:
        return parse_ganymede_info(data, source=str(path))
    obj = load_object(data, str(path))
    if is_twitch_archiver(obj):
        chapters = os.path.join(os.path.dirname(path), CHAPTERS)
        return twitch_archiver_meta(obj, _optional(chapters, MAX_CHAPTERS_BYTES))
    if is_livestreamdvr(obj):
        return livestreamdvr_meta(obj)
    return RecordingMeta()


def _optional(path: str, limit: int) -> bytes | None:
    """The bytes of an optional companion, None when it is missing or unreadable."""
    try:
        return read_bounded(path, limit)
    except MetadataError:
        return None
