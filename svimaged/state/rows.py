"""Typed rows of the state database and their converters."""

from __future__ import annotations

from dataclasses import dataclass

from svimaged.core.model import ImageKind, TwitchUser


@dataclass(frozen=True, slots=True)
class ImageRow:
    """What the state knows about one cached (or wanted) image."""

    rel: str
    kind: ImageKind
    key: str
    source_url: str | None
    etag: str | None
    last_modified: str | None
    sha256: str | None
    size: int
    cached: bool
    last_success: float | None
    last_attempt: float | None
    failures: int
    next_retry: float | None
    last_error: str | None
    error_status: int | None


@dataclass(frozen=True, slots=True)
class RecordingRow:
    """The last seen stat data and resolved ids of one recording."""

    rel: str
    folder: str
    size: int
    mtime_ns: int
    user_id: str | None
    stream_id: str | None
    category: str | None
    artwork_rel: str | None
    sig: str | None = None  # the signature the recording had when it was last processed


@dataclass(frozen=True, slots=True)
class FolderRow:
    """A streamer folder as last processed."""

    name: str
    sig: str | None  # signature of tvshow.nfo after the last pass
    user_id: str | None
    login: str | None


def int_or_zero(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def to_user(row: tuple[object, ...]) -> TwitchUser:
    return TwitchUser(
        id=str(row[0]),
        login=str(row[1]),
        display_name=str(row[2]),
        description=str(row[3]),
        profile_image_url=None if row[4] is None else str(row[4]),
        offline_image_url=None if row[5] is None else str(row[5]),
    )


def to_image(row: tuple[object, ...]) -> ImageRow:
    def opt_str(value: object) -> str | None:
        return None if value is None else str(value)

    def opt_float(value: object) -> float | None:
        return None if value is None else float(str(value))

    return ImageRow(
        rel=str(row[0]),
        kind=ImageKind(str(row[1])),
        key=str(row[2]),
        source_url=opt_str(row[3]),
        etag=opt_str(row[4]),
        last_modified=opt_str(row[5]),
        sha256=opt_str(row[6]),
        size=int(str(row[7])),
        cached=bool(row[8]),
        last_success=opt_float(row[9]),
        last_attempt=opt_float(row[10]),
        failures=int(str(row[11])),
        next_retry=opt_float(row[12]),
        last_error=opt_str(row[13]),
        error_status=None if row[14] is None else int(str(row[14])),
    )
