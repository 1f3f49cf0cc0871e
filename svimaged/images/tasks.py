"""Pure decisions of a pass: what an image task is, whether it needs a transfer, what an NFO
references, whether a recording is finished. No I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from svimaged.core.model import ImageKind
from svimaged.core.names import map_path
from svimaged.nfo.model import SeasonThumb
from svimaged.state import ImageRow

LOCAL_SOURCE_PREFIX = "local:"
FRAME_SOURCE_PREFIX = "frame:"
#: Images imported by `svimaged migrate`: the next pass that knows the real source replaces
#: them; they are never "refreshed" from this provenance.
MIGRATED_SOURCE_PREFIX = "migrated:"


class Action(StrEnum):
    """What to do about one image task."""

    SKIP = "skip"  # cached and fresh, or waiting for its retry time
    FETCH = "fetch"  # unconditional download (or import of a local file)
    REVALIDATE = "revalidate"  # conditional GET with the stored validators


@dataclass(frozen=True, slots=True)
class ImageTask:
    """One file under `.images` and where its bytes come from (a URL or a local file)."""

    rel: str
    kind: ImageKind
    key: str
    url: str | None = None
    local: Path | None = None
    local_stamp: str | None = None  # size and mtime of the local file when planned
    grab: bool = False  # `local` is a video: grab a frame with ffmpeg

    @staticmethod
    def stamp(size: int, mtime_ns: int) -> str:
        """The validator of a local source file, stored like an ETag."""
        return f"local-{size}-{mtime_ns}"

    @property
    def source(self) -> str | None:
        """The provenance stored in the state: the URL, or `local:<path>`."""
        if self.local is not None:
            prefix = FRAME_SOURCE_PREFIX if self.grab else LOCAL_SOURCE_PREFIX
            return f"{prefix}{self.local}"
        return self.url


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
    changed). A
    failing task waits for its `next_retry` unless `retry_failed_now`.
    """
    if row is None:
        return Action.FETCH
    same_source = row.source_url == task.source
    if row.cached and file_present and same_source:
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
        and (same_source or row.cached)
        and row.next_retry is not None
        and row.next_retry > now
        and not retry_failed_now
    ):
        return Action.SKIP
    return Action.FETCH


def reference(
    images_root: Path,
    rel: str | None,
    cached: bool,
    original_url: str | None,
    path_map: Sequence[tuple[str, str]],
) -> str | None:
    """What an NFO points at: the cached file's absolute path as the media server sees it
    (first matching `path_map` prefix rewritten), else the original https URL, else None.
    Relative paths and `file://` URLs are never produced."""
    if rel is not None and cached:
        return map_path(str(images_root / rel), path_map)
    if original_url is not None and original_url.lower().startswith("https://"):
        return original_url
    return None


def is_finished(mtime_ns: int, now: float, settle_seconds: float) -> bool:
    """A recording is finished when it has not changed for `settle_seconds`."""
    return now - mtime_ns / 1e9 >= settle_seconds


def season_thumbs(
    seasons: Mapping[int, Sequence[str | None]],
    mode: str,
    poster: str | None,
    category_ref: Callable[[str], str | None],
) -> tuple[SeasonThumb, ...]:
    """Season art for tvshow.nfo (SPEC 3.2): one poster per season, `profile` (the show
    poster), `category` (the box art of the season's most used category, else the show
    poster) or `none`. `seasons` maps each season number to its recordings' categories."""
    if mode == "none":
        return ()
    thumbs: list[SeasonThumb] = []
    for season in sorted(seasons):
        ref = poster
        if mode == "category":
            used = Counter(name for name in seasons[season] if name)
            for name, _count in used.most_common():
                ref = category_ref(name) or ref
                break
        if ref is not None:
            thumbs.append(SeasonThumb(season=season, ref=ref))
    return tuple(thumbs)
