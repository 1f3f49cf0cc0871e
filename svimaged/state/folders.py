"""The `folders` and `dirs` tables: each streamer folder as last processed, and the mtimes of
its folders for quick rescans."""

from __future__ import annotations

from collections.abc import Iterable

from svimaged.core.model import FolderRow
from svimaged.state.db import Database


class FolderTable:
    """Typed access to the `folders` and `dirs` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> FolderRow | None:
        """A streamer folder as last processed."""
        return self.get_many([name]).get(name)

    def get_many(self, names: Iterable[str]) -> dict[str, FolderRow]:
        """`get` for many streamer folders (one query per `IN_BATCH`), by name; folders the
        state does not know are left out."""
        rows = self._db.select_in(
            "SELECT name, sig, user_id, login FROM folders WHERE name IN ({marks})",
            sorted(set(names)),
        )
        return {str(row[0]): FolderRow(*row) for row in rows}  # type: ignore[arg-type]

    def names(self) -> list[str]:
        """Every streamer folder the state knows."""
        return [str(r[0]) for r in self._db.execute("SELECT name FROM folders ORDER BY name")]

    def upsert(self, row: FolderRow, at: float) -> None:
        """Remember a processed streamer folder."""
        self.upsert_many([row], at)

    def upsert_many(self, rows: Iterable[FolderRow], at: float) -> None:
        """`upsert` for many folders in one statement."""
        self._db.executemany(
            "INSERT OR REPLACE INTO folders (name, sig, user_id, login, seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(row.name, row.sig, row.user_id, row.login, at) for row in rows],
        )

    def forget(self, name: str) -> None:
        """A streamer folder is gone: drop it, its folder mtimes and its recordings."""
        with self._db.transaction():
            self._db.execute("DELETE FROM dirs WHERE folder = ?", (name,))
            self._db.execute("DELETE FROM recordings WHERE folder = ?", (name,))
            self._db.execute("DELETE FROM folders WHERE name = ?", (name,))

    def users(self) -> dict[str, str]:
        """Twitch user id by streamer folder, for folders whose streamer is known."""
        rows = self._db.execute("SELECT name, user_id FROM folders WHERE user_id IS NOT NULL")
        return {str(r[0]): str(r[1]) for r in rows}

    def to_look_at(self) -> set[str]:
        """Folders with recordings still being written, marked for another look, or never
        completely processed: a quick rescan always enqueues them."""
        rows = self._db.execute(
            "SELECT DISTINCT folder FROM recordings WHERE sig IS NULL OR status != 'done' "
            "UNION SELECT name FROM folders WHERE sig IS NULL"
        )
        return {str(r[0]) for r in rows}

    def set_dirs(self, folder: str, dirs: Iterable[tuple[str, int]]) -> None:
        """Remember the mtimes of a streamer folder's folders, as of its last processing."""
        self.set_dirs_many([(folder, dirs)])

    def set_dirs_many(self, folders: Iterable[tuple[str, Iterable[tuple[str, int]]]]) -> None:
        """`set_dirs` for many streamer folders: `(folder, [(path, mtime_ns), ...])`, in two
        statements."""
        entries = [(folder, list(dirs)) for folder, dirs in folders]
        with self._db.transaction():
            self._db.executemany(
                "DELETE FROM dirs WHERE folder = ?", [(folder,) for folder, _dirs in entries]
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO dirs (path, folder, mtime_ns) VALUES (?, ?, ?)",
                [(path, folder, mtime) for folder, dirs in entries for path, mtime in dirs],
            )

    def dirs(self) -> dict[str, dict[str, int]]:
        """Remembered folder mtimes by streamer folder."""
        out: dict[str, dict[str, int]] = {}
        for path, folder, mtime in self._db.execute("SELECT path, folder, mtime_ns FROM dirs"):
            out.setdefault(str(folder), {})[str(path)] = int(mtime)
        return out

    def has_dirs(self, folder: str) -> bool:
        """True when the folder mtimes of this streamer folder are remembered."""
        row = self._db.execute("SELECT 1 FROM dirs WHERE folder = ? LIMIT 1", (folder,)).fetchone()
        return row is not None
