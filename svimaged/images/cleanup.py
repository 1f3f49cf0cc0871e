"""Orphan cleanup of the image cache (contract section 7).

`list_cache` lists `.images` without following links; `decide` is pure: given the files and
the set of paths something still references, it says what to delete and what to report.
Only files whose names the daemon itself gives (the contract's patterns) and the daemon's own
leftover temporary files are ever deleted; anything else is reported, never touched.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from svimaged.core.atomic import folder_at
from svimaged.core.names import (
    ARTWORK_DIR,
    ARTWORK_NAME,
    BACKDROP_NAME,
    BACKDROPS_DIR,
    CATEGORIES_DIR,
    CATEGORY_NAME,
    PROFILE_NAME,
    PROFILES_DIR,
    TEMP_NAME,
    is_safe_id,
)

#: A temporary file younger than this may belong to a write in progress.
TEMP_GRACE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class CacheFile:
    """One entry found below `.images` (relative path, POSIX separators)."""

    rel: str
    size: int
    mtime: float
    regular: bool  # False for links, sockets, FIFOs...


@dataclass(slots=True)
class CleanupPlan:
    """What a cleanup deletes (by kind) and what it only reports."""

    profiles: list[CacheFile] = field(default_factory=list)
    categories: list[CacheFile] = field(default_factory=list)
    artwork: list[CacheFile] = field(default_factory=list)
    backdrops: list[CacheFile] = field(default_factory=list)
    temporary: list[CacheFile] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    kept: int = 0

    @property
    def deletions(self) -> list[CacheFile]:
        """Every file to delete."""
        return self.profiles + self.categories + self.artwork + self.backdrops + self.temporary


def kind_of(rel: str) -> str | None:
    """`profile`, `category`, `artwork` or `backdrop` for a path the daemon names, else
    None."""
    parts = rel.split("/")
    if len(parts) == 2 and parts[0] == PROFILES_DIR and PROFILE_NAME.fullmatch(parts[1]):
        return "profile"
    if len(parts) == 2 and parts[0] == BACKDROPS_DIR and BACKDROP_NAME.fullmatch(parts[1]):
        return "backdrop"
    if len(parts) == 2 and parts[0] == CATEGORIES_DIR and CATEGORY_NAME.fullmatch(parts[1]):
        return "category"
    if (
        len(parts) == 3
        and parts[0] == ARTWORK_DIR
        and parts[1].isascii()
        and parts[1].isdigit()  # a Twitch user id; StreamVault's `streamer_<id>` is not ours
        and is_safe_id(parts[1])
        and ARTWORK_NAME.fullmatch(parts[2])
    ):
        return "artwork"
    return None


def decide(
    files: list[CacheFile],
    referenced: set[str],
    *,
    created: set[str],
    now: float,
    temp_grace: float = TEMP_GRACE_SECONDS,
) -> CleanupPlan:
    """Sort the cache's files: delete the daemon's own files (a cache name AND a record that
    the daemon stored it, in `created`) that nobody references, and its old temporary files;
    keep the referenced ones; report everything else as foreign (a file with a cache name but
    no record, e.g. copied in by hand or left by another tool, is never deleted)."""
    plan = CleanupPlan()
    for item in files:
        name = item.rel.rsplit("/", 1)[-1]
        if not item.regular:
            plan.foreign.append(item.rel)
        elif TEMP_NAME.fullmatch(name):
            if now - item.mtime >= temp_grace:
                plan.temporary.append(item)
            else:
                plan.kept += 1
        elif (kind := kind_of(item.rel)) is None or item.rel not in created:
            plan.foreign.append(item.rel)
        elif item.rel in referenced:
            plan.kept += 1
        else:
            by_kind = {
                "profile": plan.profiles,
                "category": plan.categories,
                "artwork": plan.artwork,
                "backdrop": plan.backdrops,
            }
            by_kind[kind].append(item)
    return plan


def list_cache(root: Path) -> list[CacheFile]:
    """Every entry below `root` (links are listed, never followed), sorted by path."""
    found: list[CacheFile] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = os.path.relpath(entry.path, root).replace(os.sep, "/")
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                pending.append(Path(entry.path))
            else:
                found.append(
                    CacheFile(rel, info.st_size, info.st_mtime, stat.S_ISREG(info.st_mode))
                )
    return sorted(found, key=lambda f: f.rel)


def remove_empty_folders(root: Path) -> None:
    """Remove empty `artwork/<user_id>` folders (never the kind folders themselves), reached
    from the recordings folder without following links."""
    try:
        with folder_at(root.parent, root / ARTWORK_DIR) as artwork:
            for entry in list(os.scandir(artwork)):
                if entry.is_dir(follow_symlinks=False):
                    with contextlib.suppress(OSError):  # not empty: leave it
                        os.rmdir(entry.name, dir_fd=artwork)
    except OSError:
        return


def tree_temp_files(
    recordings: Path, *, now: float, temp_grace: float = TEMP_GRACE_SECONDS
) -> list[Path]:
    """The daemon's leftover temporary files in the recordings tree (an NFO or sidecar write
    cut short by a crash), older than `temp_grace`. Dot-folders and links are not entered."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(recordings, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not TEMP_NAME.fullmatch(name):
                continue
            path = Path(folder) / name
            with contextlib.suppress(OSError):
                info = path.lstat()
                if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= temp_grace:
                    found.append(path)
    return sorted(found)
