"""Season and episode numbers for recordings whose names and NFOs give none (ganymede,
LiveStreamDVR, twitch-archiver, streamlink recorders, yt-dlp trees). Pure.

The season is the year and month the recording started (`202611`), in the configured time
zone; the episode is its place among that show's recordings of that month, by start time
(then path), counting from 1 and skipping the numbers recordings with their own numbers (a
`SxxEyy` name, an NFO someone else numbered) hold in that season. A recording whose start time
no source gives is placed by its file's modification time.

Numbers follow the order, so a recording that turns up later with an earlier start time moves
the ones after it up by one (their NFOs are written again); Jellyfin and Kodi know episodes by
their files, so watched state and the like stay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple


class Dated(NamedTuple):
    """One recording of a show as numbering sees it (a named tuple: one per recording of
    every folder a pass reads)."""

    rel: str
    started_at: float | None  # epoch seconds, when a source gave it
    mtime: float  # the video's modification time, epoch seconds
    own: tuple[int, int] | None = None  # (season, episode) it has from a name or NFO

    @property
    def when(self) -> float:
        """The moment that places it: its start, else its file's modification time."""
        return self.started_at if self.started_at is not None else self.mtime


def season_of(moment: float, tz: tzinfo | None) -> int:
    """`YYYYMM` of the epoch time `moment` in `tz` (None: the host's local time)."""
    when = datetime.fromtimestamp(moment, tz=UTC)
    local = when.astimezone(tz) if tz is not None else when.astimezone()
    return local.year * 100 + local.month


def number(recordings: Iterable[Dated], tz: tzinfo | None) -> dict[str, tuple[int, int]]:
    """(season, episode) for every recording without numbers of its own, by path."""
    taken: dict[int, set[int]] = defaultdict(set)
    open_: dict[int, list[Dated]] = defaultdict(list)
    for rec in recordings:
        if rec.own is not None:
            taken[rec.own[0]].add(rec.own[1])
        else:
            open_[season_of(rec.when, tz)].append(rec)
    numbers: dict[str, tuple[int, int]] = {}
    for season, members in open_.items():
        episode = 0
        for rec in sorted(members, key=lambda r: (r.when, r.rel)):
            episode += 1
            while episode in taken[season]:
                episode += 1
            numbers[rec.rel] = (season, episode)
    return numbers
