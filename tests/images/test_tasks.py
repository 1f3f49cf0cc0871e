"""Tests for svimaged.images.tasks: decide() over every state a cache row can be in, reference()
(absolute path with path_map, https fallback, never relative), is_finished() boundaries."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svimaged.core.model import ImageKind
from svimaged.images.tasks import Action, ImageTask, decide, is_finished, reference
from svimaged.state import ImageRow

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
        source_url=URL,
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
            row(**{**FAILING_SOON, "source_url": OTHER_URL}),
            False,
            False,
            Action.FETCH,
        ),
        (
            "cached fresh, source changed",
            URL_TASK,
            row(source_url=OTHER_URL),
            True,
            False,
            Action.FETCH,
        ),
        ("pending (uncached, no failure)", URL_TASK, row(cached=False), False, False, Action.FETCH),
        (
            "local unchanged",
            LOCAL_TASK,
            row(source_url=LOCAL_TASK.source, etag=LOCAL_TASK.local_stamp),
            True,
            False,
            Action.SKIP,
        ),
        (
            "local unchanged, long ago",
            LOCAL_TASK,
            row(source_url=LOCAL_TASK.source, etag=LOCAL_TASK.local_stamp, last_success=0.0),
            True,
            False,
            Action.SKIP,
        ),
        (
            "local changed",
            LOCAL_TASK,
            row(
                source_url=LOCAL_TASK.source, etag=ImageTask.stamp(1234, 1_790_000_000_000_000_000)
            ),
            True,
            False,
            Action.FETCH,
        ),
        (
            "local, cache file missing",
            LOCAL_TASK,
            row(source_url=LOCAL_TASK.source, etag=LOCAL_TASK.local_stamp),
            False,
            False,
            Action.FETCH,
        ),
        ("local replaces a downloaded image", LOCAL_TASK, row(), True, False, Action.FETCH),
        (
            "cached, new URL failing, retry later",
            URL_TASK,
            row(source_url=OTHER_URL, failures=1, next_retry=NOW + 30),
            True,
            False,
            Action.SKIP,
        ),
        (
            "cached, new URL failing, retry due",
            URL_TASK,
            row(source_url=OTHER_URL, failures=1, next_retry=NOW - 1),
            True,
            False,
            Action.FETCH,
        ),
        (
            "cached, new URL failing, retry_failed_now",
            URL_TASK,
            row(source_url=OTHER_URL, failures=1, next_retry=NOW + 30),
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


def test_task_source_is_url_or_local_marker() -> None:
    assert URL_TASK.source == URL
    assert LOCAL_TASK.source == f"local:{THUMB}"
    assert ImageTask(REL, ImageKind.PROFILE, "1").source is None
    assert ImageTask.stamp(1, 2) != ImageTask.stamp(1, 3)
    assert ImageTask.stamp(1, 2) != ImageTask.stamp(2, 2)


# -- reference ---------------------------------------------------------------------------

ROOT = Path("/recordings/.images")


def test_reference_cached_is_absolute_path() -> None:
    assert reference(ROOT, REL, True, URL, ()) == "/recordings/.images/" + REL


def test_reference_applies_path_map() -> None:
    mapped = reference(ROOT, REL, True, URL, [("/recordings", "/data/tv")])
    assert mapped == "/data/tv/.images/" + REL


def test_reference_path_map_is_component_aware() -> None:
    root = Path("/recordings2/.images")
    assert reference(root, REL, True, URL, [("/recordings", "/data/tv")]) == (
        "/recordings2/.images/" + REL
    )


def test_reference_first_matching_map_wins() -> None:
    rules = [("/elsewhere", "/x"), ("/recordings/.images", "/img"), ("/recordings", "/data")]
    assert reference(ROOT, REL, True, URL, rules) == "/img/" + REL


def test_reference_trailing_slash_in_map() -> None:
    assert reference(ROOT, REL, True, None, [("/recordings/", "/data/tv/")]) == (
        "/data/tv/.images/" + REL
    )


@pytest.mark.parametrize("url", [URL, "HTTPS://static-cdn.jtvnw.net/a.png"])
def test_reference_uncached_uses_https_url(url: str) -> None:
    assert reference(ROOT, REL, False, url, [("/recordings", "/data")]) == url
    assert reference(ROOT, None, True, url, ()) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://static-cdn.jtvnw.net/a.png",
        "file:///recordings/.images/profiles/profile_avatar_1.jpg",
        "profiles/profile_avatar_1.jpg",
        "//static-cdn.jtvnw.net/a.png",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_reference_never_relative_or_insecure(url: str | None) -> None:
    assert reference(ROOT, REL, False, url, ()) is None


_component = st.text(
    alphabet=st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))
_abs_path = st.lists(_component, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(
    root=_abs_path,
    rules=st.lists(st.tuples(_abs_path, _abs_path), max_size=3),
    cached=st.booleans(),
    url=st.sampled_from([URL, "http://x/y.png", None]),
)
def test_reference_is_always_absolute_or_https(
    root: str, rules: list[tuple[str, str]], cached: bool, url: str | None
) -> None:
    got = reference(Path(root), REL, cached, url, rules)
    if cached:
        assert got is not None and PurePosixPath(got).is_absolute()
        assert got.endswith("/" + REL)
    else:
        assert got == (URL if url == URL else None)


# -- is_finished --------------------------------------------------------------------------


def test_is_finished_boundaries() -> None:
    settle = 5.0
    edge_ns = int(NOW - settle) * 1_000_000_000
    assert is_finished(edge_ns, NOW, settle) is True
    assert is_finished(edge_ns - 1_000_000_000, NOW, settle) is True
    assert is_finished(edge_ns + 1_000_000, NOW, settle) is False  # 1 ms too young
    assert is_finished(int(NOW) * 1_000_000_000, NOW, settle) is False
    assert is_finished(int(NOW + 3600) * 1_000_000_000, NOW, settle) is False  # future mtime
    assert is_finished(int(NOW) * 1_000_000_000, NOW, 0.0) is True
