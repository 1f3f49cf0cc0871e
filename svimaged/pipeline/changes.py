"""Processing by change: which streamer folders and recordings differ from what the state
remembers (stat signatures, no file read), and one pass over exactly those.

`process_folder` is what a daemon worker does for one folder: list it (names and `lstat`
only), compare each recording's signature with the state and pass over what changed, so an
event costs one listing when nothing changed (for instance an event caused by the daemon's own
NFO write, whose new signature is already stored). `full_pass` does the same over the whole
tree (`run --once`, sync).
"""

from __future__ import annotations

import logging
from pathlib import Path

from svimaged.core.errors import MetadataError
from svimaged.core.log import kv
from svimaged.core.model import StreamerFolder
from svimaged.images.transfer import Progress
from svimaged.library.scan import scan_streamer, scan_tree
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.passes import Pass
from svimaged.pipeline.resources import Resources

log = logging.getLogger(__name__)


def changed_recordings(folder: StreamerFolder, stored: dict[str, str | None]) -> set[str]:
    """Paths of the recordings whose signature differs from the stored one (new ones too)."""
    return {rec.rel for rec in folder.recordings if stored.get(rec.rel) != rec.signature}


def folder_changed(
    folder: StreamerFolder, stored: dict[str, str | None], tvshow_sig: str | None
) -> bool:
    """True when anything in the folder differs from what the state remembers."""
    if tvshow_sig != folder.tvshow_sig:
        return True
    if len(stored) != len(folder.recordings):
        return True
    return bool(changed_recordings(folder, stored))


class ChangeProcessor:
    """Passes over what changed, one folder or the whole tree."""

    def __init__(self, res: Resources) -> None:
        self.res = res

    def is_known(self, folder: str) -> bool:
        """True when the state has processed this streamer folder before."""
        return self.res.state.folders.get(folder) is not None

    def process_folder(self, name: str) -> PassSummary:
        """Bring one streamer folder up to date; a folder that is gone is forgotten."""
        state, recordings = self.res.state, self.res.config.recordings
        unreadable: list[Path] = []
        try:
            folder = scan_streamer(recordings, name, on_error=unreadable.append)
        except MetadataError as exc:
            if not (recordings / name).exists() and self.is_known(name):
                log.info("streamer folder gone %s", kv(folder=name))
                state.folders.forget(name)
            else:
                log.warning("streamer folder skipped %s", kv(folder=name, error=str(exc)))
            return PassSummary()
        stored = state.recordings.signatures(name).get(name, {})
        known = state.folders.get(name)
        if known is not None and not folder_changed(folder, stored, known.sig):
            if not unreadable and not state.folders.has_dirs(name):
                state.folders.set_dirs(name, folder.dirs)  # quick rescans can skip it now
            return PassSummary()
        one = Pass(self.res)
        one.unreadable.extend(unreadable)  # their recordings stay in the state
        summary = one.run(folders=[folder], dirty={name: changed_recordings(folder, stored)})
        summary.incomplete_scan = summary.incomplete_scan or bool(unreadable)
        return summary

    def quick_pass(
        self, names: list[str], total: int, *, retry_failed_now: bool = False,
        progress: Progress | None = None,
    ) -> PassSummary:  # fmt: skip
        """One pass over the streamer folders `names` (a quick rescan's changes: only they
        are listed, the others are not even stat-ed beyond their folders); folders that are
        gone are forgotten. `total` is how many streamer folders the tree has."""
        state, recordings = self.res.state, self.res.config.recordings
        unreadable: list[Path] = []
        folders: list[StreamerFolder] = []
        for name in names:
            try:
                folders.append(scan_streamer(recordings, name, on_error=unreadable.append))
            except MetadataError as exc:
                if not (recordings / name).exists():
                    state.folders.forget(name)
                else:
                    log.warning("streamer folder skipped %s", kv(folder=name, error=str(exc)))
                    unreadable.append(recordings / name)
        signatures = {f.name: state.recordings.signatures(f.name).get(f.name, {}) for f in folders}
        dirty = {f.name: changed_recordings(f, signatures[f.name]) for f in folders}
        one = Pass(self.res, retry_failed_now=retry_failed_now)
        one.unreadable.extend(unreadable)
        summary = one.run(progress, folders=folders, dirty=dirty)
        summary.streamers = total
        summary.recordings = state.recordings.count()
        summary.incomplete_scan = summary.incomplete_scan or bool(unreadable)
        summary.errors += len(unreadable)
        return summary

    def full_pass(
        self, *, retry_failed_now: bool = False, progress: Progress | None = None
    ) -> PassSummary:
        """Every folder with a change (stat compare with the state), in one pass; folders
        gone from the tree are forgotten."""
        state, recordings = self.res.state, self.res.config.recordings
        unreadable: list[Path] = []
        bad_names: list[Path] = []
        folders = list(
            scan_tree(recordings, on_error=unreadable.append, on_bad_name=bad_names.append)
        )
        signatures = state.recordings.signatures()
        known = state.folders.get_many(f.name for f in folders)
        dirty: dict[str, set[str] | None] = {}
        for folder in folders:
            row = known.get(folder.name)
            stored = signatures.get(folder.name, {})
            if row is None and not stored:
                dirty[folder.name] = None  # a folder the state does not know: all of it
            elif row is None or folder_changed(folder, stored, row.sig):
                dirty[folder.name] = changed_recordings(folder, stored)
        for name in set(state.folders.names()) - {f.name for f in folders}:
            if not (recordings / name).exists():
                state.folders.forget(name)
        one = Pass(self.res, retry_failed_now=retry_failed_now)
        one.unreadable.extend(unreadable)  # their recordings stay in the state
        for path in bad_names:
            one.reader.bad_name(path)
        summary = one.run(progress, folders=folders, dirty=dirty)
        summary.streamers = len(folders)
        summary.recordings = sum(len(f.recordings) for f in folders)
        summary.incomplete_scan = summary.incomplete_scan or bool(unreadable)
        summary.errors += len(unreadable)
        return summary
