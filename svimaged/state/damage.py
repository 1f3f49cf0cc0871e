"""A damaged state database: telling damage from other failures, and moving the file aside.

Damage is what SQLite reports as a corrupt or foreign file (`SQLITE_CORRUPT*`,
`SQLITE_NOTADB`), what `PRAGMA quick_check` finds, and an error message SQLite built from
garbage bytes (a `UnicodeDecodeError` while Python reads it). A file that is locked, read-only
or from a newer svimaged is not damaged: it is never moved.

A damaged file is renamed, never deleted: `state.db` becomes `state.db.corrupt-<UTC time>`,
and its `-wal` and `-shm` files follow under the same name (contract section 6).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import pathname2url

#: SQLite's own files next to the database (write-ahead log, shared memory index).
COMPANIONS = ("-wal", "-shm")


class DamagedError(Exception):
    """`PRAGMA quick_check` did not answer `ok`; the message is its first finding."""


def is_damage(exc: BaseException) -> bool:
    """True when `exc`, raised while opening or checking the database, means the file is
    damaged (rather than locked, unwritable or too new)."""
    if isinstance(exc, DamagedError | UnicodeDecodeError):
        return True
    if isinstance(exc, sqlite3.DatabaseError):
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"
    return False


def quick_check(path: Path) -> None:
    """Run `PRAGMA quick_check` on the database at `path` (when it exists) over a read-only
    connection, which leaves a `-wal` and `-shm` as they are (a read-write connection
    would check them in or delete them on close). `DamagedError` with its first finding
    unless the answer is `ok`; sqlite3 errors as raised."""
    if not path.exists():
        return
    conn = sqlite3.connect(f"file:{pathname2url(str(path))}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        rows = conn.execute("PRAGMA quick_check").fetchall()
    finally:
        conn.close()
    if [tuple(row) for row in rows] != [("ok",)]:
        first = str(rows[0][0]) if rows else "no answer"
        raise DamagedError(f"quick_check: {first[:200]}")


def aside_name(path: Path, now: float) -> Path:
    """`<name>.corrupt-<YYYYmmddTHHMMSSZ>` next to `path`, with `.1`, `.2`, ... added when a
    file of that name exists already (nothing is ever overwritten)."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 0
    while any(os.path.lexists(f"{target}{s}") for s in ("", *COMPANIONS)):
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}.{n}")
    return target


def set_aside(path: Path, now: float) -> Path:
    """Rename `path` (and its `-wal` and `-shm` files, when present) to `aside_name`;
    returns the new name of the database. Raises `OSError` when a rename fails."""
    target = aside_name(path, now)
    for suffix in ("", *COMPANIONS):
        source = Path(f"{path}{suffix}")
        if os.path.lexists(source):
            os.rename(source, f"{target}{suffix}")
    return target
