"""What changed, per show folder, as one media server sees the paths. Pure: no I/O.

A pass reports the files it wrote: NFOs it created, NFOs it rewrote and image files it
placed. `folder_batches` groups them by show folder (the streamer folder right below
`recordings`) and maps every path through the server's `path_map`, so one batch becomes one
notification of one server. A file outside a streamer folder is not any show's and is left
out.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from svimaged.nfo.refs import map_path

#: Changed files kept per show folder and batch; beyond this the batch stands for the whole
#: show (the server refreshes the show instead of item by item).
MAX_FILES = 1000


class Update(StrEnum):
    """What happened in a show folder, in Jellyfin's and Emby's words (`UpdateType`)."""

    CREATED = "Created"  # a new NFO: a recording (or a show) the server has not read yet
    MODIFIED = "Modified"  # only rewritten NFOs and image files


@dataclass(frozen=True, slots=True)
class FolderBatch:
    """The changes of one show folder for one server. Every path is as the server sees it
    (mapped), without a trailing `/`."""

    show: str
    created: frozenset[str] = frozenset()  # NFOs that did not exist before
    modified: frozenset[str] = frozenset()  # rewritten NFOs and placed image files
    overflow: bool = False  # more than MAX_FILES changes: refresh the whole show

    @property
    def update(self) -> Update:
        """`Created` when the batch holds a new NFO, else `Modified`."""
        return Update.CREATED if self.created else Update.MODIFIED

    def merged(self, later: FolderBatch) -> FolderBatch:
        """This batch with a later one of the same show folder folded in. A file created
        and then rewritten before the server heard of it stays created."""
        created = self.created | later.created
        modified = (self.modified | later.modified) - created
        overflow = self.overflow or later.overflow or len(created) + len(modified) > MAX_FILES
        if overflow:
            created, modified = frozenset(sorted(created)[:MAX_FILES]), frozenset()
        return FolderBatch(self.show, created, modified, overflow)


def is_within(path: str, folder: str) -> bool:
    """True when `path` is `folder` or below it, compared by whole components (`/a/b` is
    within `/a`, `/ab` is not); trailing slashes do not matter."""
    path, folder = path.rstrip("/"), folder.rstrip("/")
    return path == folder or path.startswith(folder + "/")


def parent_of(path: str) -> str:
    """The folder holding `path` (also for `smb://host/share/...` paths)."""
    return posixpath.dirname(path.rstrip("/"))


def stem_of(path: str) -> str:
    """`path` without its last suffix: `/a/b/x - S1E2.nfo` -> `/a/b/x - S1E2`."""
    return posixpath.splitext(path.rstrip("/"))[0]


def show_folder(path: str, recordings: str) -> str | None:
    """The streamer folder (`<recordings>/<name>`) that holds `path`, or None for a path
    that is not below one."""
    root, pure = PurePosixPath(recordings), PurePosixPath(path)
    if root not in pure.parents:
        return None
    parts = pure.relative_to(root).parts
    if len(parts) < 2:
        return None  # the root itself or a file directly in it: no show's
    return str(root / parts[0])


def folder_batches(
    created: Iterable[str],
    modified: Iterable[str],
    recordings: str,
    path_map: Sequence[tuple[str, str]],
) -> dict[str, FolderBatch]:
    """The changes grouped by show folder, each path mapped through `path_map`; keyed by
    the mapped show folder. A path in both `created` and `modified` counts as created."""
    new: dict[str, set[str]] = {}
    old: dict[str, set[str]] = {}
    for paths, into in ((created, new), (modified, old)):
        for path in paths:
            show = show_folder(path, recordings)
            if show is not None:
                into.setdefault(show, set()).add(map_path(path, path_map))
    batches: dict[str, FolderBatch] = {}
    for show in sorted(new.keys() | old.keys()):
        mapped = map_path(show, path_map).rstrip("/")
        fresh = frozenset(new.get(show, ()))
        batch = FolderBatch(mapped).merged(
            FolderBatch(mapped, fresh, frozenset(old.get(show, ())) - fresh)
        )
        batches[mapped] = batch
    return batches
