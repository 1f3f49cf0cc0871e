"""Settings and one-time notes: `meta` (key -> text) and `notes` (keys already logged)."""

from __future__ import annotations

from svimaged.state.db import Database


class Meta:
    """Small settings such as `last_sync`, and the keys of log-once messages."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> str | None:
        """A stored setting, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        """Store a setting."""
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def first_time(self, key: str, at: float) -> bool:
        """True the first time `key` is seen (for log-once messages), False afterwards."""
        cur = self._db.execute("INSERT OR IGNORE INTO notes (key, at) VALUES (?, ?)", (key, at))
        return cur.rowcount == 1

    def forget_notes(self, keys: list[str]) -> None:
        """Let `first_time(key)` be true again for each of `keys` (the condition was fixed),
        in one statement."""
        if keys:
            self._db.executemany("DELETE FROM notes WHERE key = ?", [(key,) for key in keys])
