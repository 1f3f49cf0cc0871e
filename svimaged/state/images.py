"""The `images` table: every cache file, where its bytes came from, its validators and its
failure history."""

from __future__ import annotations

from collections.abc import Iterable

from svimaged.core.model import ImageKind, ImageRow, Origin
from svimaged.state.db import Database
from svimaged.state.rows import IMAGE_COLUMNS, to_image

_SELECT = f"SELECT {IMAGE_COLUMNS} FROM images"


class ImageTable:
    """Typed access to the `images` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, rel: str) -> ImageRow | None:
        """The state of one cache file, by its path relative to the images folder."""
        row = self._db.execute(f"{_SELECT} WHERE rel = ?", (rel,)).fetchone()
        return None if row is None else to_image(row)

    def get_many(self, rels: Iterable[str]) -> dict[str, ImageRow]:
        """The rows of several cache files at once (one query per `IN_BATCH`), by path."""
        rows = self._db.select_in(f"{_SELECT} WHERE rel IN ({{marks}})", sorted(set(rels)))
        images = (to_image(row) for row in rows)
        return {image.rel: image for image in images}

    def all(self, kind: ImageKind | None = None) -> list[ImageRow]:
        """Every image row (of one kind)."""
        if kind is None:
            rows = self._db.execute(f"{_SELECT} ORDER BY rel")
        else:
            rows = self._db.execute(f"{_SELECT} WHERE kind = ? ORDER BY rel", (kind.value,))
        return [to_image(row) for row in rows.fetchall()]

    def due(self, now: float, *, include_waiting: bool = False) -> list[ImageRow]:
        """Failed images whose retry time has come (or every failed one)."""
        if include_waiting:
            rows = self._db.execute(f"{_SELECT} WHERE failures > 0 ORDER BY rel")
        else:
            rows = self._db.execute(
                f"{_SELECT} WHERE failures > 0 AND next_retry <= ? ORDER BY rel", (now,)
            )
        return [to_image(row) for row in rows.fetchall()]

    def stale(self, older_than: float) -> list[ImageRow]:
        """Cached, not failing images last confirmed before `older_than`."""
        rows = self._db.execute(
            f"{_SELECT} WHERE cached = 1 AND failures = 0 AND last_success < ? ORDER BY rel",
            (older_than,),
        )
        return [to_image(row) for row in rows.fetchall()]

    def record_success(
        self,
        rel: str,
        kind: ImageKind,
        key: str,
        *,
        origin: Origin,
        source: str | None,
        etag: str | None,
        last_modified: str | None,
        sha256: str,
        size: int,
        at: float,
        file_mtime_ns: int | None = None,
    ) -> None:
        """A download or import stored a valid file at `rel`, from `source` (a URL or a local
        path, as `origin` says); `file_mtime_ns` is the stored file's mtime."""
        self._db.execute(
            """INSERT INTO images (rel, kind, key, origin, source, etag, last_modified, sha256,
                   size, cached, last_success, last_attempt, failures, next_retry, last_error,
                   error_status, file_mtime_ns)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 0, NULL, NULL, NULL, ?)
               ON CONFLICT (rel) DO UPDATE SET kind = excluded.kind, key = excluded.key,
                   origin = excluded.origin, source = excluded.source, etag = excluded.etag,
                   last_modified = excluded.last_modified, sha256 = excluded.sha256,
                   size = excluded.size, cached = 1, last_success = excluded.last_success,
                   last_attempt = excluded.last_attempt, failures = 0, next_retry = NULL,
                   last_error = NULL, error_status = NULL,
                   file_mtime_ns = excluded.file_mtime_ns""",
            (
                rel, kind.value, key, origin.value, source, etag, last_modified, sha256, size,
                at, at, file_mtime_ns,
            ),
        )  # fmt: skip

    def record_file_stamp(self, rel: str, size: int, mtime_ns: int) -> None:
        """The cached file's bytes were checked and are the recorded ones: remember its
        current size and mtime (so it is not checked again until they change)."""
        self._db.execute(
            "UPDATE images SET size = ?, file_mtime_ns = ? WHERE rel = ?", (size, mtime_ns, rel)
        )

    def record_not_modified(self, rel: str, at: float) -> None:
        """A conditional GET answered 304: the cached file is fresh as of `at`."""
        self._db.execute(
            """UPDATE images SET last_success = ?, last_attempt = ?, failures = 0,
                   next_retry = NULL, last_error = NULL, error_status = NULL WHERE rel = ?""",
            (at, at, rel),
        )

    def record_failure(
        self,
        rel: str,
        kind: ImageKind,
        key: str,
        *,
        origin: Origin,
        source: str | None,
        error: str,
        status: int | None,
        at: float,
        next_retry: float,
    ) -> int:
        """A download failed; returns the number of consecutive failures now recorded.

        A previously cached file stays cached (`cached` is not cleared), and its `origin`,
        `source` (and validators) keep naming where that file came from: a failed download
        from a new URL must not pass the old file off as the new URL's.
        """
        with self._db.transaction():
            self._db.execute(
                """INSERT INTO images (rel, kind, key, origin, source, failures, last_attempt,
                       next_retry, last_error, error_status)
                   VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
                   ON CONFLICT (rel) DO UPDATE SET failures = failures + 1,
                       origin = CASE WHEN cached = 1 THEN origin ELSE excluded.origin END,
                       source = CASE WHEN cached = 1 THEN source ELSE excluded.source END,
                       last_attempt = excluded.last_attempt,
                       next_retry = excluded.next_retry, last_error = excluded.last_error,
                       error_status = excluded.error_status""",
                (rel, kind.value, key, origin.value, source, at, next_retry, error[:500], status),
            )
            row = self._db.execute("SELECT failures FROM images WHERE rel = ?", (rel,)).fetchone()
        return int(row[0])

    def forget(self, rel: str) -> None:
        """Drop the row of a cache file that is gone."""
        self._db.execute("DELETE FROM images WHERE rel = ?", (rel,))

    def mark_uncached(self, rel: str) -> None:
        """The file of a cached row vanished from disk: fetch it again."""
        self._db.execute(
            "UPDATE images SET cached = 0, etag = NULL, last_modified = NULL, "
            "file_mtime_ns = NULL WHERE rel = ?",
            (rel,),
        )
