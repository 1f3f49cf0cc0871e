"""The I/O step for NFO files: read, merge (pure, in `svimaged.nfo`), write atomically only
when the bytes differ. A file that does not parse is left byte-for-byte as it is."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from svimaged.core.atomic import atomic_write
from svimaged.core.errors import MetadataError, NfoParseError
from svimaged.core.log import kv
from svimaged.nfo.quirks import hint
from svimaged.nfo.xml import MAX_NFO_BYTES

log = logging.getLogger(__name__)


class NfoOutcome(StrEnum):
    """What happened to one NFO file."""

    WRITTEN = "written"
    UP_TO_DATE = "up_to_date"
    LOCKED = "locked"
    ERROR = "error"


Merge = Callable[[bytes | None], bytes]


def read_existing(path: Path) -> tuple[bytes | None, int | None]:
    """The NFO's bytes and permission bits, or (None, None) when there is none. Symlinks,
    non-regular and oversized files raise `MetadataError` naming the path (we never write
    through a link)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise MetadataError(f"cannot stat {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise MetadataError(f"{path} is not a regular file; leaving it alone")
    if info.st_size > MAX_NFO_BYTES:
        raise NfoParseError(f"{path} is larger than {MAX_NFO_BYTES} bytes; leaving it alone")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            return handle.read(MAX_NFO_BYTES + 1), stat.S_IMODE(info.st_mode)
    except OSError as exc:
        raise MetadataError(f"cannot read {path}: {exc.strerror}") from exc


def update_nfo(
    path: Path, merge: Merge, *, mode: int = 0o644, sync_dir: bool = True
) -> tuple[NfoOutcome, str | None]:
    """Merge what we know into the NFO at `path`; returns the outcome and the sha256 of the
    bytes now on disk. An existing file keeps its permission bits. Raises `MetadataError`
    (or `NfoParseError`) for files it must leave alone, and `OSError` when the write itself
    failed (disk full, read-only). `sync_dir=False`: the caller fsyncs the folder (batched)."""
    existing, existing_mode = read_existing(path)
    try:
        new = merge(existing)
    except NfoParseError as exc:
        advice = hint(existing) if existing is not None else None
        if advice is None:
            raise
        raise NfoParseError(f"{exc}; {advice}") from exc
    digest = hashlib.sha256(new).hexdigest()
    if existing is not None and new is existing:
        return NfoOutcome.LOCKED, digest
    if existing is not None and new == existing:
        return NfoOutcome.UP_TO_DATE, digest
    atomic_write(path, new, mode if existing_mode is None else existing_mode, sync_dir=sync_dir)
    log.debug("nfo written %s", kv(path=str(path)))
    return NfoOutcome.WRITTEN, digest
