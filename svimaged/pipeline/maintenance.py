"""Image maintenance from the state's image rows: retry failed downloads whose backoff has
passed, revalidate cached images older than `refresh_interval` (conditional GETs), fetch
again cached files that vanished from disk; then hand the folders whose NFOs or sidecars
should follow to `enqueue`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from svimaged.core.log import kv
from svimaged.core.model import ImageKind, ImageRow, Origin
from svimaged.images.tasks import Action, ImageTask, task_from_row
from svimaged.images.transfer import Progress
from svimaged.library.scan import file_sig
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.resources import Resources

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]


class ImageMaintenance:
    """Retries and refreshes, one batch at a time."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self._batch = threading.Lock()  # one maintenance batch at a time

    def retry_due(
        self, enqueue: Enqueue, *, everything: bool = False, progress: Progress | None = None
    ) -> PassSummary:
        """Retry failed images whose retry time has come (`everything`: all failed ones),
        then enqueue the folders whose NFOs can now point at the cached files."""
        rows = self.res.state.images.due(self.res.clock.time(), include_waiting=everything)
        summary = self._run(rows, progress)
        self._reopen_folders(summary, enqueue)
        return summary

    def refresh_stale(self, enqueue: Enqueue, progress: Progress | None = None) -> PassSummary:
        """Revalidate cached images older than `refresh_interval` (conditional GETs) and
        fetch again the cached files that vanished from disk."""
        state, store = self.res.state, self.res.store
        gone = [row for row in state.images.all() if row.cached and not store.exists(row.rel)]
        for row in gone:
            log.warning("cached image missing on disk %s", kv(rel=row.rel))
            state.images.mark_uncached(row.rel)
        missing = {row.rel for row in gone}
        refetch = [replace(row, cached=False, etag=None, last_modified=None) for row in gone]
        older_than = self.res.clock.time() - self.res.config.refresh_interval
        stale = [r for r in state.images.stale(older_than) if r.rel not in missing]
        summary = self._run(refetch + stale, progress)
        if self.res.config.nfo.sidecars != "none":
            self._reopen_folders(summary, enqueue)  # changed images: sidecars follow
        return summary

    def _run(self, rows: Iterable[ImageRow], progress: Progress | None) -> PassSummary:
        jobs: list[tuple[ImageTask, Action, ImageRow | None]] = []
        for row in rows:
            task = _task_for(row)
            if task is None:
                continue
            if task.local is not None and row.cached and row.etag == task.local_stamp:
                continue  # a local source that did not change needs no re-import
            revalidate = row.cached and task.local is None
            jobs.append((task, Action.REVALIDATE if revalidate else Action.FETCH, row))
        summary = PassSummary()
        if not jobs:
            return summary
        with self._batch:
            totals = self.res.transferer().run(jobs, progress)
        summary.cached.extend(str(self.res.store.root / rel) for rel in totals.stored)
        summary.refreshed = totals.unchanged
        summary.failed = totals.failed
        summary.bytes_downloaded = totals.bytes
        return summary

    def _reopen_folders(self, summary: PassSummary, enqueue: Enqueue) -> None:
        """Mark the recordings using each newly stored image as changed; enqueue folders."""
        root = f"{self.res.store.root}/"
        users: set[str] = set()
        categories: set[str] = set()
        for path in summary.cached:
            row = self.res.state.images.get(path.removeprefix(root))
            if row is None:
                continue
            if row.kind is ImageKind.CATEGORY:
                categories.add(row.key)
            else:
                users.add(row.key.split("/", 1)[0])
        if users or categories:
            for folder in sorted(
                self.res.state.recordings.invalidate(user_ids=users, categories=categories)
            ):
                enqueue(folder)


def _task_for(row: ImageRow) -> ImageTask | None:
    """The refresh task of a row; a local source that is gone gets none (the folder's pass
    decides what replaces it)."""
    if row.origin in (Origin.LOCAL, Origin.FRAME) and row.source:
        stamp = local_stamp(row.source)
        return None if stamp is None else task_from_row(row, stamp)
    return task_from_row(row)


def local_stamp(path: str) -> str | None:
    """The local-file validator of `path` (size and mtime), None when it is gone."""
    sig = file_sig(Path(path))
    if sig == "-":
        return None
    mtime, size = sig.split(".")
    return ImageTask.stamp(int(size), int(mtime))
