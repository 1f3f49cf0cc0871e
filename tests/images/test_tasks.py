"""Tests for svimaged.images.tasks: decide() over every state a cache row can be in, reference()
(absolute path with path_map, https fallback, never relative), is_finished() boundaries."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from svimaged.core.model import ImageKind, ImageRow, Origin
from svimaged.images.tasks import Action, ImageTask, decide, same_source, task_from_row

NOW = 1_780_000_000.0
REFRESH = 604_800.0
URL = "https://static-cdn.jtvnw.net/jtv_user_pictures/1-profile_image-300x300.png"
OTHER_URL = "https://static-cdn.jtvnw.net/jtv_user_pictures/1-profile_image-NEW.png"
REL = "profiles/profile_avatar_1.jpg"
URL_TASK = ImageTask(REL, ImageKind.PROFILE, "1", url=URL)
THUMB = Path("/recordings/alice/Season 2026-11/alice - S202611E01 - x-thumb.jpg")
LOCAL_TASK = ImageTask(
    "artwork/1/stream_9.jpg",
    ImageKind.ARTWORK,
    "1/9",
    local=THUMB,
    local_stamp=ImageTask.stamp(1234, 1_770_000_000_000_000_000),
)


def row(**changes: object) -> ImageRow:
    """A cached row for URL_TASK, fetched 10 s ago, never failed; `changes` override."""
    base = ImageRow(
        rel=REL,
        kind=ImageKind.PROFILE,
        key="1",
        origin=Origin.URL,
        source=URL,
        etag='"abc"',
        last_modified=None,
        sha256="00" * 32,
        size=10,
        cached=True,
        last_success=NOW - 10,
        last_attempt=NOW - 10,
        failures=0,
        next_retry=None,
        last_error=None,
        error_status=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


FAILING_SOON = {"cached": False, "failures": 3, "next_retry": NOW + 30, "last_success": None}
FAILING_PAST = {"cached": False, "failures": 3, "next_retry": NOW - 1, "last_success": None}
STALE = {"last_success": NOW - REFRESH - 1}


@pytest.mark.parametrize(
    ("name", "task", "the_row", "present", "retry_now", "expected"),
    [
        ("no row", URL_TASK, None, False, False, Action.FETCH),
        ("no row but a file", URL_TASK, None, True, False, Action.FETCH),
        ("cached fresh", URL_TASK, row(), True, False, Action.SKIP),
        ("cached fresh, retry_now", URL_TASK, row(), True, True, Action.SKIP),
        (
            "cached at refresh edge",
            URL_TASK,
            row(last_success=NOW - REFRESH),
            True,
            False,
            Action.REVALIDATE,
        ),
        ("cached stale", URL_TASK, row(**STALE), True, False, Action.REVALIDATE),
        (
            "cached, never succeeded",
            URL_TASK,
            row(last_success=None),
            True,
            False,
            Action.REVALIDATE,
        ),
        ("cached but file missing", URL_TASK, row(), False, False, Action.FETCH),
        (
            "stale, refresh failing, retry later",
            URL_TASK,
            row(**STALE, failures=1, next_retry=NOW + 5),
            True,
            False,
            Action.SKIP,
        ),
        (
            "stale, refresh failing, retry_now",
            URL_TASK,
            row(**STALE, failures=1, next_retry=NOW + 5),
            True,
            True,
            Action.REVALIDATE,
        ),
        (
            "stale, refresh failing, retry due",
            URL_TASK,
            row(**STALE, failures=1, next_retry=NOW - 5),
            True,
            False,
            Action.REVALIDATE,
        ),
        ("failing, retry in the future", URL_TASK, row(**FAILING_SOON), False, False, Action.SKIP),
        (
            "failing, retry exactly now",
            URL_TASK,
            row(**{**FAILING_SOON, "next_retry": NOW}),
            False,
            False,
            Action.FETCH,
        ),
        ("failing, retry past", URL_TASK, row(**FAILING_PAST), False, False, Action.FETCH),
        ("failing, retry_failed_now", URL_TASK, row(**FAILING_SOON), False, True, Action.FETCH),
        (
            "failing, source changed",
            URL_TASK,
            row(**{**FAILING_SOON, "source": OTHER_URL}),
            False,
            False,
            Action.FETCH,
        ),
        (
            "cached fresh, source changed",
            URL_TASK,
            row(source=OTHER_URL),
            True,
            False,
            Action.FETCH,
        ),
        ("pending (uncached, no failure)", URL_TASK, row(cached=False), False, False, Action.FETCH),
        (
            "local unchanged",
            LOCAL_TASK,
            row(origin=Origin.LOCAL, source=LOCAL_TASK.location, etag=LOCAL_TASK.local_stamp),
            True,
            False,
            Action.SKIP,
        ),
        (
            "local unchanged, long ago",
            LOCAL_TASK,
            row(
                origin=Origin.LOCAL,
                source=LOCAL_TASK.location,
                etag=LOCAL_TASK.local_stamp,
                last_success=0.0,
            ),
            True,
            False,
            Action.SKIP,
        ),
        (
            "local changed",
            LOCAL_TASK,
            row(
                origin=Origin.LOCAL,
                source=LOCAL_TASK.location,
                etag=ImageTask.stamp(1234, 1_790_000_000_000_000_000),
            ),
            True,
            False,
            Action.FETCH,
        ),
        (
            "local, cache file missing",
            LOCAL_TASK,
            row(origin=Origin.LOCAL, source=LOCAL_TASK.location, etag=LOCAL_TASK.local_stamp),
            False,
            False,
            Action.FETCH,
        ),
        ("local replaces a downloaded image", LOCAL_TASK, row(), True, False, Action.FETCH),
        (
            "cached, new URL failing, retry later",
            URL_TASK,
            row(source=OTHER_URL, failures=1, next_retry=NOW + 30),
            True,
            False,
            Action.SKIP,
        ),
        (
            "cached, new URL failing, retry due",
            URL_TASK,
            row(source=OTHER_URL, failures=1, next_retry=NOW - 1),
            True,
            False,
            Action.FETCH,
        ),
        (
            "cached, new URL failing, retry_failed_now",
            URL_TASK,
            row(source=OTHER_URL, failures=1, next_retry=NOW + 30),
            True,
            True,
            Action.FETCH,
        ),
    ],
)
def test_decide(
    name: str,
    task: ImageTask,
    the_row: ImageRow | None,
    present: bool,
    retry_now: bool,
    expected: Action,
) -> None:
    got = decide(
        task,
        the_row,
        file_present=present,
        now=NOW,
        refresh_interval=REFRESH,
        retry_failed_now=retry_now,
    )
    assert got is expected, name


def test_task_origin_and_location_are_separate_facts() -> None:
    assert (URL_TASK.origin, URL_TASK.location) == (Origin.URL, URL)
    assert (LOCAL_TASK.origin, LOCAL_TASK.location) == (Origin.LOCAL, str(THUMB))
    grab = dataclasses.replace(LOCAL_TASK, grab=True)
    assert grab.origin is Origin.FRAME
    migrated = dataclasses.replace(LOCAL_TASK, migrated=True)
    assert migrated.origin is Origin.MIGRATED
    assert ImageTask(REL, ImageKind.PROFILE, "1").location is None
    assert ImageTask.stamp(1, 2) != ImageTask.stamp(1, 3)
    assert ImageTask.stamp(1, 2) != ImageTask.stamp(2, 2)


def test_same_source_needs_the_same_origin_and_location() -> None:
    assert same_source(URL_TASK, row())
    assert not same_source(URL_TASK, row(source=OTHER_URL))
    # a local file whose path happens to equal the URL text is another source
    assert not same_source(URL_TASK, row(origin=Origin.LOCAL))


def test_task_from_row_follows_the_origin() -> None:
    assert task_from_row(row()) == URL_TASK
    local = row(origin=Origin.LOCAL, source=str(THUMB))
    task = task_from_row(local, "stamp")
    assert task is not None and task.local == THUMB and task.local_stamp == "stamp"
    assert not task.grab
    frame = task_from_row(row(origin=Origin.FRAME, source="/r/a.mp4"), "s")
    assert frame is not None and frame.grab
    assert task_from_row(row(origin=Origin.MIGRATED, source="/old.jpg")) is None
    assert task_from_row(row(source=None)) is None
