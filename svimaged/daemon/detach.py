"""`run --daemonize --pidfile F` for hosts without systemd (contract sections 6 and 8).

The command returns only once the daemon is ready (its control socket listens), with exit 0,
or once it failed to start, with the exit code and message the daemon would have given in
the foreground (1, or 2 for a config error). So the process the user started stays in the
foreground until then: it locks the pid file (a second daemon is refused here), forks, and
waits on a pipe. The child detaches with python-daemon (which forks twice more) and runs
the daemon; the daemon writes `ready` into the pipe once ready, or its error, and closes it.
A daemon that dies without a word closes the pipe too: that is a failed start.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from svimaged.core.errors import ConfigError, SvimagedError
from svimaged.daemon.pidfile import PidFile

#: What the daemon's body gets: call it once the daemon is ready.
Ready = Callable[[], None]
_READY = b"ready\n"


class DaemonStartError(SvimagedError):
    """The detached daemon could not start; the message and exit code are its own."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _StartReport:
    """The daemon's end of the pipe: one word (ready, or the error), then closed."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def ready(self) -> None:
        self._send(_READY)

    def failed(self, exc: SvimagedError) -> None:
        problems = exc.problems if isinstance(exc, ConfigError) else None
        word = {"exit_code": exc.exit_code, "message": str(exc), "problems": problems}
        self._send(json.dumps(word).encode("utf-8"))

    def _send(self, data: bytes) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.write(fd, data)
        except OSError:
            pass  # the starter is gone (killed); nobody to tell
        finally:
            os.close(fd)


def run_detached(pidfile: Path, body: Callable[[Ready], int]) -> int:
    """Run `body` as a background daemon holding `pidfile`; see the module docstring.

    In the starting process: returns 0 once the daemon is ready, raises `SvimagedError`
    (the pid file is locked, names another process or is a link) or the daemon's own error.
    In the daemon: returns what `body` returns (the daemon's exit code)."""
    lock = PidFile(pidfile.absolute())
    lock.acquire()
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child:
        os.close(write_fd)
        return _await_start(read_fd, child)
    os.close(read_fd)
    report = _StartReport(write_fd)
    with _daemonized(lock, keep=[write_fd]):
        try:
            return body(report.ready)
        except SvimagedError as exc:
            report.failed(exc)
            raise


def _await_start(read_fd: int, child: int) -> int:
    """The starting process: read the daemon's word until the pipe closes."""
    chunks: list[bytes] = []
    with os.fdopen(read_fd, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    os.waitpid(child, 0)  # the first child exits as soon as python-daemon forked again
    word = b"".join(chunks)
    if word == _READY:
        return 0
    try:
        failure = json.loads(word.decode("utf-8"))
        code, message, problems = failure["exit_code"], failure["message"], failure["problems"]
    except (ValueError, KeyError, TypeError):
        raise DaemonStartError("the daemon exited before it was ready (see its log)") from None
    if problems:
        raise ConfigError([str(p) for p in problems])
    raise DaemonStartError(str(message), int(code))


@contextlib.contextmanager
def _daemonized(lock: PidFile, keep: list[int]) -> Iterator[None]:
    """Inside: a detached daemon (python-daemon) holding `lock` and the file descriptors in
    `keep`. stdin and stdout go to /dev/null. stderr, and with it the log, is kept only when
    it is a regular file (`svimaged run --daemonize ... 2>>/var/log/svimaged.log`);
    otherwise logs are lost, as python-daemon closes the terminal."""
    import daemon  # python-daemon; imported here so `run` in the foreground never needs it

    context = daemon.DaemonContext(
        pidfile=lock,
        files_preserve=[lock.fileno(), *keep],
        umask=0o022,
        stderr=sys.stderr if _is_regular_file(sys.stderr) else None,
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
