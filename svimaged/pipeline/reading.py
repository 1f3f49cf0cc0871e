"""Step 1 of a pass: the selected streamer folders with the local metadata of the selected
recordings (only those files are read). Unreadable metadata and conflicts between sources
are logged once per file (the state remembers what it logged) and counted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from svimaged.core.clock import Clock
from svimaged.core.errors import MetadataError, NfoParseError, SvimagedError
from svimaged.core.log import kv
from svimaged.core.model import RecordingFiles, ShowMeta, StreamerFolder
from svimaged.library.metadata import Conflict, gather_recording
from svimaged.library.nfo_meta import read_tvshow_nfo
from svimaged.library.scan import is_finished
from svimaged.pipeline.items import PassSummary, RecordingItem, StreamerItem
from svimaged.state import State

log = logging.getLogger(__name__)

#: Which recordings to read, by folder: None = all of them, a set = those paths only;
#: folders missing from the mapping are skipped.
Dirty = Mapping[str, set[str] | None]


class TreeReader:
    """Reads streamer folders for one pass; counts what it could not read in `summary`."""

    def __init__(
        self,
        state: State,
        clock: Clock,
        summary: PassSummary,
        *,
        settle_seconds: float,
        nfo_write: bool,
    ) -> None:
        self._state = state
        self._clock = clock
        self._summary = summary
        self._settle = settle_seconds
        self._nfo_write = nfo_write

    def read(
        self, folders: list[StreamerFolder], dirty: Dirty | None, unreadable: list[Path]
    ) -> list[StreamerItem]:
        """An item per selected folder (all without `dirty`), with its selected recordings."""
        now = self._clock.time()
        items: list[StreamerItem] = []
        for folder in folders:
            if dirty is not None and folder.name not in dirty:
                continue
            wanted = None if dirty is None else dirty[folder.name]
            show = self._read_show(folder)
            recordings = [
                self._read_recording(rec, show, now)
                for rec in folder.recordings
                if wanted is None or rec.rel in wanted
            ]
            item = StreamerItem(folder=folder, show=show, recordings=recordings)
            item.known = self._state.folders.get(folder.name)
            item.complete_scan = not any(p.is_relative_to(folder.path) for p in unreadable)
            items.append(item)
            self._summary.recordings += len(recordings)
        self._summary.streamers = len(items)
        return items

    def bad_file(self, path: Path, exc: SvimagedError) -> None:
        """A file left alone (does not parse, not a regular file): count, log once."""
        self._summary.errors += 1
        if self._state.meta.first_time(f"bad-file:{path}", self._clock.time()):
            log.warning("file left alone %s", kv(path=str(path), error=str(exc)))

    def _read_show(self, folder: StreamerFolder) -> ShowMeta:
        if folder.tvshow_nfo is None:
            return ShowMeta()
        try:
            return read_tvshow_nfo(folder.tvshow_nfo)
        except MetadataError as exc:
            self.bad_file(folder.tvshow_nfo, exc)
            return ShowMeta()

    def _read_recording(self, rec: RecordingFiles, show: ShowMeta, now: float) -> RecordingItem:
        meta, conflicts, errors = gather_recording(rec, show)
        finished = is_finished(rec.mtime_ns, now, self._settle)
        if finished and self._nfo_write:
            # The output step reports (once) an episode NFO that does not parse.
            errors = [err for err in errors if not isinstance(err, NfoParseError)]
        for err in errors:
            self._summary.errors += 1
            if self._state.meta.first_time(f"bad-meta:{rec.rel}:{err}", now):
                log.warning("unreadable metadata skipped %s", kv(recording=rec.rel, error=str(err)))
        for conflict in conflicts:
            self._log_conflict(rec, conflict, now)
        if not finished:
            self._summary.pending += 1
        return RecordingItem(files=rec, meta=meta, finished=finished)

    def _log_conflict(self, rec: RecordingFiles, c: Conflict, now: float) -> None:
        if self._state.meta.first_time(f"conflict:{rec.rel}:{c.field}:{c.other}", now):
            log.warning(
                "metadata conflict %s",
                kv(
                    recording=rec.rel,
                    field=c.field,
                    using=c.kept,
                    source=c.kept_source,
                    ignored=c.other,
                    ignored_source=c.other_source,
                ),
            )
