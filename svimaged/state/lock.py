"""One svimaged process per state folder: `<state_dir>/state.lock`, locked with `flock` by the
daemon for its whole life and by `run --once` for its pass (contract section 6).

Two processes on one state would both pass over the tree, download the same images and
write the same NFOs, each believing its state. The second one stops at start instead, with a
message naming the folder and the pid that holds it. Commands that only talk to the daemon's
socket (`stats`, `sync`, ...) never take it.
"""

from __future__ import annotations

from pathlib import Path

from svimaged.core.errors import StateError, SvimagedError
from svimaged.core.lockfile import LockFile, LockHeldError

LOCK_NAME = "state.lock"


class StateLock:
    """The lock of `state_dir`; a context manager (`acquire` on entry, `release` on exit)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._file = LockFile(state_dir / LOCK_NAME, "state lock")

    def acquire(self) -> None:
        """Take the lock (creating the folder and the file as needed) and write this
        process's pid into it. `StateError` (exit 1) when another process holds it, naming
        the folder and its pid, or when the file cannot be opened."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the state folder {self.state_dir}: {exc.strerror or exc}"
            ) from exc
        try:
            self._file.acquire()
        except LockHeldError as exc:
            raise StateError(
                f"state folder {self.state_dir} is in use by another svimaged (pid "
                f"{exc.holder}): stop it first, or give this one its own state_dir"
            ) from None
        except SvimagedError as exc:  # cannot open it; the cause says why (state_folder_errors)
            raise StateError(str(exc)) from exc.__cause__
        self._file.write_pid()

    def release(self) -> None:
        """Drop the lock (the file stays; its content is stale from then on)."""
        self._file.release()

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
