"""Which of a server's items a rewritten file belongs to, so only those are refreshed. Pure.

Servers re-read a rewritten NFO or picture only when told to refresh its item (Jellyfin even
skips an NFO that is not a minute newer than its own last save of the item). A batch's
modified files are matched against the items the server listed, by path as the server sees
it:

- a file directly in the show folder (`tvshow.nfo`, `poster.jpg`) is the show's;
- `<folder>/<stem>.<ext>` is the episode whose video is `<folder>/<stem>.<any ext>`
  (the episode NFO `X.nfo`, Plex's and Emby's `X.jpg`);
- a season file (`season.nfo`, `cover.jpg`, `season<N>.jpg`, `poster.jpg`, `folder.jpg`)
  in a folder the server knows as a season is that season's.

A batch that overflowed, or more than `limit` items, become one deep refresh of the show
(the show with everything below it).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from svimaged.notify.changes import FolderBatch, parent_of, stem_of

#: Item refreshes per show folder and batch; above this the show is refreshed as a whole.
MAX_REFRESHES = 50
#: The names of a season folder's own files (svimaged's and the servers' usual ones).
_SEASON_FILE = re.compile(r"(season[0-9]*|cover|poster|folder)\.(nfo|jpe?g|png)", re.IGNORECASE)


class ItemKind(StrEnum):
    """What an item of a media server's library is."""

    SHOW = "show"
    SEASON = "season"
    EPISODE = "episode"


@dataclass(frozen=True, slots=True)
class Item:
    """One library item as the server lists it: its id and its path (a folder for shows
    and seasons, the video file for an episode)."""

    id: str
    path: str
    kind: ItemKind


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    """The items to refresh, and the modified files no known item owns (the server has
    not read them yet: a scan, not a refresh, brings them in). `deep`: the show is refreshed
    with everything below it instead of item by item."""

    refresh: tuple[Item, ...] = ()
    unmatched: tuple[str, ...] = ()
    deep: bool = False


def needs_children(batch: FolderBatch) -> bool:
    """True when matching the batch needs the show's seasons and episodes: files below the
    show folder were rewritten (and the batch did not overflow: then the whole show is
    refreshed anyway)."""
    return not batch.overflow and any(parent_of(p) != batch.show for p in batch.modified)


def plan_refresh(
    batch: FolderBatch,
    show: Item | None,
    children: Sequence[Item],
    *,
    limit: int = MAX_REFRESHES,
) -> RefreshPlan:
    """The refreshes a batch's modified files need, given the show item (None when the
    server does not know the show) and its seasons and episodes."""
    if show is None:
        return RefreshPlan(unmatched=tuple(sorted(batch.modified)))
    if batch.overflow:
        return RefreshPlan((show,), deep=True)
    episodes = {stem_of(i.path): i for i in children if i.kind is ItemKind.EPISODE}
    seasons = {i.path.rstrip("/"): i for i in children if i.kind is ItemKind.SEASON}
    found: dict[str, Item] = {}
    unmatched: list[str] = []
    for path in sorted(batch.modified):
        if parent_of(path) == batch.show:
            found.setdefault(show.id, show)
            continue
        item = episodes.get(stem_of(path))
        if item is None and _SEASON_FILE.fullmatch(posixpath.basename(path)):
            item = seasons.get(parent_of(path))
        if item is None:
            unmatched.append(path)
        else:
            found.setdefault(item.id, item)
    if len(found) > limit:
        return RefreshPlan((show,), tuple(unmatched), deep=True)
    return RefreshPlan(tuple(found.values()), tuple(unmatched))
