"""Placing image files next to the recordings (sidecars): copies or hard links of cached
images, kept in step with the cache.

A file the daemon did not write is never touched; one it wrote but that was changed since
(the user replaced it) becomes the user's. Writes are atomic (link or copy to a temporary
name, then rename).
"""

from __future__ import annotations

import hashlib
import os
import stat
from enum import StrEnum
from pathlib import Path

from svimaged.core.atomic import atomic_clone, atomic_link, atomic_write

MAX_SIDECAR_BYTES = 10 * 1024 * 1024


class Placed(StrEnum):
    """What `place` did."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"
    FOREIGN = "foreign"  # a file the daemon does not own is there: left alone


def file_digest(path: Path) -> str | None:
    """sha256 of a regular file (links not followed), None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def place(
    target: Path, source: Path, source_sha: str, *, owned_sha: str | None, mode: str
) -> Placed:
    """Make `target` hold the cached image `source` (whose sha256 is `source_sha`).

    `owned_sha` is the sha256 of what the daemon last wrote there (None: it never did). An
    existing file the daemon does not own, or that changed since it wrote it, is FOREIGN.
    `mode` is `copy` (a reflink where the file system can clone, else the bytes: a server
    that saves art into the file can never change the cache) or `hardlink` (no extra disk;
    the cache then notices a changed file and fetches it again), falling back to a copy
    across file systems. The caller fsyncs the folder (batched with the NFO renames)."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    if info is not None:
        if owned_sha is None or not stat.S_ISREG(info.st_mode):
            return Placed.FOREIGN
        current = file_digest(target)
        if current != owned_sha:
            return Placed.FOREIGN
        if current == source_sha:
            return Placed.UNCHANGED
    if mode == "hardlink" and atomic_link(source, target, sync_dir=False):
        return Placed.WRITTEN
    if mode == "copy" and atomic_clone(source, target, sync_dir=False):
        return Placed.WRITTEN
    with open(source, "rb") as handle:
        data = handle.read(MAX_SIDECAR_BYTES + 1)
    atomic_write(target, data[:MAX_SIDECAR_BYTES], 0o644, sync_dir=False)
    return Placed.WRITTEN


def remove_if_owned(target: Path, owned_sha: str) -> bool:
    """Delete a sidecar the daemon wrote, only while it still holds exactly those bytes."""
    if file_digest(target) != owned_sha:
        return False
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True
