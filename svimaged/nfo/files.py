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
from typing import NamedTuple

from svimaged.core.atomic import Staged, commit_at, folder_at, stage_at, sync_folder
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


class NfoUpdate(NamedTuple):
    """What `update_nfo_at` did to one NFO."""

    outcome: NfoOutcome
    digest: str  # sha256 of the bytes now on disk (staged: once committed)
    created: bool  # there was no file before
    staged: Staged | None  # the new bytes, staged for the caller to commit
    sig: str | None = None  # written: `<mtime_ns>.<size>` of the new file (`scan.file_sig`)


def read_existing(dir_fd: int, name: str, shown: Path | str) -> tuple[bytes | None, int | None]:
    """The NFO's bytes and permission bits (the file `name` in the folder `dir_fd`), or
    (None, None) when there is none. Symlinks, non-regular and oversized files raise
    `MetadataError` naming `shown` (we never read or write through a link)."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise MetadataError(f"cannot stat {shown}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise MetadataError(f"{shown} is not a regular file; leaving it alone")
    if info.st_size > MAX_NFO_BYTES:
        raise NfoParseError(f"{shown} is larger than {MAX_NFO_BYTES} bytes; leaving it alone")
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as handle:
            return handle.read(MAX_NFO_BYTES + 1), stat.S_IMODE(info.st_mode)
    except OSError as exc:
        raise MetadataError(f"cannot read {shown}: {exc.strerror}") from exc


def update_nfo(
    path: Path, merge: Merge, *, root: Path, mode: int = 0o644, sync_dir: bool = True
) -> tuple[NfoOutcome, str | None]:
    """Merge what we know into the NFO at `path` (below `root`, reached without following
    links: `core.atomic`); returns the outcome and the sha256 of the bytes now on disk. An
    existing file keeps its permission bits, owner and group. Raises `MetadataError` (or
    `NfoParseError`) for files it must leave alone, and `OSError` when the write itself
    failed (disk full, read-only, a folder on the way swapped for a link).
    `sync_dir=False`: the caller fsyncs the folder (batched)."""
    with folder_at(root, path.parent) as dir_fd:
        found = update_nfo_at(dir_fd, path, merge, mode=mode)
        if sync_dir and found.outcome is NfoOutcome.WRITTEN:
            sync_folder(dir_fd)
        return found.outcome, found.digest


def update_nfo_at(
    dir_fd: int,
    path: Path | str,
    merge: Merge,
    *,
    mode: int = 0o644,
    stage: bool = False,
    absent: bool = False,
) -> NfoUpdate:
    """`update_nfo` for the file named by `path` in the folder open as `dir_fd` (the caller
    opened it without following links, once for all the NFOs of that folder); the folder
    is not fsynced. With `stage`, new bytes are only staged (written, not fsynced, not
    renamed: `core.atomic.stage_at`) and returned as `staged`; the outcome WRITTEN then
    holds once the caller has made them durable and committed them (`core.groupsync`).

    `absent`: the caller's listing of the folder had no such file, so it is not looked for
    again; the new file then only ever takes a free name (`Staged.only_new`). One that
    appeared since is merged after all (without `stage`: here; staged: the caller's commit
    raises `FileExistsError` and the caller calls again without `absent`)."""
    name = os.path.basename(path)
    if absent:
        existing, existing_mode = None, None
    else:
        existing, existing_mode = read_existing(dir_fd, name, path)
    try:
        new = merge(existing)
    except NfoParseError as exc:
        advice = hint(existing) if existing is not None else None
        if advice is None:
            raise
        raise NfoParseError(f"{exc}; {advice}") from exc
    digest = hashlib.sha256(new).hexdigest()
    created = existing is None
    if not created and new is existing:
        return NfoUpdate(NfoOutcome.LOCKED, digest, created, None)
    if not created and new == existing:
        return NfoUpdate(NfoOutcome.UP_TO_DATE, digest, created, None)
    mode = mode if existing_mode is None else existing_mode
    tmp, info = stage_at(dir_fd, name, new, mode, sync=not stage, new=created)
    staged = Staged(dir_fd, tmp, name, only_new=absent)
    if not stage:
        try:
            commit_at(*staged)
        except FileExistsError:
            if not absent:
                raise
            return update_nfo_at(dir_fd, path, merge, mode=mode)  # it appeared: merge it
    if log.isEnabledFor(logging.DEBUG):
        log.debug("nfo written %s", kv(path=str(path)))
    sig = f"{info.st_mtime_ns}.{info.st_size}"
    return NfoUpdate(NfoOutcome.WRITTEN, digest, created, staged if stage else None, sig)
