"""Converters from SQLite rows to the typed rows of `core.model`."""

from __future__ import annotations

from svimaged.core.model import ImageKind, ImageRow, Origin, TwitchUser

#: The columns of `images`, in the order `to_image` reads them.
IMAGE_COLUMNS = (
    "rel, kind, key, origin, source, etag, last_modified, sha256, size, cached, last_success, "
    "last_attempt, failures, next_retry, last_error, error_status, file_mtime_ns"
)


def int_or_zero(value: str | None) -> int:
    """`value` as an int; None or text that is not a number counts as 0."""
    try:
        return int(value or 0)
    except ValueError:
        return 0


def to_user(row: tuple[object, ...]) -> TwitchUser:
    """A `twitch_users` row (all columns) as a `TwitchUser`."""
    return TwitchUser(
        id=str(row[0]),
        login=str(row[1]),
        display_name=str(row[2]),
        description=str(row[3]),
        profile_image_url=_opt_str(row[4]),
        offline_image_url=_opt_str(row[5]),
    )


def to_image(row: tuple[object, ...]) -> ImageRow:
    """An `images` row selected as `IMAGE_COLUMNS` as an `ImageRow`."""
    return ImageRow(
        rel=str(row[0]),
        kind=ImageKind(str(row[1])),
        key=str(row[2]),
        origin=Origin(str(row[3])),
        source=_opt_str(row[4]),
        etag=_opt_str(row[5]),
        last_modified=_opt_str(row[6]),
        sha256=_opt_str(row[7]),
        size=int(str(row[8])),
        cached=bool(row[9]),
        last_success=_opt_float(row[10]),
        last_attempt=_opt_float(row[11]),
        failures=int(str(row[12])),
        next_retry=_opt_float(row[13]),
        last_error=_opt_str(row[14]),
        error_status=None if row[15] is None else int(str(row[15])),
        file_mtime_ns=None if row[16] is None else int(str(row[16])),
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: object) -> float | None:
    return None if value is None else float(str(value))
