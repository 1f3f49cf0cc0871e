"""The one place that writes what the outputs produce: NFO merges and sidecar images.

`OutputWriter.write` takes the file values of one streamer folder, does the I/O (read, merge,
atomic write only when the bytes differ; place sidecars), records each outcome in the state,
makes the folder's renames durable with one folder fsync, and returns a `FolderResult`. It
never raises for one file: a file it must leave alone (does not parse, not a regular file)
or a write that fails (disk full, read-only) is counted and reported in the result, so the
pass tries again next time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from svimaged.core.atomic import LinkRefusedError, fsync_dir
from svimaged.core.clock import Clock
from svimaged.core.errors import MetadataError, SvimagedError
from svimaged.core.log import kv
from svimaged.images.store import ImageStore
from svimaged.nfo.files import NfoOutcome, update_nfo
from svimaged.outputs.base import FileOutput, ImageFile, NfoFile
from svimaged.outputs.place import Placed, place, remove_if_owned
from svimaged.state import OwnerKind, SidecarRow, State

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FolderResult:
    """What writing one streamer folder's files did."""

    written: list[Path] = field(default_factory=list)  # NFOs written
    unchanged: int = 0  # NFOs whose bytes were already right (or locked)
    placed: list[Path] = field(default_factory=list)  # sidecar images written
    failed_recordings: set[str] = field(default_factory=set)  # a write failed: try again
    folder_failed: bool = False  # a folder-level file (tvshow.nfo, poster) failed
    bad_files: list[tuple[Path, SvimagedError]] = field(default_factory=list)  # left alone
    errors: int = 0  # failed writes (bad files are reported by the caller)
    touched: set[Path] = field(default_factory=set)  # folders this wrote into
    recordings_written: set[str] = field(default_factory=set)  # recordings with a new file


class OutputWriter:
    """Writes file values under `recordings` and records them in the state."""

    def __init__(
        self, state: State, store: ImageStore, clock: Clock, recordings: Path, sidecars: str
    ) -> None:
        self._state = state
        self._store = store
        self._clock = clock
        self._recordings = recordings
        self._sidecars = sidecars  # `hardlink` or `copy` (how ImageFiles are placed)

    def write(self, files: Iterable[FileOutput]) -> FolderResult:
        """Write one folder's files in one state transaction, then fsync each folder written
        into once (the renames are durable before the pass reports them)."""
        result = FolderResult()
        with self._state.transaction():
            for item in files:
                if isinstance(item, NfoFile):
                    self._nfo(item, result)
                else:
                    self._image(item, result)
        for folder in result.touched:
            fsync_dir(folder)
        return result

    def _key(self, path: Path) -> str:
        return str(path.relative_to(self._recordings))

    def _nfo(self, item: NfoFile, result: FolderResult) -> None:
        key, now = self._key(item.path), self._clock.time()
        try:
            outcome, digest = update_nfo(
                item.path, item.merge, root=self._recordings, mode=0o644, sync_dir=False
            )
        except MetadataError as exc:
            result.bad_files.append((item.path, exc))
            self._state.outputs.record_nfo(key, NfoOutcome.ERROR.value, None, now, str(exc))
            return
        except OSError as exc:
            _failed(result, item.recording)
            why = _why(exc)
            self._state.outputs.record_nfo(
                key, NfoOutcome.ERROR.value, None, now, f"write failed: {why}"
            )
            log.error("nfo write failed %s", kv(path=str(item.path), error=why))
            return
        self._state.meta.forget_note(f"bad-file:{item.path}")
        if outcome is NfoOutcome.WRITTEN:
            result.touched.add(item.path.parent)
            result.written.append(item.path)
            if item.recording is not None:
                result.recordings_written.add(item.recording)
        else:
            result.unchanged += 1
        if self._state.outputs.nfo_status(key) != outcome.value:
            self._state.outputs.record_nfo(key, outcome.value, digest, now)

    def _image(self, item: ImageFile, result: FolderResult) -> None:
        row = self._state.images.get(item.rel)
        if row is None or not row.cached or row.sha256 is None:
            return  # not cached yet: placed by a later pass
        key = self._key(item.path)
        known = self._state.outputs.sidecar(key)
        if known is not None and known.foreign:
            return  # the user's file
        try:
            placed = place(
                item.path,
                self._store.resolve(item.rel),
                row.sha256,
                owned_sha=known.sha256 if known is not None else None,
                mode=self._sidecars,
                root=self._recordings,
                source_root=self._store.anchor,
            )
        except (OSError, SvimagedError) as exc:
            _failed(result, item.owner if item.owner_kind is OwnerKind.RECORDING else None)
            why = _why(exc) if isinstance(exc, OSError) else str(exc)
            log.error("sidecar failed %s", kv(path=str(item.path), error=why))
            return
        now = self._clock.time()
        if placed is Placed.FOREIGN:
            self._state.outputs.record_sidecar(
                key, item.owner_kind, item.owner, None, foreign=True, at=now
            )
            log.info("sidecar left alone (not ours) %s", kv(path=str(item.path)))
        elif placed is Placed.WRITTEN:
            result.touched.add(item.path.parent)
            result.placed.append(item.path)
            if item.owner_kind is OwnerKind.RECORDING:
                result.recordings_written.add(item.owner)
            self._state.outputs.record_sidecar(
                key, item.owner_kind, item.owner, row.sha256, foreign=False, at=now, size=row.size
            )

    def retire(self, owned: Iterable[SidecarRow], wanted: set[Path]) -> int:
        """Remove the image files svimaged placed (`owned`) that no output wants any more (a
        media server was taken out of `media_servers`, `nfo.sidecars` became `none`), only
        while they still hold exactly the bytes svimaged wrote; one changed since is the
        user's from now on. Returns how many were removed."""
        removed = 0
        now = self._clock.time()
        for row in owned:
            path = self._recordings / row.path
            if row.foreign or row.sha256 is None or path in wanted:
                continue
            try:
                gone = remove_if_owned(path, row.sha256, root=self._recordings)
            except OSError as exc:
                log.warning("image file not removed %s", kv(path=str(path), error=_why(exc)))
                continue
            if gone:
                removed += 1
                self._state.outputs.forget_sidecar(row.path)
                log.info("image file no longer wanted, removed %s", kv(path=str(path)))
            elif os.path.lexists(path):
                self._state.outputs.record_sidecar(
                    row.path, row.owner_kind, row.owner, None, foreign=True, at=now
                )
            else:
                self._state.outputs.forget_sidecar(row.path)
        return removed


def _why(exc: OSError) -> str:
    """An OSError as a log value: its message, with the path for a refused link."""
    if isinstance(exc, LinkRefusedError):
        return f"{exc.strerror}: {exc.filename}"
    return str(exc.strerror or exc)


def _failed(result: FolderResult, recording: str | None) -> None:
    """Count a failed write of a recording's file (or of a folder-level one: None)."""
    result.errors += 1
    if recording is None:
        result.folder_failed = True
    else:
        result.failed_recordings.add(recording)
