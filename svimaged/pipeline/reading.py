"""Step 1 of a pass: the selected streamer folders with the local metadata of the selected
recordings (only those files are read), numbered. Unreadable metadata and conflicts between
sources are logged once per file (the state remembers what it logged) and counted.

Recordings without season and episode numbers of their own get them here
(`library.numbering`): from this pass's metadata and, for the folder's other recordings, from
what the state remembers; when that moves another recording's numbers, it is read again in
this pass so its NFO follows."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, tzinfo
from pathlib import Path

from svimaged.core.clock import Clock
from svimaged.core.errors import MetadataError, NfoParseError, SvimagedError
from svimaged.core.log import kv
from svimaged.core.model import (
    RecordingFiles,
    RecordingMeta,
    RecordingRow,
    ShowMeta,
    StreamerFolder,
)
from svimaged.core.names import shown_name
from svimaged.library.metadata import Conflict, gather_recording, names_of
from svimaged.library.nfo_meta import read_tvshow_nfo
from svimaged.library.numbering import Dated, number
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
        tz: tzinfo | None = UTC,
    ) -> None:
        self._state = state
        self._clock = clock
        self._summary = summary
        self._settle = settle_seconds
        self._nfo_write = nfo_write
        self._tz = tz

    def read(
        self, folders: list[StreamerFolder], dirty: Dirty | None, unreadable: list[Path]
    ) -> list[StreamerItem]:
        """An item per selected folder (all without `dirty`), with its selected recordings."""
        now = self._clock.time()
        items: list[StreamerItem] = []
        folders = [f for f in folders if dirty is None or f.name in dirty]
        known = self._state.folders.get_many(f.name for f in folders)
        stored = self._state.recordings.in_folders(f.name for f in folders)
        for folder in folders:
            wanted = None if dirty is None else dirty[folder.name]
            show = self._read_show(folder)
            rows = stored.pop(folder.name)
            recordings = [
                self._read_recording(rec, show, now, rows.get(rec.rel))
                for rec in folder.recordings
                if wanted is None or rec.rel in wanted
            ]
            for path in folder.bad_names:
                self.bad_name(path)
            item = StreamerItem(folder=folder, show=show, recordings=recordings, rows=rows)
            self._number(item, show, now)
            item.known = known.get(folder.name)
            item.complete_scan = not any(p.is_relative_to(folder.path) for p in unreadable)
            items.append(item)
            self._summary.recordings += len(recordings)
        self._summary.streamers = len(items)
        return items

    def _number(self, item: StreamerItem, show: ShowMeta, now: float) -> None:
        """Give the recordings without numbers of their own theirs; read (and number) the
        folder's other recordings whose numbers this moves."""
        if len(item.recordings) == len(item.folder.recordings) and all(
            _own_numbers(rec.meta, item.rows.get(rec.files.rel)) is not None
            for rec in item.recordings
        ):
            return  # every recording of the folder has numbers of its own: none to give
        numbers = number(self._dated(item), self._tz)
        fresh = {rec.files.rel for rec in item.recordings}
        moved = [
            files
            for files in item.folder.recordings
            if files.rel not in fresh
            and files.rel in numbers
            and (row := item.rows.get(files.rel)) is not None
            and (row.season, row.episode) != numbers[files.rel]
        ]
        item.recordings += [
            self._read_recording(files, show, now, item.rows.get(files.rel)) for files in moved
        ]
        self._summary.recordings += len(moved)
        for rec in item.recordings:
            found = numbers.get(rec.files.rel)
            if found is not None and _own_numbers(rec.meta, item.rows.get(rec.files.rel)) is None:
                rec.meta = rec.meta._replace(season=found[0], episode=found[1])
                rec.numbered = True

    def _dated(self, item: StreamerItem) -> list[Dated]:
        """Every recording of the folder as numbering sees it: this pass's metadata, else
        the state's row, else what its names say."""
        fresh = {rec.files.rel: rec.meta for rec in item.recordings}
        dated: list[Dated] = []
        for files in item.folder.recordings:
            row = item.rows.get(files.rel)
            meta = fresh.get(files.rel)
            mtime = files.mtime_ns / 1e9
            if meta is None and row is not None:
                own = None if row.numbered else _pair(row.season, row.episode)
                dated.append(Dated(files.rel, row.started_at, mtime, own))
                continue
            if meta is None:
                meta = names_of(files, self._tz)
            started = meta.started_at.timestamp() if meta.started_at else None
            dated.append(Dated(files.rel, started, mtime, _own_numbers(meta, row)))
        return dated

    def bad_name(self, path: Path) -> None:
        """A folder or file skipped because its name is not valid UTF-8: count, log once."""
        self._summary.errors += 1
        shown = shown_name(str(path))
        if self._state.meta.first_time(f"bad-name:{shown}", self._clock.time()):
            log.warning("name is not UTF-8, skipped (rename it to be processed) %s", kv(path=shown))

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

    def _read_recording(
        self, rec: RecordingFiles, show: ShowMeta, now: float, row: RecordingRow | None
    ) -> RecordingItem:
        meta, conflicts, errors = gather_recording(rec, show, tz=self._tz)
        since = row.unchanged_since(rec.signature) if row is not None else None
        finished = is_finished(rec.mtime_ns, now, self._settle, since)
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
        return RecordingItem(rec, meta, finished)

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


def _own_numbers(meta: RecordingMeta, row: RecordingRow | None) -> tuple[int, int] | None:
    """The season and episode a recording has from its name or an NFO, None when it has none
    or they are the ones svimaged gave it last time (then it is numbered again)."""
    pair = _pair(meta.season, meta.episode)
    if pair is None or (row is not None and row.numbered and (row.season, row.episode) == pair):
        return None
    return pair


def _pair(season: int | None, episode: int | None) -> tuple[int, int] | None:
    return None if season is None or episode is None else (season, episode)
