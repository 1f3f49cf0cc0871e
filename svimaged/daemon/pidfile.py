"""`--daemonize --pidfile F` for hosts without systemd: a locked pid file and python-daemon's
detach, entered before any thread starts (contract section 6)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from svimaged.core.errors import SvimagedError

log = logging.getLogger(__name__)


class PidFile:
    """A pid file locked with `flock` for the life of the process.

    The lock, not the file's existence, says "a daemon runs": a file left by a crashed
    daemon is simply taken over. `acquire()` runs before detaching so a refusal reaches the
    caller's terminal; the locked descriptor survives python-daemon's fork (pass `fileno()`
    in `files_preserve`), and entering the context writes the final pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def fileno(self) -> int:
        if self._fd is None:
            raise SvimagedError(f"pid file {self.path} is not held")
        return self._fd

    def acquire(self) -> None:
        """Lock the file; raises `SvimagedError` (exit 1) naming it when another process
        holds it, or when it cannot be opened."""
        for _attempt in range(3):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise SvimagedError(
                    f"pid file {self.path} is locked: svimaged already runs (pid {other})"
                ) from None
            if _same_file(fd, self.path):
                self._fd = fd
                return
            os.close(fd)  # the previous holder removed it between our open and lock
        raise SvimagedError(f"pid file {self.path}: could not lock it, it keeps changing")

    def write_pid(self) -> None:
        """Write the current process id (call after the fork)."""
        fd = self.fileno()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Remove the file and drop the lock."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> PidFile:
        """python-daemon enters the pid file after detaching: write the daemon's pid."""
        if self._fd is None:
            self.acquire()
        self.write_pid()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SvimagedError(
                f"pid file {self.path}: cannot open: {exc.strerror or exc}"
            ) from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


@contextlib.contextmanager
def detached(pidfile: Path) -> Iterator[None]:
    """Become a background daemon (python-daemon) holding `pidfile`; enter this before any
    thread starts. The pid file is locked first, so a second daemon fails here, in the
    foreground (`SvimagedError`, exit 1).

    stdin and stdout go to /dev/null. stderr, and with it the log, is kept only when it is a
    regular file (`svimaged run --daemonize ... 2>>/var/log/svimaged.core.log`); otherwise logs
    are lost, as python-daemon closes the terminal."""
    import daemon  # python-daemon; imported here so `run` in the foreground never needs it

    lock = PidFile(pidfile.absolute())
    lock.acquire()
    keep_stderr = _is_regular_file(sys.stderr)
    context = daemon.DaemonContext(
        pidfile=lock,
        files_preserve=[lock.fileno()],
        umask=0o022,
        stderr=sys.stderr if keep_stderr else None,
    )
    try:
        context.open()
    except BaseException:
        lock.release()
        raise
    try:
        yield
    finally:
        context.close()


def _is_regular_file(stream: TextIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False
