"""A file locked with `flock` for as long as a process holds it, holding that process's id:
the pid file of `--daemonize` and the lock of the state folder (contract section 6).

The lock, not the file's existence, says "held": a file left by a process that died is taken
over. The file is opened without following a symbolic link (`O_NOFOLLOW`), so a link planted
at its path never makes svimaged write through it. A lock is per open file description, so
it also holds against a second opener in the same process, and it survives `fork` (the
detached daemon keeps the lock its parent took).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path

from svimaged.core.errors import SvimagedError


class LockHeldError(SvimagedError):
    """Another open file description holds the lock; `holder` is the pid text the file
    holds (or "?")."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is locked by pid {holder}")
        self.path = path
        self.holder = holder


class LockFile:
    """`path`, opened and locked by `acquire()` until `release()`; `what` names it in
    messages ("pid file")."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int:
        if self._fd is None:
            raise SvimagedError(f"{self.what} {self.path} is not held")
        return self._fd

    def acquire(self) -> None:
        """Lock the file, creating it (mode 0644) when missing. Raises `LockHeldError` when
        another holder has it, `SvimagedError` naming it when it is a symbolic link, not a
        regular file, or cannot be opened."""
        for _attempt in range(3):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read(fd) or "?"
                os.close(fd)
                raise LockHeldError(self.path, holder) from None
            if _same_file(fd, self.path):
                self._fd = fd
                return
            os.close(fd)  # the previous holder removed it between our open and lock
        raise SvimagedError(f"{self.what} {self.path}: could not lock it, it keeps changing")

    def content(self) -> str:
        """What the held file says (a pid, normally), stripped."""
        return self._read(self.fileno())

    def write_pid(self) -> None:
        """Replace the content with this process's id."""
        fd = self.fileno()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self, *, unlink: bool = False) -> None:
        """Drop the lock (removing the file first with `unlink`)."""
        if self._fd is None:
            return
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SvimagedError(
                    f"{self.what} {self.path} is a symbolic link; refusing to follow it "
                    f"(remove it or name another file)"
                ) from None
            raise SvimagedError(
                f"{self.what} {self.path}: cannot open: {exc.strerror or exc}"
            ) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SvimagedError(f"{self.what} {self.path} is not a regular file; refusing it")
        return fd

    @staticmethod
    def _read(fd: int) -> str:
        return os.pread(fd, 64, 0).decode("ascii", "replace").strip()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
