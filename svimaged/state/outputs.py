"""The `nfo_files` and `sidecars` tables: what the daemon wrote next to the recordings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from svimaged.state.db import Database


class OwnerKind(StrEnum):
    """What a sidecar belongs to: it goes when its owner is gone."""

    RECORDING = "recording"  # owner = the recording's path relative to `recordings`
    FOLDER = "folder"  # owner = the streamer folder's name


@dataclass(frozen=True, slots=True)
class SidecarRow:
    """An image file next to the recordings that svimaged placed (or found foreign)."""

    path: str  # relative to `recordings`
    owner_kind: OwnerKind
    owner: str
    sha256: str | None  # what svimaged wrote there; None for a foreign file
    foreign: bool  # not svimaged's (never touched)


_SIDECAR_COLUMNS = "path, owner_kind, owner, sha256, foreign_file"


def _sidecar(row: tuple[object, ...]) -> SidecarRow:
    return SidecarRow(
        path=str(row[0]),
        owner_kind=OwnerKind(str(row[1])),
        owner=str(row[2]),
        sha256=None if row[3] is None else str(row[3]),
        foreign=bool(row[4]),
    )


class OutputTable:
    """Typed access to the `nfo_files` and `sidecars` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_nfos(self, rows: list[tuple[str, str, str | None, float, str | None]]) -> None:
        """Remember the outcome of each NFO, in one statement: `(path, status, sha256, at,
        note)`, the status `written`, `up_to_date`, `locked` or `error`, with why it was left
        alone (`note`) for an error."""
        if rows:
            self._db.executemany(
                "INSERT INTO nfo_files (path, status, sha256, updated_at, note) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET status = excluded.status, "
                "sha256 = excluded.sha256, updated_at = excluded.updated_at, "
                "note = excluded.note",
                list(rows),
            )

    def left_alone(self, limit: int) -> list[tuple[str, str]]:
        """The NFOs left alone in their last merge, newest first: (path, why)."""
        rows = self._db.execute(
            "SELECT path, COALESCE(note, '') FROM nfo_files WHERE status = 'error' "
            "ORDER BY updated_at DESC, path LIMIT ?",
            (limit,),
        ).fetchall()
        return [(str(path), str(note)) for path, note in rows]

    def nfo_statuses(self, paths: list[str]) -> dict[str, str]:
        """The last recorded outcome of each of `paths` that has one (one query per
        `IN_BATCH` paths)."""
        rows = self._db.select_in(
            "SELECT path, status FROM nfo_files WHERE path IN ({marks})", paths
        )
        return {str(path): str(status) for path, status in rows}

    def sidecar(self, path: str) -> SidecarRow | None:
        """What the state knows about the image file at `path`, or None."""
        row = self._db.execute(
            f"SELECT {_SIDECAR_COLUMNS} FROM sidecars WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else _sidecar(row)

    def record_sidecar(
        self,
        path: str,
        owner_kind: OwnerKind,
        owner: str,
        sha256: str | None,
        *,
        foreign: bool,
        at: float,
        size: int = 0,
    ) -> None:
        """Remember a sidecar the daemon wrote (`sha256`, `size` bytes) or found foreign."""
        self._db.execute(
            "INSERT INTO sidecars "
            "(path, owner_kind, owner, sha256, foreign_file, updated_at, size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET owner_kind = excluded.owner_kind, "
            "owner = excluded.owner, sha256 = excluded.sha256, "
            "foreign_file = excluded.foreign_file, updated_at = excluded.updated_at, "
            "size = excluded.size",
            (path, owner_kind.value, owner, sha256, int(foreign), at, size),
        )

    def orphan_sidecars(self) -> list[tuple[str, str]]:
        """(path, sha256) of the daemon's sidecars whose recording or folder is gone."""
        rows = self._db.execute(
            """SELECT path, sha256 FROM sidecars WHERE foreign_file = 0 AND sha256 IS NOT NULL
               AND ((owner_kind = 'recording' AND owner NOT IN (SELECT rel FROM recordings))
                 OR (owner_kind = 'folder' AND owner NOT IN (SELECT name FROM folders)))
               ORDER BY path"""
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def forget_sidecar(self, path: str) -> None:
        """Drop a sidecar row."""
        self._db.execute("DELETE FROM sidecars WHERE path = ?", (path,))

    def sidecars_under(self, folder: str) -> dict[str, SidecarRow]:
        """Every image file the state knows below one streamer folder, by path (one query
        for the folder instead of one per recording)."""
        rows = self._db.execute(
            f"SELECT {_SIDECAR_COLUMNS} FROM sidecars WHERE path >= ? AND path < ?",
            (f"{folder}/", f"{folder}0"),  # "0" follows "/": every path below the folder
        )
        return {str(r[0]): _sidecar(r) for r in rows}
