"""Rescans: which streamer folders changed since the state last saw them, without reading
any file. Each changed folder is handed to `enqueue` (the daemon's work queue).

A quick rescan stats only the folders (any file created, deleted or renamed in a folder
changes its mtime; atomic writes are renames); a full one stats every recording and
companion, which also sees files rewritten in place. The first rescan of a `Rescanner` and
then one a day are full.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from svimaged.core.clock import utc_iso
from svimaged.core.log import kv
from svimaged.library.scan import dir_mtime, list_streamer_folders, scan_tree
from svimaged.pipeline.changes import folder_changed
from svimaged.pipeline.resources import Resources

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]
#: A full (stat every file) rescan at least this often; the others stat folders only.
FULL_RESCAN_EVERY = 86400.0


class Rescanner:
    """Finds the streamer folders that changed."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self._full_done = False  # the first rescan stats every file

    def rescan(self, enqueue: Enqueue, *, full: bool | None = None) -> int:
        """Enqueue every streamer folder with a change (new, gone, changed); returns how
        many. `full=None`: full when none was done yet by this rescanner or a day passed."""
        if full is None:
            full = not self._full_done or self.full_due()
        count = self._full(enqueue) if full else self._quick(enqueue)
        mark_synced(self.res)
        return count

    def full_due(self) -> bool:
        """True when the last full comparison (every file stat-ed) is a day old or more."""
        last = float(self.res.state.meta.get("last_full_rescan") or 0)
        return self.res.clock.time() - last >= FULL_RESCAN_EVERY

    def quick_changes(self) -> tuple[list[str], int]:
        """The streamer folders a quick rescan finds changed (new, gone, with a moved
        folder, or with something left to look at), and how many folders there are. Only
        folders are stat-ed."""
        state, recordings = self.res.state, self.res.config.recordings
        names = set(list_streamer_folders(recordings))
        known = set(state.folders.names())
        look = state.folders.to_look_at()
        dirs = state.folders.dirs()
        changed = sorted(known - names)  # gone
        for name in sorted(names):
            stored = dirs.get(name)
            if name not in known or name in look or not stored or _moved(recordings, stored):
                changed.append(name)
        return changed, len(names)

    def _quick(self, enqueue: Enqueue) -> int:
        changed, total = self.quick_changes()
        for name in changed:
            enqueue(name)
        log.info("quick rescan done %s", kv(folders=total, changed=len(changed)))
        return len(changed)

    def _full(self, enqueue: Enqueue) -> int:
        state = self.res.state
        signatures = state.recordings.signatures()
        known = set(state.folders.names())
        count = 0
        seen: set[str] = set()
        for folder in scan_tree(self.res.config.recordings):
            seen.add(folder.name)
            row = state.folders.get(folder.name) if folder.name in known else None
            stored = signatures.get(folder.name, {})
            if row is None or folder_changed(folder, stored, row.sig):
                enqueue(folder.name)
                count += 1
        for name in sorted(known - seen):
            enqueue(name)
            count += 1
        self.mark_full()
        log.info("full rescan done %s", kv(folders=len(seen), changed=count))
        return count

    def mark_full(self) -> None:
        """Remember that every file was compared with the state just now."""
        self._full_done = True
        self.res.state.meta.set("last_full_rescan", repr(self.res.clock.time()))


def mark_synced(res: Resources) -> None:
    """Remember when the tree was last compared with the state (`last_sync` in stats)."""
    now = res.clock.time()
    res.state.meta.set("last_sync", utc_iso(now))
    res.state.meta.set("last_sync_epoch", repr(now))


def _moved(recordings: Path, stored: dict[str, int]) -> bool:
    """True when any remembered folder is gone or has another mtime."""
    return any(dir_mtime(recordings, rel) != mtime for rel, mtime in stored.items())
