"""The state database's connection: open, migrate, lock, transactions, settings, notes."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from svimaged.core.errors import StateError
from svimaged.state.schema import MIGRATIONS, SCHEMA_VERSION


class Database:
    """The connection, its lock, transactions, migrations, settings and one-time notes."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (creating and migrating as needed) the database at `path`.

        A file that is not a usable SQLite database raises `StateError` naming it.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            state = cls(conn, path)
            state._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open state database {path}: {exc}") from exc
        return state

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; nests (inner blocks join the outer one)."""
        with self._lock:
            if self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state database {self.path} has schema {version}, newer than this svimaged "
                f"({SCHEMA_VERSION}); upgrade svimaged or move the file away"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._conn.executescript(
                f"BEGIN; {MIGRATIONS[target]}; PRAGMA user_version = {target}; COMMIT;"
            )

    # -- meta and one-time notes -------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored setting such as `last_sync`, or None."""
        row = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        self._execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def first_time(self, key: str, at: float) -> bool:
        """True the first time `key` is seen (for log-once messages), False afterwards."""
        cur = self._execute("INSERT OR IGNORE INTO notes (key, at) VALUES (?, ?)", (key, at))
        return cur.rowcount == 1

    def forget_note(self, key: str) -> None:
        """Let `first_time(key)` be true again (the condition was fixed)."""
        self._execute("DELETE FROM notes WHERE key = ?", (key,))
