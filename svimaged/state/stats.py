"""Counts for stats and metrics, read from counters that triggers keep up to date (schema
migrations 3 and 5): the cost does not grow with the library."""

from __future__ import annotations

from svimaged.core.clock import utc_iso
from svimaged.core.model import ImageKind
from svimaged.state.db import Database
from svimaged.state.meta import Meta
from svimaged.state.notify import NotifyTable
from svimaged.state.outputs import OutputTable
from svimaged.state.rows import int_or_zero

#: How many NFOs left alone stats lists (with why); `nfo.errors` counts them all.
LEFT_ALONE_SHOWN = 20

_COUNTER_NAMES = (
    *(f"img:{k.value}:{b}" for k in ImageKind for b in ("cached", "failed", "pending")),
    *(f"bytes:{k.value}" for k in ImageKind),
    *(f"nfo:{status}" for status in ("written", "up_to_date", "error", "locked")),
    "artwork_streamers",
    "sidecars:files",
    "sidecars:bytes",
)


class Stats:
    """The stats object and the raw counters behind it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def counters(self) -> dict[str, int]:
        """The trigger-maintained counters stats and metrics read: `img:<kind>:<cached|
        failed|pending>`, `bytes:<kind>`, `nfo:<status>`, `artwork_streamers` (a fixed set
        of names, so the cost does not grow with the library)."""
        names = [*_COUNTER_NAMES]
        marks = ", ".join("?" * len(names))
        rows = self._db.execute(
            f"SELECT name, n FROM counters WHERE name IN ({marks})", tuple(names)
        )
        return {str(k): int(v) for k, v in rows}

    def stats(self, now: float) -> dict[str, object]:
        """Counts for the stats route (contract section 7), from counters the database keeps up
        to date on every change: the cost does not grow with the library."""
        counts = self.counters()
        meta = Meta(self._db)
        retrying = self._db.execute(
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
            "backdrops": {
                "cached_backdrops": c(ImageKind.BACKDROP, "cached"),
                "failed_downloads": c(ImageKind.BACKDROP, "failed"),
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
                "left_alone": [
                    {"path": path, "reason": reason}
                    for path, reason in OutputTable(self._db).left_alone(LEFT_ALONE_SHOWN)
                ],
            },
            "sidecars": {
                "files": counts.get("sidecars:files", 0),
                "bytes": counts.get("sidecars:bytes", 0),
            },
            "last_sync": meta.get("last_sync"),
            "needs_credentials": int_or_zero(meta.get("needs_credentials")),
            "notify": {
                row.name: {
                    "type": row.type,
                    "url": row.url,
                    "sent": row.sent,
                    "failed": row.failed,
                    "last_success": None if row.last_success is None else utc_iso(row.last_success),
                    "last_failure": None if row.last_failure is None else utc_iso(row.last_failure),
                    "last_error": row.last_error,
                }
                for row in NotifyTable(self._db).rows()
            },
        }
