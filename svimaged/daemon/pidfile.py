"""The pid file of `--daemonize --pidfile F` (contract section 6): locked for the life of the
daemon, never through a symbolic link, never over another process's pid file. Detaching is
`daemon.detach`."""

from __future__ import annotations

import os
from pathlib import Path

from svimaged.core.errors import SvimagedError
from svimaged.core.lockfile import LockFile, LockHeldError


class PidFile:
    """A pid file locked with `flock` for the life of the process (`core.lockfile`).

    The lock, not the file's existence, says "a daemon runs": a file left by a crashed
    daemon (its pid no longer runs) is taken over. A file that names another running
    process, or holds something that is not a pid, is another program's and is never
    overwritten; neither is a symbolic link followed. `acquire()` runs before detaching so
    a refusal reaches the caller's terminal; the locked descriptor survives python-daemon's
    fork (pass `fileno()` in `files_preserve`), and entering the context writes the final
    pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = LockFile(path, "pid file")

    def fileno(self) -> int:
        return self._file.fileno()

    def acquire(self) -> None:
        """Lock the file; raises `SvimagedError` (exit 1) naming it when another process
        holds it, when it belongs to another process, or when it cannot be opened."""
        try:
            self._file.acquire()
        except LockHeldError as exc:
            raise SvimagedError(
                f"pid file {self.path} is locked: svimaged already runs (pid {exc.holder})"
            ) from None
        other = _other_owner(self._file.content())
        if other is not None:
            self._file.release()
            raise SvimagedError(
                f"pid file {self.path} {other}; not overwriting it (remove it, or name "
                f"another --pidfile)"
            )

    def write_pid(self) -> None:
        """Write the current process id (call after the fork)."""
        self._file.write_pid()

    def release(self) -> None:
        """Remove the file and drop the lock."""
        self._file.release(unlink=True)

    def __enter__(self) -> PidFile:
        """python-daemon enters the pid file after detaching: write the daemon's pid."""
        if not self._file.held:
            self.acquire()
        self.write_pid()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _other_owner(content: str) -> str | None:
    """Why an unlocked pid file with `content` is not ours to take over, or None (empty, or
    the pid of a process that no longer runs, or our own)."""
    if not content:
        return None
    if not content.isascii() or not content.isdigit():
        return "holds something other than a pid"
    pid = int(content)
    if pid == os.getpid() or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # stale: left by a daemon that died
    except PermissionError:
        pass  # alive, another user's
    return f"names running process {pid}"
