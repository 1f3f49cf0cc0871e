"""Durable writes in groups: one `syncfs(2)` for the files of many folders (a group commit).

An atomic write normally fsyncs its temporary file before the rename and the folder after it.
On a journaled local file system every fsync is a journal commit: a first pass writing
22,000 NFOs paid 22,000 of them. When many folders are written at once, each folder's
temporaries are written without an fsync, then one `syncfs` of the file system makes the
data of every folder waiting at that moment durable, then the temporaries are renamed, and
a second `syncfs` makes the renames durable. A reader still sees the old file or the whole
new one (nothing is renamed before its data is on disk), after `kill -9` and after a power
cut, exactly as with per-file fsyncs.

Only where `syncfs` is known to cover what fsync would (`GROUP_SYNC_FILE_SYSTEMS`, local
block-device file systems); network and FUSE file systems keep the per-file fsyncs.
`syncfs` also writes out other programs' pending data on the same file system (a recorder's
stream): data the kernel would write within 30 seconds anyway.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

from svimaged.core.libc import libc_function

#: File systems whose `syncfs` makes written data and renames durable like fsync does.
GROUP_SYNC_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "bcachefs"})
MOUNTINFO = "/proc/self/mountinfo"
#: Failed generations remembered for the waiters they covered.
_KEPT_FAILURES = 64
#: What `syncfs` fails with where a sandbox forbids it or the kernel lacks it.
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EPERM, errno.EACCES, errno.EOPNOTSUPP})

SyncFs = Callable[[int], None]


def _libc_syncfs() -> SyncFs | None:
    """`syncfs(2)` from the C library (raising `OSError`), None where there is none."""
    call = libc_function("syncfs", [ctypes.c_int], ctypes.c_int)
    if call is None:
        return None

    def syncfs(fd: int) -> None:
        if call(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return syncfs


class GroupSync:
    """A group commit over one file system. `sync()` returns once a `syncfs` that started
    after the call has finished: everything the caller wrote before calling is durable.
    Callers that arrive while one runs share the next one. Thread-safe."""

    def __init__(self, fd: int, syncfs: SyncFs) -> None:
        self._fd = fd
        self._syncfs = syncfs
        self._cond = threading.Condition()
        self._started = 0  # generations started
        self._finished = 0  # generations finished
        self._running = False
        self._failures: dict[int, OSError] = {}
        self.syncs = 0  # syncfs calls made (for tests and the benchmark)
        #: `syncfs` is not allowed or not there (a seccomp profile, an old kernel): the
        #: callers go back to fsyncs of their own, and no one should use this again.
        self.unsupported = False

    def sync(self) -> None:
        """Wait for a `syncfs` that covers what this thread wrote; raise its `OSError`."""
        with self._cond:
            want = self._started + 1
            while self._finished < want:
                if self._running:
                    self._cond.wait()
                else:
                    self._run()
            failure = self._failures.get(want)
        if failure is not None:
            raise OSError(failure.errno, f"syncing the written files failed: {failure.strerror}")

    def _run(self) -> None:
        """Run one generation (called holding the lock; released while syncing)."""
        self._running = True
        self._started += 1
        generation = self._started
        failure: OSError | None = OSError(errno.EIO, "sync interrupted")
        self._cond.release()
        try:
            self._syncfs(self._fd)
            failure = None
        except OSError as exc:
            failure = exc
            self.unsupported = self.unsupported or exc.errno in _UNSUPPORTED
        finally:
            self._cond.acquire()
            self.syncs += 1
            if failure is not None:
                self._failures[generation] = failure
                for old in [g for g in self._failures if g <= generation - _KEPT_FAILURES]:
                    del self._failures[old]
            self._finished = generation
            self._running = False
            self._cond.notify_all()

    def close(self) -> None:
        """Close the file system's descriptor."""
        os.close(self._fd)


def file_system_type(path: Path, mountinfo: str = MOUNTINFO) -> str | None:
    """The type of the file system `path` (resolved) lives on, from `mountinfo`; None when
    it cannot be told."""
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as lines:
            mounts = [_mount(line) for line in lines]
    except OSError:
        return None
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for point, kind in filter(None, mounts):
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), kind)
    return None if best is None else best[1]


def _mount(line: str) -> tuple[str, str] | None:
    """(mount point, file system type) of one mountinfo line."""
    fields = line.split()
    try:
        point, kind = fields[4], fields[fields.index("-", 6) + 1]
    except (IndexError, ValueError):
        return None
    return _unescape(point), kind


def _unescape(text: str) -> str:
    """mountinfo's octal escapes (`\\040` for a space) undone."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def group_sync_for(root: Path, *, mountinfo: str = MOUNTINFO) -> GroupSync | None:
    """A `GroupSync` for the file system of `root`, None where per-file fsyncs must stay
    (not a `GROUP_SYNC_FILE_SYSTEMS` one, no `syncfs`, `root` cannot be opened)."""
    if file_system_type(root, mountinfo) not in GROUP_SYNC_FILE_SYSTEMS:
        return None
    syncfs = _libc_syncfs()
    if syncfs is None:
        return None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    return GroupSync(fd, syncfs)
