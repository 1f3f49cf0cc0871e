"""Atomic file replacement: temporary file in the same folder, fsync, rename, fsync folder.

A reader sees the old file or the whole new one, never a part, also after `kill -9` or a
full disk. Temporary names match `paths.TEMP_NAME`, so cleanup can find leftovers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path

MAX_NAME_BYTES = 255


def temp_name_for(target: Path) -> Path:
    """A fresh temporary path next to `target` (hidden, recognisable by cleanup). The
    target's name is shortened when needed so the temporary name fits in 255 bytes."""
    suffix = f".svimaged-tmp-{secrets.token_hex(6)}"
    name = target.name.encode("utf-8", "surrogateescape")
    room = MAX_NAME_BYTES - 1 - len(suffix)
    short = name[:room].decode("utf-8", "ignore") if len(name) > room else target.name
    return target.with_name(f".{short}{suffix}")


def atomic_write(target: Path, data: bytes, mode: int = 0o644, *, sync_dir: bool = True) -> None:
    """Replace `target` with `data` atomically; the folder must exist.

    On any error the temporary file is removed and the old `target` (if any) is untouched.
    `sync_dir=False` leaves the folder's fsync to the caller, who batches it (`fsync_dir`
    once per folder) before recording the write as done: atomicity does not depend on it,
    only the durability of the rename does.
    """
    tmp = temp_name_for(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if sync_dir:
        fsync_dir(target.parent)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk (best effort where the file system refuses)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_link(source: Path, target: Path, *, sync_dir: bool = True) -> bool:
    """Make `target` a hard link to `source`, replacing it atomically. False (and nothing
    changed) when the file system cannot link them, e.g. across devices. `sync_dir=False`:
    the caller fsyncs the folder (batched)."""
    tmp = temp_name_for(target)
    try:
        os.link(source, tmp, follow_symlinks=False)
    except OSError:
        return False
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if sync_dir:
        fsync_dir(target.parent)
    return True


#: `ioctl(dest, FICLONE, src)`: share the source's blocks (Btrfs, XFS with reflink, bcachefs,
#: ZFS 2.2+). Linux's value of `_IOW(0x94, 9, int)`.
FICLONE = 0x40049409


def atomic_clone(source: Path, target: Path, mode: int = 0o644, *, sync_dir: bool = True) -> bool:
    """Make `target` a reflinked copy of `source` (its own file, sharing the blocks until
    either is written), replacing it atomically. False, and nothing changed, when the file
    system cannot clone (then the caller copies the bytes). `sync_dir=False`: the caller
    fsyncs the folder (batched)."""
    tmp = temp_name_for(target)
    try:
        src = os.open(source, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        dst = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode
        )
    except OSError:
        os.close(src)
        return False
    try:
        try:
            fcntl.ioctl(dst, FICLONE, src)
        except OSError:
            os.close(dst)
            dst = -1
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            return False
        os.fchmod(dst, mode)
        os.fsync(dst)
        os.close(dst)
        dst = -1
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        os.close(src)
        if dst >= 0:
            os.close(dst)
    if sync_dir:
        fsync_dir(target.parent)
    return True
