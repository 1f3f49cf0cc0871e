"""The state database's connection: open, migrate, lock, transactions. Every table class of
this package speaks SQL through one `Database`."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Self

from svimaged.core.errors import ShuttingDownError, StateError
from svimaged.core.log import kv
from svimaged.state.damage import DamagedError, is_damage, quick_check, set_aside
from svimaged.state.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)


#: Values per `IN (...)` query of `Database.select_in`.
IN_BATCH = 500


class Database:
    """The connection, its lock, transactions and migrations; shared by the table classes.

    After `close()` every statement raises `ShuttingDownError` (work still running when the
    daemon stops ends quietly, never with "Cannot operate on a closed database")."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._closed = False
        self.path = path

    @classmethod
    def open(cls, path: Path, *, now: float | None = None) -> Self:
        """Open (creating and migrating as needed) the database at `path`.

        A damaged file (see `damage.is_damage`; `PRAGMA quick_check` runs first) is moved
        aside to `<path>.corrupt-<UTC time>` with its `-wal` and `-shm` files, logged once
        naming both paths, and a fresh database is started in its place (`now`, default the
        current time, names the moved file). Anything else that makes the file unusable
        raises `StateError` naming it.
        """
        try:
            quick_check(path)
            return cls._connect(path)
        except (sqlite3.Error, OSError, UnicodeDecodeError, DamagedError) as exc:
            if not is_damage(exc):
                raise StateError(f"cannot open state database {path}: {exc}") from exc
            problem = exc
        try:
            aside = set_aside(path, time.time() if now is None else now)
        except OSError as exc:
            raise StateError(
                f"state database {path} is damaged ({problem}) and cannot be moved aside: {exc}"
            ) from exc
        log.error(
            "state database damaged, moved aside; starting with a fresh state (the next pass "
            "rebuilds it from the tree) %s",
            kv(path=str(path), moved_to=str(aside), error=str(problem)),
        )
        try:
            return cls._connect(path)
        except (sqlite3.Error, OSError, UnicodeDecodeError, DamagedError) as exc:
            raise StateError(f"cannot open state database {path}: {exc}") from exc

    @classmethod
    def _connect(cls, path: Path) -> Self:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            db = cls(conn, path)
            db._migrate()
        except BaseException:
            conn.close()
            raise
        return db

    def close(self) -> None:
        """Close the connection (checkpointing the WAL); later statements raise
        `ShuttingDownError`."""
        with self._lock:
            self._closed = True
            self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ShuttingDownError(f"state database {self.path} is closed: svimaged is stopping")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; nests (inner blocks join the outer one)."""
        with self._lock:
            self._check_open()
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

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement under the lock; SQLite errors become `StateError`."""
        try:
            with self._lock:
                self._check_open()
                return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from exc

    def select_in(
        self, sql: str, values: Sequence[str], params: tuple[object, ...] = ()
    ) -> Iterator[tuple[object, ...]]:
        """The rows of `sql`, whose `IN ({marks})` takes `values`: one query per `IN_BATCH`
        values (below SQLite's limit on bound parameters). `params` bind the placeholders
        before the `IN`."""
        for statement, bound in _in_batches(sql, values, params):
            yield from self.execute(statement, bound)

    def execute_in(self, sql: str, values: Sequence[str], params: tuple[object, ...] = ()) -> None:
        """Run `sql` (an UPDATE or DELETE) whose `IN ({marks})` takes `values`, in batches as
        `select_in` does; call it inside a transaction to make the batches one change."""
        for statement, bound in _in_batches(sql, values, params):
            self.execute(statement, bound)

    def executemany(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        """Run one statement for every row under the lock; errors as for `execute`."""
        try:
            with self._lock:
                self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state database {self.path} has schema {version}, newer than this svimaged "
                f"({SCHEMA_VERSION}); upgrade svimaged or move the file away"
            )
        steps = [
            f"{MIGRATIONS[target]}; PRAGMA user_version = {target};"
            for target in range(version + 1, SCHEMA_VERSION + 1)
        ]
        if steps:  # one transaction: a new database is made in one commit, an old one
            # upgraded all the way or not at all
            self._conn.executescript(f"BEGIN; {' '.join(steps)} COMMIT;")


def _in_batches(
    sql: str, values: Sequence[str], params: tuple[object, ...]
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """`sql` with `{marks}` filled for each batch of `IN_BATCH` values, and its parameters
    (`params` first)."""
    for start in range(0, len(values), IN_BATCH):
        chunk = values[start : start + IN_BATCH]
        yield sql.replace("{marks}", ", ".join("?" * len(chunk))), (*params, *chunk)
