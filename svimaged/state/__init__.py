"""The state database: the only module that speaks SQL.

One SQLite file (WAL) in `state_dir`. It remembers what Twitch said (users, games), what is
cached (images with their source URL, validators and failure history), what the tree looked
like (recordings), what the NFO writer did, and which one-time log lines were already written.
Losing the file loses nothing that matters: the next pass rebuilds it from the tree, the cache
and Twitch.

The connection is shared by worker threads; every method takes the lock, and
`transaction()` groups many writes into one commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from svimaged.core.model import ImageKind, TwitchGame, TwitchUser
from svimaged.state.base import Database
from svimaged.state.rows import (
    FolderRow,
    ImageRow,
    RecordingRow,
    int_or_zero,
    to_image,
    to_user,
)
from svimaged.state.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "FolderRow", "ImageRow", "RecordingRow", "State"]

_COUNTER_NAMES = (
    *(f"img:{k.value}:{b}" for k in ImageKind for b in ("cached", "failed", "pending")),
    *(f"bytes:{k.value}" for k in ImageKind),
    *(f"nfo:{status}" for status in ("written", "up_to_date", "error", "locked")),
    "artwork_streamers",
)


class State(Database):
    """Typed access to the state database. Thread-safe; open with `State.open(path)`."""

    # -- Twitch users and games --------------------------------------------------------

    def upsert_user(self, user: TwitchUser, at: float) -> None:
        """Remember a Helix user (and forget that its login was missing)."""
        self._execute(
            "INSERT OR REPLACE INTO twitch_users VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                user.id,
                user.login.lower(),
                user.display_name,
                user.description,
                user.profile_image_url,
                user.offline_image_url,
                at,
            ),
        )
        self._execute("DELETE FROM missing WHERE kind = 'login' AND key = ?", (user.login.lower(),))

    def user_by_id(self, user_id: str) -> TwitchUser | None:
        """The stored Helix user with this id."""
        row = self._execute("SELECT * FROM twitch_users WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else to_user(row)

    def user_by_login(self, login: str) -> TwitchUser | None:
        """The most recently fetched Helix user with this login."""
        row = self._execute(
            "SELECT * FROM twitch_users WHERE login = ? ORDER BY fetched_at DESC LIMIT 1",
            (login.lower(),),
        ).fetchone()
        return None if row is None else to_user(row)

    def user_fetched_at(
        self, *, login: str | None = None, user_id: str | None = None
    ) -> float | None:
        """When the user with this id (or login) was last fetched from Helix, or None."""
        if user_id is not None:
            row = self._execute(
                "SELECT fetched_at FROM twitch_users WHERE user_id = ?", (user_id,)
            ).fetchone()
        else:
            row = self._execute(
                "SELECT MAX(fetched_at) FROM twitch_users WHERE login = ?", ((login or "").lower(),)
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def game_fetched_at(self, name: str) -> float | None:
        """When the category with this name was last fetched from Helix, or None."""
        row = self._execute(
            "SELECT fetched_at FROM games WHERE name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else float(row[0])

    def upsert_game(self, game: TwitchGame, at: float) -> None:
        """Remember a Helix game under its case-folded name."""
        self._execute(
            "INSERT OR REPLACE INTO games VALUES (?, ?, ?, ?, ?)",
            (game.name.casefold(), game.id, game.name, game.box_art_url, at),
        )
        self._execute(
            "DELETE FROM missing WHERE kind = 'game' AND key = ?", (game.name.casefold(),)
        )

    def game_by_name(self, name: str) -> TwitchGame | None:
        """The stored Helix game with this name (case-insensitive)."""
        row = self._execute(
            "SELECT game_id, name, box_art_url FROM games WHERE name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else TwitchGame(id=row[0], name=row[1], box_art_url=row[2])

    def mark_missing(self, kind: str, key: str, at: float) -> None:
        """Remember that Helix does not know `key` (a login or game name) as of `at`."""
        self._execute("INSERT OR REPLACE INTO missing VALUES (?, ?, ?)", (kind, key, at))

    def missing_since(self, kind: str, key: str) -> float | None:
        """When Helix last said it does not know `key`, or None."""
        row = self._execute(
            "SELECT checked_at FROM missing WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else float(row[0])

    # -- category slugs ----------------------------------------------------------------

    def category_slug(self, name: str) -> str | None:
        """The slug this category was given before, if any."""
        row = self._execute("SELECT slug FROM category_slugs WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def slug_owner(self, slug: str) -> str | None:
        """The category name that owns `slug`, if any."""
        row = self._execute("SELECT name FROM category_slugs WHERE slug = ?", (slug,)).fetchone()
        return None if row is None else str(row[0])

    def assign_slug(self, name: str, slug: str, game_id: str | None) -> None:
        """Give `name` the slug `slug` for good (collisions are decided by the caller).

        A slug owned by another name raises `StateError`; it is never taken away silently
        (two categories would then share one file)."""
        self._execute(
            "INSERT INTO category_slugs (name, slug, game_id) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET slug = excluded.slug, game_id = excluded.game_id",
            (name, slug, game_id),
        )

    # -- images ------------------------------------------------------------------------

    def image(self, rel: str) -> ImageRow | None:
        """The state of one cache file, by its path relative to the images folder."""
        row = self._execute("SELECT * FROM images WHERE rel = ?", (rel,)).fetchone()
        return None if row is None else to_image(row)

    def images(self, kind: ImageKind | None = None) -> list[ImageRow]:
        """Every image row (of one kind)."""
        if kind is None:
            rows = self._execute("SELECT * FROM images ORDER BY rel").fetchall()
        else:
            rows = self._execute(
                "SELECT * FROM images WHERE kind = ? ORDER BY rel", (kind.value,)
            ).fetchall()
        return [to_image(row) for row in rows]

    def record_success(
        self,
        rel: str,
        kind: ImageKind,
        key: str,
        *,
        source_url: str | None,
        etag: str | None,
        last_modified: str | None,
        sha256: str,
        size: int,
        at: float,
    ) -> None:
        """A download or import stored a valid file at `rel`."""
        self._execute(
            """INSERT INTO images (rel, kind, key, source_url, etag, last_modified, sha256, size,
                   cached, last_success, last_attempt, failures, next_retry, last_error,
                   error_status)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 0, NULL, NULL, NULL)
               ON CONFLICT (rel) DO UPDATE SET kind = excluded.kind, key = excluded.key,
                   source_url = excluded.source_url, etag = excluded.etag,
                   last_modified = excluded.last_modified, sha256 = excluded.sha256,
                   size = excluded.size, cached = 1, last_success = excluded.last_success,
                   last_attempt = excluded.last_attempt, failures = 0, next_retry = NULL,
                   last_error = NULL, error_status = NULL""",
            (rel, kind.value, key, source_url, etag, last_modified, sha256, size, at, at),
        )

    def record_not_modified(self, rel: str, at: float) -> None:
        """A conditional GET answered 304: the cached file is fresh as of `at`."""
        self._execute(
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
        source_url: str | None,
        error: str,
        status: int | None,
        at: float,
        next_retry: float,
    ) -> int:
        """A download failed; returns the number of consecutive failures now recorded.

        A previously cached file stays cached (`cached` is not cleared), and its
        `source_url` (and validators) keep naming where that file came from: a failed
        download from a new URL must not pass the old file off as the new URL's.
        """
        with self.transaction():
            self._execute(
                """INSERT INTO images (rel, kind, key, source_url, failures, last_attempt,
                       next_retry, last_error, error_status)
                   VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)
                   ON CONFLICT (rel) DO UPDATE SET failures = failures + 1,
                       source_url = CASE WHEN cached = 1 THEN source_url
                                         ELSE excluded.source_url END,
                       last_attempt = excluded.last_attempt,
                       next_retry = excluded.next_retry, last_error = excluded.last_error,
                       error_status = excluded.error_status""",
                (rel, kind.value, key, source_url, at, next_retry, error[:500], status),
            )
            row = self._execute("SELECT failures FROM images WHERE rel = ?", (rel,)).fetchone()
        return int(row[0])

    def forget_image(self, rel: str) -> None:
        """Drop the row of a cache file that is gone."""
        self._execute("DELETE FROM images WHERE rel = ?", (rel,))

    def mark_uncached(self, rel: str) -> None:
        """The file of a cached row vanished from disk: fetch it again."""
        self._execute(
            "UPDATE images SET cached = 0, etag = NULL, last_modified = NULL WHERE rel = ?",
            (rel,),
        )

    # -- recordings --------------------------------------------------------------------

    def upsert_recording(self, row: RecordingRow, at: float) -> None:
        """Remember a recording's stat data, resolved ids and signature."""
        self._execute(
            "INSERT OR REPLACE INTO recordings (rel, folder, size, mtime_ns, user_id, stream_id, "
            "category, artwork_rel, seen_at, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.rel,
                row.folder,
                row.size,
                row.mtime_ns,
                row.user_id,
                row.stream_id,
                row.category,
                row.artwork_rel,
                at,
                row.sig,
            ),
        )

    def recording(self, rel: str) -> RecordingRow | None:
        """A recording's last seen row."""
        row = self._execute(
            "SELECT rel, folder, size, mtime_ns, user_id, stream_id, category, artwork_rel, sig "
            "FROM recordings WHERE rel = ?",
            (rel,),
        ).fetchone()
        return None if row is None else RecordingRow(*row)

    def signatures(self, folder: str | None = None) -> dict[str, dict[str, str | None]]:
        """Stored signatures by folder, then by recording path (one folder, or all)."""
        if folder is None:
            rows = self._execute("SELECT folder, rel, sig FROM recordings").fetchall()
        else:
            rows = self._execute(
                "SELECT folder, rel, sig FROM recordings WHERE folder = ?", (folder,)
            ).fetchall()
        out: dict[str, dict[str, str | None]] = {}
        for name, rel, sig in rows:
            out.setdefault(str(name), {})[str(rel)] = None if sig is None else str(sig)
        return out

    def forget_recordings(self, rels: Iterable[str]) -> None:
        """Drop the rows of recordings that are gone."""
        with self.transaction():
            for rel in rels:
                self._execute("DELETE FROM recordings WHERE rel = ?", (rel,))

    def invalidate(self, *, user_id: str | None = None, category: str | None = None) -> set[str]:
        """Make the recordings of a streamer (or of a category) look changed, so their NFOs
        are merged again; returns the folders concerned."""
        if user_id is not None:
            where, arg = "user_id = ?", user_id
        elif category is not None:
            where, arg = "category = ?", category
        else:
            return set()
        with self.transaction():
            folders = {
                str(r[0])
                for r in self._execute(
                    f"SELECT DISTINCT folder FROM recordings WHERE {where}", (arg,)
                )
            }
            self._execute(f"UPDATE recordings SET sig = NULL WHERE {where}", (arg,))
            if user_id is not None:
                self._execute("UPDATE folders SET sig = NULL WHERE user_id = ?", (user_id,))
        return folders

    def invalidate_all(self) -> None:
        """Every recording and folder looks changed on the next pass."""
        with self.transaction():
            self._execute("UPDATE recordings SET sig = NULL")
            self._execute("UPDATE folders SET sig = NULL")

    # -- streamer folders --------------------------------------------------------------

    def folder(self, name: str) -> FolderRow | None:
        """A streamer folder as last processed."""
        row = self._execute(
            "SELECT name, sig, user_id, login FROM folders WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else FolderRow(*row)

    def folder_names(self) -> list[str]:
        """Every streamer folder the state knows."""
        return [str(r[0]) for r in self._execute("SELECT name FROM folders ORDER BY name")]

    def upsert_folder(self, row: FolderRow, at: float) -> None:
        """Remember a processed streamer folder."""
        self._execute(
            "INSERT OR REPLACE INTO folders (name, sig, user_id, login, seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (row.name, row.sig, row.user_id, row.login, at),
        )

    def forget_folder(self, name: str) -> None:
        """A streamer folder is gone: drop it and its recordings."""
        with self.transaction():
            self._execute("DELETE FROM dirs WHERE folder = ?", (name,))
            self._execute("DELETE FROM recordings WHERE folder = ?", (name,))
            self._execute("DELETE FROM folders WHERE name = ?", (name,))

    def categories_by_recording(self, folder: str) -> dict[str, str | None]:
        """The category of each recording of a folder, as last processed."""
        rows = self._execute("SELECT rel, category FROM recordings WHERE folder = ?", (folder,))
        return {str(r[0]): None if r[1] is None else str(r[1]) for r in rows}

    def artwork_in_use(self) -> set[str]:
        """Cache paths of the artwork of every recording the state knows."""
        rows = self._execute("SELECT artwork_rel FROM recordings WHERE artwork_rel IS NOT NULL")
        return {str(r[0]) for r in rows}

    def categories_in_use(self) -> set[str]:
        """Category names used by at least one recording the state knows."""
        rows = self._execute("SELECT DISTINCT category FROM recordings WHERE category IS NOT NULL")
        return {str(r[0]) for r in rows}

    def folder_users(self) -> dict[str, str]:
        """Twitch user id by streamer folder, for folders whose streamer is known."""
        rows = self._execute("SELECT name, user_id FROM folders WHERE user_id IS NOT NULL")
        return {str(r[0]): str(r[1]) for r in rows}

    # -- sidecars ----------------------------------------------------------------------

    def sidecar(self, path: str) -> tuple[str | None, bool] | None:
        """(sha256 the daemon wrote, is foreign) for a sidecar path, or None if unknown."""
        row = self._execute(
            "SELECT sha256, foreign_file FROM sidecars WHERE path = ?", (path,)
        ).fetchone()
        return None if row is None else (None if row[0] is None else str(row[0]), bool(row[1]))

    def record_sidecar(
        self, path: str, owner: str, sha256: str | None, *, foreign: bool, at: float
    ) -> None:
        """Remember a sidecar the daemon wrote (`sha256`) or found foreign."""
        self._execute(
            "INSERT OR REPLACE INTO sidecars (path, owner, sha256, foreign_file, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (path, owner, sha256, int(foreign), at),
        )

    def orphan_sidecars(self) -> list[tuple[str, str]]:
        """(path, sha256) of the daemon's sidecars whose recording or folder is gone."""
        rows = self._execute(
            """SELECT path, sha256 FROM sidecars WHERE foreign_file = 0 AND sha256 IS NOT NULL
               AND ((owner LIKE 'rec:%' AND substr(owner, 5) NOT IN (SELECT rel FROM recordings))
                 OR (owner LIKE 'folder:%' AND substr(owner, 8) NOT IN (SELECT name FROM folders)))
               ORDER BY path"""
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def forget_sidecar(self, path: str) -> None:
        """Drop a sidecar row."""
        self._execute("DELETE FROM sidecars WHERE path = ?", (path,))

    # -- folder mtimes -----------------------------------------------------------------

    def set_dirs(self, folder: str, dirs: Iterable[tuple[str, int]]) -> None:
        """Remember the mtimes of a streamer folder's folders, as of its last processing."""
        with self.transaction():
            self._execute("DELETE FROM dirs WHERE folder = ?", (folder,))
            for path, mtime in dirs:
                self._execute(
                    "INSERT OR REPLACE INTO dirs (path, folder, mtime_ns) VALUES (?, ?, ?)",
                    (path, folder, mtime),
                )

    def dirs(self) -> dict[str, dict[str, int]]:
        """Remembered folder mtimes by streamer folder."""
        out: dict[str, dict[str, int]] = {}
        for path, folder, mtime in self._execute("SELECT path, folder, mtime_ns FROM dirs"):
            out.setdefault(str(folder), {})[str(path)] = int(mtime)
        return out

    def has_dirs(self, folder: str) -> bool:
        """True when the folder mtimes of this streamer folder are remembered."""
        row = self._execute("SELECT 1 FROM dirs WHERE folder = ? LIMIT 1", (folder,)).fetchone()
        return row is not None

    def folders_to_look_at(self) -> set[str]:
        """Folders with recordings still being written, marked for another look, or never
        completely processed: a quick rescan always enqueues them."""
        rows = self._execute(
            "SELECT DISTINCT folder FROM recordings WHERE sig IS NULL OR sig = 'pending' "
            "OR sig LIKE 'incomplete:%' UNION SELECT name FROM folders WHERE sig IS NULL"
        )
        return {str(r[0]) for r in rows}

    # -- image maintenance -------------------------------------------------------------

    def due_images(self, now: float, *, include_waiting: bool = False) -> list[ImageRow]:
        """Failed images whose retry time has come (or every failed one)."""
        if include_waiting:
            rows = self._execute("SELECT * FROM images WHERE failures > 0 ORDER BY rel")
        else:
            rows = self._execute(
                "SELECT * FROM images WHERE failures > 0 AND next_retry <= ? ORDER BY rel", (now,)
            )
        return [to_image(row) for row in rows.fetchall()]

    def stale_images(self, older_than: float) -> list[ImageRow]:
        """Cached, not failing images last confirmed before `older_than`."""
        rows = self._execute(
            "SELECT * FROM images WHERE cached = 1 AND failures = 0 AND last_success < ? "
            "ORDER BY rel",
            (older_than,),
        )
        return [to_image(row) for row in rows.fetchall()]

    # -- NFO files ---------------------------------------------------------------------

    def record_nfo(self, path: str, status: str, sha256: str | None, at: float) -> None:
        """Remember the outcome for one NFO: `written`, `up_to_date`, `locked` or `error`."""
        self._execute(
            "INSERT INTO nfo_files (path, status, sha256, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET status = excluded.status, "
            "sha256 = excluded.sha256, updated_at = excluded.updated_at",
            (path, status, sha256, at),
        )

    def nfo_status(self, path: str) -> str | None:
        """The last recorded outcome for one NFO."""
        row = self._execute("SELECT status FROM nfo_files WHERE path = ?", (path,)).fetchone()
        return None if row is None else str(row[0])

    # -- stats -------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """The trigger-maintained counters stats and metrics read: `img:<kind>:<cached|
        failed|pending>`, `bytes:<kind>`, `nfo:<status>`, `artwork_streamers` (a fixed set
        of names, so the cost does not grow with the library)."""
        names = [*_COUNTER_NAMES]
        marks = ", ".join("?" * len(names))
        rows = self._execute(f"SELECT name, n FROM counters WHERE name IN ({marks})", tuple(names))
        return {str(k): int(v) for k, v in rows}

    def stats(self, now: float) -> dict[str, object]:
        """Counts for the stats route (SPEC section 7), from counters the database keeps up
        to date on every change: the cost does not grow with the library."""
        counts = self.counters()
        retrying = self._execute(
            "SELECT COUNT(*) FROM images WHERE failures > 0 AND next_retry > ?", (now,)
        ).fetchone()[0]
        artwork_streamers = counts.get("artwork_streamers", 0)

        def c(kind: ImageKind, state: str) -> int:
            return counts.get(f"img:{kind.value}:{state}", 0)

        kinds = list(ImageKind)
        return {
            "profiles": {
                "cached_profiles": c(ImageKind.PROFILE, "cached"),
                "failed_downloads": c(ImageKind.PROFILE, "failed"),
            },
            "categories": {
                "cached_categories": c(ImageKind.CATEGORY, "cached"),
                "failed_downloads": c(ImageKind.CATEGORY, "failed"),
            },
            "artwork": {
                "cached_artworks": c(ImageKind.ARTWORK, "cached"),
                "streamers_with_artwork": artwork_streamers,
                "failed_downloads": c(ImageKind.ARTWORK, "failed"),
            },
            "total_cached": sum(c(k, "cached") for k in kinds),
            "total_failed": sum(c(k, "failed") for k in kinds),
            "bytes_on_disk": sum(counts.get(f"bytes:{k.value}", 0) for k in kinds),
            "queue": {
                "pending": sum(c(k, "pending") for k in kinds),
                "retrying": int(retrying),
            },
            "nfo": {
                "written": counts.get("nfo:written", 0),
                "up_to_date": counts.get("nfo:up_to_date", 0),
                "errors": counts.get("nfo:error", 0),
            },
            "last_sync": self.get_meta("last_sync"),
            "needs_credentials": int_or_zero(self.get_meta("needs_credentials")),
        }
