"""Image tasks: one file under `.images`, where its bytes come from, and whether it needs a
transfer now. Pure: no I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from svimaged.core.model import ImageKind, ImageRow, Origin


class Action(StrEnum):
    """What to do about one image task."""

    SKIP = "skip"  # cached and fresh, or waiting for its retry time
    FETCH = "fetch"  # unconditional download (or import of a local file)
    REVALIDATE = "revalidate"  # conditional GET with the stored validators


@dataclass(frozen=True, slots=True)
class ImageTask:
    """One file under `.images` and where its bytes come from: a URL, a local image file, or
    (`grab`) a video to take a frame from. `origin` overrides what those imply (migrate)."""

    rel: str
    kind: ImageKind
    key: str
    url: str | None = None
    local: Path | None = None
    local_stamp: str | None = None  # size and mtime of the local file when planned
    grab: bool = False  # `local` is a video: grab a frame with ffmpeg
    migrated: bool = False  # imported by `svimaged migrate` from `local`

    @staticmethod
    def stamp(size: int, mtime_ns: int) -> str:
        """The validator of a local source file, stored like an ETag."""
        return f"local-{size}-{mtime_ns}"

    @property
    def origin(self) -> Origin:
        """Where the bytes come from, as the state records it."""
        if self.migrated:
            return Origin.MIGRATED
        if self.local is not None:
            return Origin.FRAME if self.grab else Origin.LOCAL
        return Origin.URL

    @property
    def location(self) -> str | None:
        """The URL, or the local file's path, as the state records it."""
        return str(self.local) if self.local is not None else self.url


def same_source(task: ImageTask, row: ImageRow) -> bool:
    """True when the state row's file came from exactly where `task` takes its bytes."""
    return row.origin is task.origin and row.source == task.location


def decide(
    task: ImageTask,
    row: ImageRow | None,
    *,
    file_present: bool,
    now: float,
    refresh_interval: float,
    retry_failed_now: bool = False,
) -> Action:
    """Whether `task` needs a transfer, given the state row and whether the file exists.

    A cached file from the same source is fresh for `refresh_interval` seconds, then
    revalidated with a conditional GET (local files: re-imported when their size or mtime
    changed). A failing task waits for its `next_retry` unless `retry_failed_now`.
    """
    if row is None:
        return Action.FETCH
    same = same_source(task, row)
    if row.cached and file_present and same:
        if task.local is not None:
            return Action.SKIP if row.etag == task.local_stamp else Action.FETCH
        if row.last_success is not None and now - row.last_success < refresh_interval:
            return Action.SKIP
        if row.failures and row.next_retry is not None and row.next_retry > now:
            return Action.SKIP if not retry_failed_now else Action.REVALIDATE
        return Action.REVALIDATE
    # A cached row keeps its file's source, so a failure for a new URL waits here too.
    if (
        row.failures
        and (same or row.cached)
        and row.next_retry is not None
        and row.next_retry > now
        and not retry_failed_now
    ):
        return Action.SKIP
    return Action.FETCH


def task_from_row(row: ImageRow, local_stamp: str | None = None) -> ImageTask | None:
    """The task that refreshes a state row from where its file came from; None for a
    migrated file (replaced when a pass learns its real source) or a row without a source.
    `local_stamp` is the current validator of a local source (the caller stats it)."""
    if not row.source or row.origin is Origin.MIGRATED:
        return None
    if row.origin is Origin.URL:
        return ImageTask(row.rel, row.kind, row.key, url=row.source)
    grab = row.origin is Origin.FRAME
    return ImageTask(
        row.rel, row.kind, row.key, local=Path(row.source), local_stamp=local_stamp, grab=grab
    )


def task_keeping(row: ImageRow) -> ImageTask | None:
    """The task that keeps a cached file as it is, from where it came from (a migrated file
    included: it is neither refreshed nor fetched again), for an image the pass knows only
    from the state (a category without Twitch credentials, say). None when not cached."""
    if not row.cached or not row.source:
        return None
    if row.origin is Origin.MIGRATED:
        local = Path(row.source)
        return ImageTask(
            row.rel, row.kind, row.key, local=local, local_stamp=row.etag, migrated=True
        )
    return task_from_row(row, row.etag if row.origin is not Origin.URL else None)
