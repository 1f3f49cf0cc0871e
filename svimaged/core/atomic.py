"""Atomic file replacement below a trusted root: temporary file in the same folder, fsync,
rename, fsync folder; and the anchored folder access every write, link and unlink goes
through.

A reader sees the old file or the whole new one, never a part, also after `kill -9` or a full
disk. Temporary names match `names.TEMP_NAME`, so cleanup can find leftovers.

**Anchored.** Every operation names a trusted `root` (the recordings folder, whose own path
may be a link the operator configured) and a target at or below it. The folders from the root
down are opened one component at a time with `O_NOFOLLOW | O_DIRECTORY` and the file is then
created, renamed, linked or unlinked relative to the last folder's descriptor
(`dir_fd=`). A folder swapped for a symbolic link while a pass runs (between the scan and the
write) is refused with `LinkRefusedError`, never followed: nothing is written, linked or
deleted outside the tree.

**Owner.** A file that replaces an existing one gets its owner and group (`fchown` where
permitted), so merging a user's NFO as root never leaves a file its owner cannot read.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import random
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from svimaged.core.libc import libc_function

MAX_NAME_BYTES = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
#: Temporary names, without a system call each (`secrets` asks the kernel every time). They
#: must be unique, not secret: `O_EXCL | O_NOFOLLOW` make a name someone guessed and created
#: first a failed write, never a write elsewhere. Seeded anew in a forked child.
_TEMP_IDS = random.Random(os.urandom(16))  # noqa: S311
os.register_at_fork(after_in_child=lambda: _TEMP_IDS.seed(os.urandom(16)))


class LinkRefusedError(OSError):
    """A folder on the way to a target is a symbolic link (or not a folder): refused."""


def temp_name(name: str) -> str:
    """A fresh temporary name for the file `name` (hidden, recognisable by cleanup). The
    name is shortened when needed so the temporary name fits in 255 bytes."""
    suffix = f".svimaged-tmp-{_TEMP_IDS.getrandbits(48):012x}"
    room = MAX_NAME_BYTES - 1 - len(suffix)
    if len(name) > room // 4:  # may be too long in bytes: measure
        encoded = name.encode("utf-8", "surrogateescape")
        if len(encoded) > room:
            name = encoded[:room].decode("utf-8", "ignore")
    return f".{name}{suffix}"


def open_folder(root: Path, folder: Path, *, create_mode: int | None = None) -> int:
    """A descriptor of `folder` (at or below `root`), opened from `root` one component at a
    time without following links. With `create_mode`, missing folders are made with that
    mode (whatever the umask). The caller closes the descriptor.

    Raises `LinkRefusedError` when a component is a symbolic link or not a folder, or when
    `folder` is not below `root`; other `OSError`s (missing, permission) as they come.
    """
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        raise LinkRefusedError(errno.EXDEV, "not below the tree's root", str(folder)) from None
    if any(part in ("", ".", "..") for part in parts):
        raise LinkRefusedError(errno.EINVAL, "not a plain path below the root", str(folder))
    fd = os.open(root, _DIR_FLAGS)
    try:
        for index, part in enumerate(parts):
            fd = _step(fd, part, create_mode, root.joinpath(*parts[: index + 1]))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _step(fd: int, part: str, create_mode: int | None, shown: Path) -> int:
    """Open `part` below the folder `fd` (closing `fd`), creating it when asked."""
    try:
        nxt = _open_child(fd, part, shown)
    except FileNotFoundError:
        if create_mode is None:
            raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, create_mode, dir_fd=fd)
        nxt = _open_child(fd, part, shown)
        if stat.S_IMODE(os.fstat(nxt).st_mode) != create_mode:
            os.fchmod(nxt, create_mode)
    os.close(fd)
    return nxt


def _open_child(fd: int, part: str, shown: Path) -> int:
    try:
        return os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LinkRefusedError(
                exc.errno, "a symbolic link or not a folder: refused", str(shown)
            ) from None
        raise


@contextlib.contextmanager
def folder_at(root: Path, folder: Path, *, create_mode: int | None = None) -> Iterator[int]:
    """`open_folder` as a context manager."""
    fd = open_folder(root, folder, create_mode=create_mode)
    try:
        yield fd
    finally:
        os.close(fd)


def write_at(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `name` in the folder `dir_fd` with `data` atomically (not fsyncing the
    folder). An existing file's owner and group are kept where permitted. On any error the
    temporary file is removed and the old file is untouched."""
    commit_at(dir_fd, stage_at(dir_fd, name, data, mode)[0], name)


class Staged(NamedTuple):
    """A staged write: the temporary `tmp` waits in the folder `dir_fd` to replace `name`
    (or, with `only_new`, to become `name` only if there is still no such file)."""

    dir_fd: int
    tmp: str
    name: str
    only_new: bool = False


def stage_at(
    dir_fd: int, name: str, data: bytes, mode: int = 0o644, *, sync: bool = True, new: bool = False
) -> tuple[str, os.stat_result]:
    """The first half of `write_at`: `data` in a new temporary file next to `name` (with
    the mode, and the owner and group of the file it will replace), fsynced unless `sync`
    is False (the caller makes it durable with others: `core.groupsync`). `new`: the
    caller just found no file `name`, so there is no owner to keep. Returns the temporary
    name for `commit_at` or `discard_at`, and its status once written (a rename keeps its
    size and mtime); on any error it is already removed."""
    tmp = temp_name(name)
    owner = None if new else _owner(dir_fd, name)
    fd = os.open(tmp, _NEW_FILE, mode, dir_fd=dir_fd)
    try:
        try:
            _write_all(fd, data)
            info = os.fstat(fd)  # size and mtime stay: a mode, an owner and a rename keep them
            if stat.S_IMODE(info.st_mode) != mode:  # the umask took bits away
                os.fchmod(fd, mode)
            _chown(fd, owner)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        discard_at(dir_fd, tmp)
        raise
    return tmp, info


def commit_at(dir_fd: int, tmp: str, name: str, only_new: bool = False) -> None:
    """The second half of `write_at`: rename the staged `tmp` over `name` (its data must be
    durable by now); on an error `tmp` is removed. With `only_new`, an existing `name` (a
    file, a link, anything) is never replaced: `FileExistsError` instead (`rename_new_at`)."""
    try:
        if only_new:
            rename_new_at(dir_fd, tmp, name)
        else:
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        discard_at(dir_fd, tmp)
        raise


#: `renameat2`'s flag that makes it fail with EEXIST instead of replacing the target.
RENAME_NOREPLACE = 1
_renameat2 = libc_function(
    "renameat2", [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint],
    ctypes.c_int,
)  # fmt: skip
#: What `renameat2` fails with where the kernel or the file system lacks the flag.
_NO_RENAMEAT2 = frozenset({errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


def rename_new_at(dir_fd: int, tmp: str, name: str) -> None:
    """Rename `tmp` to `name` in the folder `dir_fd` only while there is no `name`, in one
    step: `renameat2(RENAME_NOREPLACE)`, else (an old C library, a file system without it:
    NFS) a hard link and the temporary's removal, else (no hard links either: SMB, some FUSE
    file systems) a look and a plain rename, as every write did before. Raises
    `FileExistsError` when `name` exists: it appeared since the caller looked, and is not
    replaced."""
    if _renameat2 is not None:
        if _renameat2(dir_fd, os.fsencode(tmp), dir_fd, os.fsencode(name), RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in _NO_RENAMEAT2:  # EEXIST makes a FileExistsError
            raise OSError(code, os.strerror(code), name)
    try:
        os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system
        if _lexists_at(dir_fd, name):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name) from None
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(tmp, dir_fd=dir_fd)


def _lexists_at(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def discard_at(dir_fd: int, tmp: str) -> None:
    """Remove a staged temporary file (gone already is fine)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)


def link_at(src_dir: int, src_name: str, dir_fd: int, name: str) -> bool:
    """Make `name` in `dir_fd` a hard link to `src_name` in `src_dir`, replacing it
    atomically. False (nothing changed) when the file system cannot link them."""
    tmp = temp_name(name)
    try:
        os.link(src_name, tmp, src_dir_fd=src_dir, dst_dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    # rename(2) of two links to one file does nothing: the target already was this file.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)
    return True


#: `ioctl(dest, FICLONE, src)`: share the source's blocks (Btrfs, XFS with reflink, bcachefs,
#: ZFS 2.2+). Linux's value of `_IOW(0x94, 9, int)`.
FICLONE = 0x40049409


def clone_at(src: int, dir_fd: int, name: str, mode: int = 0o644) -> bool:
    """Make `name` in `dir_fd` a reflinked copy of the open file `src`, replacing it
    atomically. False, and nothing changed, when the file system cannot clone."""
    tmp = temp_name(name)
    owner = _owner(dir_fd, name)
    try:
        dst = os.open(tmp, _NEW_FILE, mode, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        try:
            fcntl.ioctl(dst, FICLONE, src)
        except OSError:
            os.close(dst)
            dst = -1
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            return False
        os.fchmod(dst, mode)
        _chown(dst, owner)
        os.fsync(dst)
        os.close(dst)
        dst = -1
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    finally:
        if dst >= 0:
            os.close(dst)
    return True


def sync_folder(dir_fd: int) -> None:
    """Flush a folder's entries to disk (best effort where the file system refuses)."""
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)


def atomic_write(
    target: Path, data: bytes, mode: int = 0o644, *, root: Path, sync_dir: bool = True
) -> None:
    """Replace `target` (below `root`) with `data` atomically; its folder must exist.

    `sync_dir=False` leaves the folder's fsync to the caller, who batches it (`fsync_dir`
    once per folder) before recording the write as done: atomicity does not depend on it,
    only the durability of the rename does. Raises `LinkRefusedError` for a linked folder.
    """
    with folder_at(root, target.parent) as dir_fd:
        write_at(dir_fd, target.name, data, mode)
        if sync_dir:
            sync_folder(dir_fd)


def atomic_link(
    source: Path, target: Path, *, root: Path, source_root: Path, sync_dir: bool = True
) -> bool:
    """Make `target` (below `root`) a hard link to `source` (below `source_root`), replacing
    it atomically. False (and nothing changed) when the file system cannot link them, e.g.
    across devices."""
    with folder_at(source_root, source.parent) as src_dir, folder_at(root, target.parent) as dst:
        linked = link_at(src_dir, source.name, dst, target.name)
        if linked and sync_dir:
            sync_folder(dst)
        return linked


def atomic_clone(
    source: Path,
    target: Path,
    mode: int = 0o644,
    *,
    root: Path,
    source_root: Path,
    sync_dir: bool = True,
) -> bool:
    """Make `target` (below `root`) a reflinked copy of `source` (below `source_root`),
    replacing it atomically. False, and nothing changed, when the file system cannot clone
    (then the caller copies the bytes)."""
    with folder_at(source_root, source.parent) as src_dir:
        try:
            src = os.open(source.name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=src_dir)
        except OSError:
            return False
    try:
        with folder_at(root, target.parent) as dst:
            cloned = clone_at(src, dst, target.name, mode)
            if cloned and sync_dir:
                sync_folder(dst)
            return cloned
    finally:
        os.close(src)


def unlink_at(root: Path, target: Path) -> bool:
    """Delete the file `target` (below `root`, never through a link); False when it was
    already gone."""
    with folder_at(root, target.parent) as dir_fd:
        try:
            os.unlink(target.name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
    return True


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk, by path (best effort; used where the caller batches
    the syncs of folders it wrote into through `folder_at`)."""
    try:
        fd = os.open(folder, _DIR_FLAGS | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        sync_folder(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd` (a short write continues; a full disk raises)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _owner(dir_fd: int, name: str) -> tuple[int, int] | None:
    """(uid, gid) of the regular file `name` being replaced, None when there is none."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None
    return (info.st_uid, info.st_gid) if stat.S_ISREG(info.st_mode) else None


def _chown(fd: int, owner: tuple[int, int] | None) -> None:
    """Give the new file the replaced file's owner and group where this process may."""
    if owner is None:
        return
    info = os.fstat(fd)
    if (info.st_uid, info.st_gid) == owner:
        return
    with contextlib.suppress(PermissionError):
        os.fchown(fd, *owner)
    if os.fstat(fd).st_gid != owner[1]:
        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, owner[1])  # the group alone, where the owner is not ours to give
