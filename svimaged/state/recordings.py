"""The `recordings` table: each recording's stat data, resolved ids, signature and status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from svimaged.core.model import RecordingRow, RecordingStatus
from svimaged.state.db import Database

#: The columns of `RecordingRow`, in its field order.
_COLUMNS = (
    "rel, folder, size, mtime_ns, user_id, stream_id, category, artwork_rel, sig, status, "
    "started_at, season, episode, numbered, sig_since"
)


class RecordingTable:
    """Typed access to the `recordings` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, row: RecordingRow, at: float) -> None:
        """Remember a recording's stat data, resolved ids, signature and status."""
        self.upsert_many([row], at)

    def upsert_many(self, rows: Iterable[RecordingRow], at: float) -> None:
        """`upsert` for many recordings in one statement. A row's fields are the columns in
        order (its status a `str`, `numbered` a `bool`: both bind as they are), so the rows
        bind as they are; `at`, the same for all, is written into the statement."""
        self._db.executemany(
            f"INSERT OR REPLACE INTO recordings ({_COLUMNS}, seen_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {float(at)!r})",
            rows,
        )

    def get(self, rel: str) -> RecordingRow | None:
        """A recording's last seen row."""
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM recordings WHERE rel = ?",
            (rel,),
        ).fetchone()
        return None if row is None else _row(row)

    def in_folders(self, folders: Iterable[str]) -> dict[str, dict[str, RecordingRow]]:
        """Every recording row of these streamer folders (one query per `IN_BATCH`): by
        folder, then by path; a folder without rows has an empty dict."""
        names = sorted(set(folders))
        out: dict[str, dict[str, RecordingRow]] = {name: {} for name in names}
        for row in self._db.select_in(
            f"SELECT {_COLUMNS} FROM recordings WHERE folder IN ({{marks}})", names
        ):
            out[str(row[1])][str(row[0])] = _row(row)
        return out

    def signatures(self, folder: str | None = None) -> dict[str, dict[str, str | None]]:
        """Stored signatures by folder, then by recording path (one folder, or all). A
        recording that is not done (pending, incomplete, invalidated) has None: it always
        looks changed."""
        sql = "SELECT folder, rel, CASE WHEN status = 'done' THEN sig END FROM recordings"
        if folder is None:
            rows = self._db.execute(sql).fetchall()
        else:
            rows = self._db.execute(f"{sql} WHERE folder = ?", (folder,)).fetchall()
        out: dict[str, dict[str, str | None]] = {}
        for name, rel, sig in rows:
            out.setdefault(str(name), {})[str(rel)] = None if sig is None else str(sig)
        return out

    def count(self) -> int:
        """How many recordings the state knows."""
        return int(self._db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0])

    def forget(self, rels: Iterable[str]) -> None:
        """Drop the rows of recordings that are gone."""
        with self._db.transaction():
            for rel in rels:
                self._db.execute("DELETE FROM recordings WHERE rel = ?", (rel,))

    def invalidate(
        self, *, user_ids: Iterable[str] = (), categories: Iterable[str] = ()
    ) -> set[str]:
        """Make the recordings of these streamers (by Twitch user id) and categories look
        changed, so their NFOs are merged again (the streamers' folders too); returns the
        folders concerned. Neither column has an index (a pass writes a row per recording,
        these calls are rare): pass every id and name at hand in one call, which scans the
        table once per `IN_BATCH` of them."""
        users, names = sorted(set(user_ids)), sorted(set(categories))
        folders: set[str] = set()
        with self._db.transaction():
            for column, values in (("user_id", users), ("category", names)):
                if not values:
                    continue
                where = f"{column} IN ({{marks}})"
                sql = f"SELECT DISTINCT folder FROM recordings WHERE {where}"
                folders.update(str(row[0]) for row in self._db.select_in(sql, values))
                self._db.execute_in(f"UPDATE recordings SET sig = NULL WHERE {where}", values)
            self._db.execute_in("UPDATE folders SET sig = NULL WHERE user_id IN ({marks})", users)
        return folders

    def invalidate_all(self) -> None:
        """Every recording and folder looks changed on the next pass."""
        with self._db.transaction():
            self._db.execute("UPDATE recordings SET sig = NULL")
            self._db.execute("UPDATE folders SET sig = NULL")

    def categories_in(self, folder: str) -> dict[str, str | None]:
        """The category of each recording of a folder, as last processed."""
        rows = self._db.execute("SELECT rel, category FROM recordings WHERE folder = ?", (folder,))
        return {str(r[0]): None if r[1] is None else str(r[1]) for r in rows}

    def artwork_in_use(self) -> set[str]:
        """Cache paths of the artwork of every recording the state knows."""
        rows = self._db.execute("SELECT artwork_rel FROM recordings WHERE artwork_rel IS NOT NULL")
        return {str(r[0]) for r in rows}

    def categories_in_use(self) -> set[str]:
        """Category names used by at least one recording the state knows."""
        rows = self._db.execute(
            "SELECT DISTINCT category FROM recordings WHERE category IS NOT NULL"
        )
        return {str(r[0]) for r in rows}


def _row(row: tuple[object, ...]) -> RecordingRow:
    (rel, folder, size, mtime_ns, user_id, stream_id, category, artwork_rel, sig, status,
     started_at, season, episode, numbered, sig_since) = row  # fmt: skip
    return RecordingRow(
        str(rel),
        str(folder),
        int(cast(int, size)),
        int(cast(int, mtime_ns)),
        cast("str | None", user_id),
        cast("str | None", stream_id),
        cast("str | None", category),
        cast("str | None", artwork_rel),
        cast("str | None", sig),
        RecordingStatus(str(status)),
        None if started_at is None else float(cast(float, started_at)),
        cast("int | None", season),
        cast("int | None", episode),
        bool(numbered),
        None if sig_since is None else float(cast(float, sig_since)),
    )
