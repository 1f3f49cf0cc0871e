"""Carry out image tasks: download or import, validate, store atomically, record in the state.

One task is one file under `.images`. Tasks run on one bounded thread pool (owned by the
daemon for its whole life and shared by every pass; the fetcher lets `download.concurrency`
of its threads download at once); two tasks for the same file never run at once (one lock
per cache file). Every failure is caught per task, logged with its key, recorded with its
retry time, and counted; the old cached file, if any, stays. A pass starts its tasks as a
`Batch` and hears of each as it finishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from enum import StrEnum

from svimaged.config import RetryConfig
from svimaged.core.clock import Clock
from svimaged.core.errors import FetchError, InvalidImageError, ShuttingDownError, SvimagedError
from svimaged.core.log import kv
from svimaged.core.model import ImageRow
from svimaged.images.codec import to_jpeg
from svimaged.images.fetch import Fetcher, FetchResult
from svimaged.images.frames import grab_frame
from svimaged.images.retry import retry_delay
from svimaged.images.shared import SharedAnswers, Validators
from svimaged.images.store import ImageStore
from svimaged.images.tasks import Action, ImageTask, same_source
from svimaged.state import State

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class Outcome(StrEnum):
    """The result of one task."""

    STORED = "stored"  # new bytes are in place
    UNCHANGED = "unchanged"  # 304, or the same bytes again
    FAILED = "failed"


@dataclass(slots=True)
class TransferTotals:
    """Counts of one batch of tasks."""

    stored: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: int = 0
    bytes: int = 0
    errors: dict[str, str] = field(default_factory=dict)


class KeyedLocks:
    """One lock per key, created on demand and dropped when nobody holds or waits for it:
    two workers never transfer the same cache file at once."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the lock of `key` for the `with` block."""
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class Transferer:
    """Runs image tasks against the fetcher, the image store and the state."""

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        store: ImageStore,
        state: State,
        clock: Clock,
        retry: RetryConfig,
        concurrency: int,
        locks: KeyedLocks | None = None,
        pool: Executor | None = None,
        run: Validators | None = None,
    ) -> None:
        """`run`: the validators confirmed in the run these transfers belong to (a URL is
        not revalidated twice in one run); without it, in each batch."""
        self._locks = locks if locks is not None else KeyedLocks()
        self._fetcher = fetcher
        self._store = store
        self._state = state
        self._clock = clock
        self._retry = retry
        self._concurrency = max(1, concurrency)
        self._pool = pool
        self._run = run

    def run(
        self,
        jobs: Sequence[tuple[ImageTask, Action, ImageRow | None]],
        progress: Progress | None = None,
    ) -> TransferTotals:
        """Run every job on the shared pool (or, without one, a pool of `concurrency`
        threads for this call) and return the totals."""
        if not jobs:
            return TransferTotals()
        if self._pool is not None:
            return _wait(self.batch(), jobs, progress)
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="svimaged-dl") as pool:
            return _wait(Batch(pool, self.one, self._run), jobs, progress)

    def batch(self) -> Batch:
        """An empty batch on the shared pool (`pool`), to `add` jobs to as they are planned."""
        assert self._pool is not None, "batch() needs the shared transfer pool"
        return Batch(self._pool, self.one, self._run)

    def one(
        self,
        task: ImageTask,
        action: Action,
        row: ImageRow | None,
        shared: SharedAnswers | None = None,
    ) -> tuple[Outcome, int, str | None]:
        """Run one task; never raises for a per-item failure. Returns (outcome, bytes, error).
        A task another worker completed meanwhile is not transferred again; a transfer cut
        short by shutdown is not recorded as a failure (it is simply done next time).
        `shared`: the answers of the task's batch (a URL is asked once per batch)."""
        with self._locks.hold(task.rel):
            fresh = self._state.images.get(task.rel)
            if _done_meanwhile(task, row, fresh):
                return Outcome.UNCHANGED, 0, None
            return self._one(task, action, fresh, shared or SharedAnswers(self._run))

    def _one(
        self, task: ImageTask, action: Action, row: ImageRow | None, shared: SharedAnswers
    ) -> tuple[Outcome, int, str | None]:
        try:
            if task.grab:
                return self._grab(task)
            if task.local is not None:
                return self._import(task, row)
            return self._download(task, action, row, shared)
        except ShuttingDownError as exc:
            return Outcome.FAILED, 0, str(exc)
        except (SvimagedError, OSError) as exc:
            message = _describe(exc)
            self._failed(task, row, message, exc)
            return Outcome.FAILED, 0, message

    def _record(
        self,
        task: ImageTask,
        etag: str | None,
        last_modified: str | None,
        sha256: str,
        size: int,
        *,
        at: float | None = None,
    ) -> None:
        """The file at `task.rel` is valid and in place: remember where it came from, and its
        mtime (a later change of the file on disk is then noticed)."""
        meta = self._store.read_meta(task.rel)
        self._state.images.record_success(
            task.rel,
            task.kind,
            task.key,
            origin=task.origin,
            source=task.location,
            etag=etag,
            last_modified=last_modified,
            sha256=sha256,
            size=size,
            at=self._clock.time() if at is None else at,
            file_mtime_ns=meta[1] if meta is not None else None,
        )

    def _grab(self, task: ImageTask) -> tuple[Outcome, int, str | None]:
        assert task.local is not None
        stored = self._store.store(task.rel, to_jpeg(grab_frame(task.local)))
        self._record(task, task.local_stamp, None, stored.sha256, stored.size)
        log.info("image grabbed from video %s", kv(kind=task.kind.value, key=task.key))
        return Outcome.STORED, stored.size, None

    def _import(self, task: ImageTask, row: ImageRow | None) -> tuple[Outcome, int, str | None]:
        assert task.local is not None
        unknown = row is None or not row.cached
        known = self._store.digest(task.rel) if unknown else None
        if known is not None and known == self._store.import_digest(task.local):
            meta = self._store.read_meta(task.rel)
            digest, size, outcome = known, meta[0] if meta else 0, Outcome.UNCHANGED
        else:
            stored = self._store.import_file(task.rel, task.local)
            digest, size, outcome = stored.sha256, stored.size, Outcome.STORED
        self._record(task, task.local_stamp, None, digest, size)
        if outcome is Outcome.STORED:
            log.info("image imported %s", kv(kind=task.kind.value, key=task.key))
        return outcome, size if outcome is Outcome.STORED else 0, None

    def _download(
        self, task: ImageTask, action: Action, row: ImageRow | None, shared: SharedAnswers
    ) -> tuple[Outcome, int, str | None]:
        assert task.url is not None
        conditional = action is Action.REVALIDATE and row is not None
        result = shared.get(
            task.url,
            row.etag if conditional and row is not None else None,
            row.last_modified if conditional and row is not None else None,
            self._get,
        )
        now = self._clock.time()
        if result.not_modified:
            self._state.images.record_not_modified(task.rel, now)
            return Outcome.UNCHANGED, 0, None
        jpeg = to_jpeg(result.body)
        digest = hashlib.sha256(jpeg).hexdigest()
        known = row.sha256 if row is not None and row.cached else self._store.digest(task.rel)
        same = known == digest
        if same and self._store.exists(task.rel):
            size = len(jpeg)
        else:
            stored = self._store.store(task.rel, jpeg)
            digest, size = stored.sha256, stored.size
        self._record(task, result.etag, result.last_modified, digest, size, at=now)
        if same:
            return Outcome.UNCHANGED, 0, None
        log.info("image cached %s", kv(kind=task.kind.value, key=task.key, bytes=size))
        return Outcome.STORED, size, None

    def _get(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        return self._fetcher.get(url, etag=etag, last_modified=last_modified)

    def _failed(self, task: ImageTask, row: ImageRow | None, message: str, exc: Exception) -> None:
        status = exc.status if isinstance(exc, FetchError) else None
        failures = (row.failures if row is not None else 0) + 1
        delay = retry_delay(failures, status, self._retry.initial, self._retry.max)
        now = self._clock.time()
        try:
            self._state.images.record_failure(
                task.rel,
                task.kind,
                task.key,
                origin=task.origin,
                source=task.location,
                error=message,
                status=status,
                at=now,
                next_retry=now + delay,
            )
        except SvimagedError as state_exc:
            log.error("cannot record failure %s", kv(rel=task.rel, error=str(state_exc)))
        log.warning(
            "image failed %s",
            kv(kind=task.kind.value, key=task.key, error=message, retry_in=int(delay)),
        )


class Batch:
    """Jobs submitted to a pool, added as a pass plans them (`add`). `finished()` yields
    each task's cache path as its transfer ends (whatever the outcome, its state row is
    recorded by then) and counts it in `totals`; `wait()` takes the rest and returns the
    totals. All of it is for one thread (the one that owns the batch), and `progress(done,
    total)`, when set, is called there."""

    def __init__(
        self,
        pool: Executor,
        one: Callable[
            [ImageTask, Action, ImageRow | None, SharedAnswers], tuple[Outcome, int, str | None]
        ],
        run: Validators | None = None,
    ) -> None:
        self.totals = TransferTotals()
        #: Cache paths of the tasks not finished yet.
        self.running: set[str] = set()
        self.progress: Progress | None = None
        self._pool = pool
        self._one = one
        self._shared = SharedAnswers(run)
        self._futures: dict[Future[tuple[Outcome, int, str | None]], ImageTask] = {}
        self._pending: Iterator[Future[tuple[Outcome, int, str | None]]] | None = None
        self._done = 0

    def __len__(self) -> int:
        return len(self._futures)

    def add(self, jobs: Sequence[tuple[ImageTask, Action, ImageRow | None]]) -> None:
        """Start these jobs too (each cache path once per batch; only before `finished()`)."""
        assert self._pending is None, "jobs added to a batch that is being waited for"
        self._shared.expect(
            task.url for task, _a, _r in jobs if task.url is not None and _downloads(task)
        )
        for task, action, row in jobs:
            self.running.add(task.rel)
            future = self._pool.submit(self._one, task, action, row, self._shared)
            self._futures[future] = task

    def finished(self) -> Iterator[str]:
        """The cache path of each task as it finishes, until all have."""
        if self._pending is None:
            self._pending = as_completed(self._futures)
        count = len(self._futures)
        step = max(25, count // 10)
        for future in self._pending:
            task = self._futures[future]
            self.running.discard(task.rel)
            self._count_one(task, future)
            self._done += 1
            if self.progress is not None:
                self.progress(self._done, count)
            if self._done % step == 0 and self._done < count:
                log.info("images progress %s", kv(done=self._done, total=count))
            yield task.rel

    def wait(self) -> TransferTotals:
        """Wait for every task still running; the totals of the whole batch."""
        for _rel in self.finished():
            pass
        return self.totals

    def _count_one(self, task: ImageTask, future: Future[tuple[Outcome, int, str | None]]) -> None:
        outcome, size, error = (
            (Outcome.FAILED, 0, "cancelled: svimaged is shutting down")
            if future.cancelled()  # the pool was shut down: svimaged is stopping
            else future.result()
        )
        totals = self.totals
        if outcome is Outcome.STORED:
            totals.stored.append(task.rel)
            totals.bytes += size
        elif outcome is Outcome.UNCHANGED:
            totals.unchanged += 1
        else:
            totals.failed += 1
            totals.errors[task.rel] = error or "failed"


def _wait(
    batch: Batch,
    jobs: Sequence[tuple[ImageTask, Action, ImageRow | None]],
    progress: Progress | None,
) -> TransferTotals:
    batch.add(jobs)
    batch.progress = progress
    return batch.wait()


def _downloads(task: ImageTask) -> bool:
    """True when the task is a download (not an import of a local file or a frame grab)."""
    return task.url is not None and task.local is None and not task.grab


def _done_meanwhile(task: ImageTask, planned: ImageRow | None, fresh: ImageRow | None) -> bool:
    """True when another worker stored this file from the same source after the plan."""
    if fresh is None or not fresh.cached or fresh.last_success is None:
        return False
    if not same_source(task, fresh):
        return False
    before = planned.last_success if planned is not None else None
    return before is None or fresh.last_success > before


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, SvimagedError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, InvalidImageError):
        return f"invalid image: {exc}"
    return str(exc)
