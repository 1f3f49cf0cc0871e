"""One-line errors for the two folders the daemon must write besides the tree: the state
folder (`state_dir`, with the database in it) and the control socket's folder
(`control.socket`).

Both fail the same way under a container's `user:` or `read_only: true`, or a service user
that does not own them: the error names the folder, the uid that was refused and the fix,
instead of a traceback or a bare "unable to open database file".
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from svimaged.core.errors import StateError, SvimagedError
from svimaged.state.lock import LOCK_NAME

#: errno values that mean "this user may not write here" (EROFS: a read-only mount).
_REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS)


def _refusal(exc: BaseException) -> OSError | None:
    """The OSError (`exc` or its cause) that refused a write, else None."""
    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, OSError) and candidate.errno in _REFUSED:
            return candidate
    return None


def _writable(folder: Path) -> bool:
    """Whether this process may create files in `folder` (False on a read-only mount)."""
    return os.access(folder, os.W_OK | os.X_OK)


def _why(refused: OSError | None, folder: Path) -> str:
    if refused is not None and refused.errno == errno.EROFS:
        return "is on a read-only file system"
    if refused is None and folder.is_dir() and os.statvfs(folder).f_flag & os.ST_RDONLY:
        return "is on a read-only file system"
    return f"is not writable for uid {os.getuid()} (gid {os.getgid()})"


@contextlib.contextmanager
def socket_folder_errors(socket_path: Path) -> Iterator[None]:
    """Turn a refused write while creating the control socket into one `SvimagedError`
    (exit 1) naming the folder, the uid and the fix."""
    folder = socket_path.parent
    try:
        yield
    except (OSError, SvimagedError) as exc:
        refused = _refusal(exc)
        if refused is None:
            if isinstance(exc, SvimagedError):
                raise
            raise SvimagedError(f"cannot create the control socket {socket_path}: {exc}") from exc
        raise SvimagedError(
            f"cannot create the control socket {socket_path}: {folder} {_why(refused, folder)}; "
            f"make it writable for this user, mount a tmpfs on it (in a container: "
            f"tmpfs: {folder}), or set control.socket to a path in a writable folder"
        ) from exc


def _unwritable_state(state_db: Path) -> Path | None:
    """The state folder, or the database, one of SQLite's files beside it or the state lock,
    that this process may not write (e.g. left by a container that ran as another uid);
    else None."""
    folder = state_db.parent
    if folder.is_dir() and not _writable(folder):
        return folder
    sqlite_files = (state_db.with_name(state_db.name + s) for s in ("-wal", "-shm"))
    for path in (state_db, *sqlite_files, folder / LOCK_NAME):
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return path
    return None


@contextlib.contextmanager
def state_folder_errors(state_db: Path) -> Iterator[None]:
    """Add the reason and the fix to a `StateError` raised because the state database or
    its folder cannot be written; other state errors pass unchanged."""
    try:
        yield
    except StateError as exc:
        refused = _refusal(exc)
        culprit = _unwritable_state(state_db)
        if culprit is None and refused is None:
            raise
        culprit = culprit or state_db.parent
        why = _why(refused, culprit)
        if culprit.is_file():
            why = f"belongs to uid {culprit.stat().st_uid} and {why}"
        raise StateError(
            f"{exc}; {culprit} {why}: give this user the state folder and its files (chown, "
            f"or a volume it owns) or set state_dir to a writable folder"
        ) from exc
