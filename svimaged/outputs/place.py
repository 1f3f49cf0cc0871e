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

from svimaged.core.atomic import clone_at, folder_at, link_at, write_at

MAX_SIDECAR_BYTES = 10 * 1024 * 1024


class Placed(StrEnum):
    """What `place` did."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"
    FOREIGN = "foreign"  # a file the daemon does not own is there: left alone


def file_digest(path: Path, *, root: Path) -> str | None:
    """sha256 of the regular file `path` (below `root`; no link followed on the way), None
    when there is none."""
    try:
        with folder_at(root, path.parent) as dir_fd:
            return _digest_at(dir_fd, path.name)
    except OSError:
        return None


def _digest_at(dir_fd: int, name: str) -> str | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
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
    target: Path,
    source: Path,
    source_sha: str,
    *,
    owned_sha: str | None,
    mode: str,
    root: Path,
    source_root: Path,
) -> Placed:
    """Make `target` (below `root`) hold the cached image `source` (below `source_root`,
    whose sha256 is `source_sha`); no link is followed on the way to either.

    `owned_sha` is the sha256 of what the daemon last wrote there (None: it never did). An
    existing file the daemon does not own, or that changed since it wrote it, is FOREIGN.
    `mode` is `copy` (a reflink where the file system can clone, else the bytes: a server
    that saves art into the file can never change the cache) or `hardlink` (no extra disk;
    the cache then notices a changed file and fetches it again), falling back to a copy
    across file systems. The caller fsyncs the folder (batched with the NFO renames)."""
    with folder_at(root, target.parent) as dir_fd:
        try:
            info = os.stat(target.name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None:
            if owned_sha is None or not stat.S_ISREG(info.st_mode):
                return Placed.FOREIGN
            current = _digest_at(dir_fd, target.name)
            if current != owned_sha:
                return Placed.FOREIGN
            if current == source_sha:
                return Placed.UNCHANGED
        with folder_at(source_root, source.parent) as src_dir:
            if mode == "hardlink" and link_at(src_dir, source.name, dir_fd, target.name):
                return Placed.WRITTEN
            src = os.open(source.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
        try:
            if mode == "copy" and clone_at(src, dir_fd, target.name, 0o644):
                return Placed.WRITTEN
            data = os.pread(src, MAX_SIDECAR_BYTES, 0)
        finally:
            os.close(src)
        write_at(dir_fd, target.name, data, 0o644)
        return Placed.WRITTEN


def remove_if_owned(target: Path, owned_sha: str, *, root: Path) -> bool:
    """Delete a sidecar the daemon wrote (below `root`, never through a link), only while it
    still holds exactly those bytes."""
    try:
        with folder_at(root, target.parent) as dir_fd:
            if _digest_at(dir_fd, target.name) != owned_sha:
                return False
            os.unlink(target.name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True
