"""The state database: the only package that speaks SQL.

One SQLite file (WAL) in `state_dir`. It remembers what Twitch said (`twitch`), what is
cached (`images`: each file with its origin, validators and failure history), what the tree
looked like (`recordings`, `folders`), what was written next to the recordings (`outputs`),
how the media servers took being told about it (`notify`), settings and which one-time log
lines were already written (`meta`). Losing the file loses nothing that matters: the next
pass rebuilds it from the tree, the cache and Twitch.

One connection (`db.Database`) is shared by worker threads; every statement takes its lock,
and `transaction()` groups many writes into one commit. Each table class has one job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from svimaged.state.db import Database
from svimaged.state.folders import FolderTable
from svimaged.state.images import ImageTable
from svimaged.state.meta import Meta
from svimaged.state.notify import NotifyRow, NotifyTable
from svimaged.state.outputs import OutputTable, OwnerKind, SidecarRow
from svimaged.state.recordings import RecordingTable
from svimaged.state.schema import SCHEMA_VERSION
from svimaged.state.stats import Stats
from svimaged.state.twitch import TwitchCache

__all__ = ["SCHEMA_VERSION", "NotifyRow", "OwnerKind", "SidecarRow", "State"]


class State:
    """The state database, one attribute per group of tables. Thread-safe; open with
    `State.open(path)`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = db.path
        self.meta = Meta(db)
        self.twitch = TwitchCache(db)
        self.images = ImageTable(db)
        self.recordings = RecordingTable(db)
        self.folders = FolderTable(db)
        self.outputs = OutputTable(db)
        self.notify = NotifyTable(db)
        self.counts = Stats(db)

    @classmethod
    def open(cls, path: Path, *, now: float | None = None) -> State:
        """Open (creating and migrating as needed) the database at `path`. A damaged file is
        moved aside to `<path>.corrupt-<UTC time>` and a fresh one started (`Database.open`);
        a file that is unusable otherwise raises `StateError` naming it."""
        return cls(Database.open(path, now=now))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; nests (inner blocks join the outer one)."""
        with self.db.transaction():
            yield

    def stats(self, now: float) -> dict[str, object]:
        """The stats object of the control protocol (see `stats.Stats.stats`)."""
        return self.counts.stats(now)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()
