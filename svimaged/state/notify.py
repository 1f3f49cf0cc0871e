"""The `notify_servers` table (schema migration 10): per configured media server, how many
notifications it took, how many attempts failed, and when it last answered and last failed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from svimaged.state.db import Database

#: Longest error message kept; the rest is cut.
MAX_ERROR = 300


@dataclass(frozen=True, slots=True)
class NotifyRow:
    """One media server's counters."""

    name: str
    type: str
    url: str
    sent: int
    failed: int
    last_success: float | None
    last_failure: float | None
    last_error: str | None


class NotifyTable:
    """Counters of the media servers in the config's `notify` list, by their names."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def register(self, servers: Iterable[tuple[str, str, str]]) -> None:
        """Make the table hold exactly the configured servers `(name, type, url)`: new ones
        start at zero, known names keep their counters (with type and url updated), and
        servers no longer configured are forgotten."""
        rows = list(servers)
        with self._db.transaction():
            for name, kind, url in rows:
                self._db.execute(
                    "INSERT INTO notify_servers (name, type, url) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET type = excluded.type, url = excluded.url",
                    (name, kind, url),
                )
            names = [name for name, _kind, _url in rows]
            marks = ", ".join("?" * len(names))
            where = f" WHERE name NOT IN ({marks})" if names else ""
            self._db.execute(f"DELETE FROM notify_servers{where}", tuple(names))

    def sent(self, name: str, at: float) -> None:
        """Count one notification the server took."""
        self._db.execute(
            "UPDATE notify_servers SET sent = sent + 1, last_success = ? WHERE name = ?",
            (at, name),
        )

    def failed(self, name: str, at: float, error: str) -> None:
        """Count one attempt that failed, with why."""
        self._db.execute(
            "UPDATE notify_servers SET failed = failed + 1, last_failure = ?, last_error = ?"
            " WHERE name = ?",
            (at, error[:MAX_ERROR], name),
        )

    def rows(self) -> list[NotifyRow]:
        """Every configured server's counters, by name."""
        found = self._db.execute(
            "SELECT name, type, url, sent, failed, last_success, last_failure, last_error"
            " FROM notify_servers ORDER BY name"
        ).fetchall()
        return [
            NotifyRow(
                name=str(r[0]),
                type=str(r[1]),
                url=str(r[2]),
                sent=int(r[3]),
                failed=int(r[4]),
                last_success=None if r[5] is None else float(r[5]),
                last_failure=None if r[6] is None else float(r[6]),
                last_error=None if r[7] is None else str(r[7]),
            )
            for r in found
        ]
