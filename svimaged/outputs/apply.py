"""The one place that writes what the outputs produce: NFO merges and sidecar images.

`OutputWriter.write` takes the file values of one streamer folder, does the I/O (read, merge,
atomic write only when the bytes differ; place sidecars), records each outcome in the state,
makes the folder's renames durable with one folder fsync, and returns a `FolderResult`. The
three steps are also separate (`prepare` and `record` on the thread that owns the state,
`perform` on any thread), so a pass writes several folders at once where each durable write
waits for the disk. Where many folders share their syncs instead (`outputs.grouped`), the
I/O is `write_folder` with its NFOs staged, then `commit_staged` once they are durable. It
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
from typing import NamedTuple, cast

from svimaged.core.atomic import (
    LinkRefusedError,
    Staged,
    commit_at,
    discard_at,
    fsync_dir,
    open_folder,
    sync_folder,
)
from svimaged.core.clock import Clock
from svimaged.core.errors import MetadataError, SvimagedError
from svimaged.core.log import kv
from svimaged.images.store import ImageStore
from svimaged.library.scan import file_sig
from svimaged.nfo.files import NfoOutcome, update_nfo_at
from svimaged.outputs.base import FileOutput, ImageFile, NfoFile
from svimaged.outputs.place import Placed, place, remove_if_owned
from svimaged.state import OwnerKind, SidecarRow, State

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FolderResult:
    """What writing one streamer folder's files did."""

    written: list[str] = field(default_factory=list)  # NFOs written (absolute paths)
    created: list[str] = field(default_factory=list)  # those of `written` that are new
    unchanged: int = 0  # NFOs whose bytes were already right (or locked)
    placed: list[Path] = field(default_factory=list)  # sidecar images written
    failed_recordings: set[str] = field(default_factory=set)  # a write failed: try again
    folder_failed: bool = False  # a folder-level file (tvshow.nfo, poster) failed
    bad_files: list[tuple[Path, SvimagedError]] = field(default_factory=list)  # left alone
    errors: int = 0  # failed writes (bad files are reported by the caller)
    touched: set[str] = field(default_factory=set)  # folders this wrote into (path strings)
    recordings_written: set[str] = field(default_factory=set)  # recordings with a new file
    signed: dict[str, str] = field(default_factory=dict)  # file written: its `scan.file_sig`


@dataclass(frozen=True, slots=True)
class Planned:
    """One file to write, with what the state said about it (for an image file: the cached
    image's hash, size and path, and the hash svimaged last placed there)."""

    item: FileOutput
    sha256: str | None = None
    size: int = 0
    owned: str | None = None
    source: Path | None = None
    error: SvimagedError | None = None  # refused before any I/O


class Done(NamedTuple):
    """What the I/O of one `Planned` file did (a named tuple: a pass makes one per file)."""

    plan: Planned
    outcome: NfoOutcome | None = None
    digest: str | None = None
    placed: Placed | None = None
    error: Exception | None = None
    created: bool = False  # an NFO that did not exist before
    staged: Staged | None = None  # its new bytes, waiting for a group sync to be renamed
    sig: str | None = None  # a written NFO's `<mtime_ns>.<size>`

    @property
    def written(self) -> bool:
        """True when a file was (re)placed in the folder."""
        return self.outcome is NfoOutcome.WRITTEN or self.placed is Placed.WRITTEN


class OutputWriter:
    """Writes file values under `recordings` and records them in the state."""

    def __init__(
        self, state: State, store: ImageStore, clock: Clock, recordings: Path, sidecars: str
    ) -> None:
        self._state = state
        self._store = store
        self._clock = clock
        self._recordings = recordings
        self._prefix = os.path.join(recordings, "")  # "<recordings>/", for `_key`
        self._sidecars = sidecars  # `hardlink` or `copy` (how ImageFiles are placed)

    def write(self, files: Iterable[FileOutput]) -> FolderResult:
        """Write one folder's files: `prepare`, `perform` and `record` in a row."""
        return self.record(self.perform(self.prepare(files)))

    def prepare(self, files: Iterable[FileOutput]) -> list[Planned]:
        """What the state says about each file (on the thread that owns the state)."""
        planned: list[Planned] = []
        for item in files:
            if isinstance(item, NfoFile):
                planned.append(Planned(item))
                continue
            row = self._state.images.get(item.rel)
            if row is None or not row.cached or row.sha256 is None:
                continue  # not cached yet: placed by a later pass
            known = self._state.outputs.sidecar(self._key(item.path))
            if known is not None and known.foreign:
                continue  # the user's file
            try:
                source = self._store.resolve(item.rel)
            except SvimagedError as exc:
                planned.append(Planned(item, error=exc))
                continue
            owned = known.sha256 if known is not None else None
            planned.append(Planned(item, row.sha256, row.size, owned, source))
        return planned

    @property
    def recordings(self) -> Path:
        """The recordings folder every file is written below."""
        return self._recordings

    def perform(self, planned: list[Planned]) -> list[Done]:
        """The file I/O for one folder (read, merge, atomic writes; place image files), then
        one fsync per folder written into. Touches no state: safe on a worker thread, one
        folder per thread. (Many folders with shared syncs instead: `outputs.grouped`.)"""
        with Folders(self._recordings) as folders:
            done = self.write_folder(planned, folders, stage=False)
            folders.sync_written(done)
        return done

    def write_folder(
        self, planned: list[Planned], folders: Folders, *, stage: bool = True
    ) -> list[Done]:
        """The file I/O for one folder's files without any folder fsync, each folder opened
        once in `folders`. With `stage`, the NFOs to write are only staged (written, not
        fsynced, not renamed: `Done.staged`), for `commit_staged` while `folders` is still
        open; without it they are written and fsynced. Image files are placed as usual."""
        done: list[Done] = []
        for plan in planned:
            if plan.error is not None:
                done.append(Done(plan, error=plan.error))
            elif isinstance(plan.item, NfoFile):
                done.append(self._nfo(plan, folders, stage=stage))
            else:
                done.append(self._image(plan))
        return done

    def commit_staged(self, done: list[Done], folders: Folders) -> list[Done]:
        """`done` with each staged NFO (its data durable by now) renamed into place; one
        whose rename fails is an error, its old file untouched. One written without a look
        (`NfoFile.absent`) whose name was taken since is merged with what is there now and
        written again (fsynced on its own). `folders` must still be open."""
        committed: list[Done] = []
        for outcome in done:
            staged = outcome.staged
            if staged is None:
                committed.append(outcome)
                continue
            try:
                commit_at(*staged)
            except FileExistsError:
                committed.append(self._nfo(outcome.plan, folders, stage=False, look=True))
            except OSError as exc:
                committed.append(Done(outcome.plan, error=exc))
            else:
                committed.append(outcome._replace(staged=None))
        return committed

    def after_failed_sync(
        self, done: list[Done], exc: OSError, folders: Folders, *, unsupported: bool
    ) -> list[Done]:
        """`done` after the shared sync of its staged NFOs failed with `exc`. Where `syncfs`
        is not allowed (`unsupported`), each staged file is fsynced on its own, renamed,
        and its folder fsynced; otherwise the staged files are removed (the old files
        stay) and they are errors."""
        if unsupported:
            committed = self.commit_staged([_fsync_staged(d) for d in done], folders)
            folders.sync_written(committed)
            return committed
        for outcome in done:
            if outcome.staged is not None:
                discard_at(outcome.staged.dir_fd, outcome.staged.tmp)
        return [Done(d.plan, error=exc) if d.staged is not None else d for d in done]

    def record(self, done: list[Done]) -> FolderResult:
        """Record what `perform` did in the state (one transaction, one statement per kind of
        NFO row for the whole folder) and in a result."""
        result = FolderResult()
        now = self._clock.time()
        nfos = [outcome for outcome in done if isinstance(outcome.plan.item, NfoFile)]
        # One path string per NFO for the key and every list of the result (a large pass
        # keeps those until its end).
        files = [cast(NfoFile, outcome.plan.item).file for outcome in nfos]
        keys = [self._key(file) for file in files]
        with self._state.transaction():
            rows = _NfoRows(self._state.outputs.nfo_statuses(keys))
            for outcome, file, key in zip(nfos, files, keys, strict=True):
                self._record_nfo(outcome, file, key, result, now, rows)
            self._state.meta.forget_notes(rows.fixed)
            self._state.outputs.record_nfos(rows.changed)
            for outcome in done:
                if not isinstance(outcome.plan.item, NfoFile):
                    self._record_image(outcome, result, now)
        return result

    def _key(self, path: Path | str) -> str:
        """`path` relative to the recordings folder, as the state keys it."""
        text = str(path)
        if text.startswith(self._prefix):
            return text[len(self._prefix) :]
        return str(Path(path).relative_to(self._recordings))  # raises ValueError, as before

    def _nfo(self, plan: Planned, folders: Folders, *, stage: bool, look: bool = False) -> Done:
        """One NFO's I/O; `look`: read what is there even where the scan saw nothing."""
        item = cast(NfoFile, plan.item)
        try:
            dir_fd = folders.open(item.folder)
            absent = item.absent and not look
            found = update_nfo_at(dir_fd, item.file, item.merge, stage=stage, absent=absent)
        except (MetadataError, OSError) as exc:
            return Done(plan, error=exc)
        # `created`: a media server is told the file is new.
        return Done(
            plan, found.outcome, found.digest, created=found.created, staged=found.staged,
            sig=found.sig,
        )  # fmt: skip

    def _image(self, plan: Planned) -> Done:
        assert plan.source is not None and plan.sha256 is not None
        try:
            placed = place(
                plan.item.path,
                plan.source,
                plan.sha256,
                owned_sha=plan.owned,
                mode=self._sidecars,
                root=self._recordings,
                source_root=self._store.anchor,
            )
        except (OSError, SvimagedError) as exc:
            return Done(plan, error=exc)
        return Done(plan, placed=placed)

    def _record_nfo(
        self, done: Done, file: str, key: str, result: FolderResult, now: float, rows: _NfoRows
    ) -> None:
        item = cast(NfoFile, done.plan.item)
        if isinstance(done.error, MetadataError):
            result.bad_files.append((item.path, done.error))
            rows.changed.append((key, NfoOutcome.ERROR.value, None, now, str(done.error)))
            return
        if isinstance(done.error, OSError):
            _failed(result, item.recording)
            why = _why(done.error)
            rows.changed.append((key, NfoOutcome.ERROR.value, None, now, f"write failed: {why}"))
            log.error("nfo write failed %s", kv(path=file, error=why))
            return
        outcome = done.outcome
        assert outcome is not None
        rows.fixed.append(f"bad-file:{file}")
        if outcome is NfoOutcome.WRITTEN:
            result.touched.add(item.folder)
            result.written.append(file)
            if done.created:
                result.created.append(file)
            if item.recording is not None:
                result.recordings_written.add(item.recording)
            if done.sig is not None:
                result.signed[file] = done.sig
        else:
            result.unchanged += 1
        if rows.before.get(key) != outcome.value:
            rows.changed.append((key, outcome.value, done.digest, now, None))

    def _record_image(self, done: Done, result: FolderResult, now: float) -> None:
        item = cast(ImageFile, done.plan.item)
        if done.error is not None:
            _failed(result, item.owner if item.owner_kind is OwnerKind.RECORDING else None)
            error = done.error
            why = _why(error) if isinstance(error, OSError) else str(error)
            log.error("sidecar failed %s", kv(path=str(item.path), error=why))
            return
        key = self._key(item.path)
        if done.placed is Placed.FOREIGN:
            self._state.outputs.record_sidecar(
                key, item.owner_kind, item.owner, None, foreign=True, at=now
            )
            log.info("sidecar left alone (not ours) %s", kv(path=str(item.path)))
        elif done.placed is Placed.WRITTEN:
            result.touched.add(_folder_of(item))
            result.placed.append(item.path)
            if item.owner_kind is OwnerKind.RECORDING:
                result.recordings_written.add(item.owner)
                result.signed[str(item.path)] = file_sig(item.path)
            self._state.outputs.record_sidecar(
                key,
                item.owner_kind,
                item.owner,
                done.plan.sha256,
                foreign=False,
                at=now,
                size=done.plan.size,
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


class Folders:
    """The folders one `perform` (or one batch of `outputs.grouped`) writes into, each
    opened once (without following links) and closed at the end."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._open: dict[str, int] = {}

    def open(self, folder: str) -> int:
        """A descriptor of the folder at the path `folder`, below the root
        (`core.atomic.open_folder`)."""
        fd = self._open.get(folder)
        if fd is None:
            fd = self._open[folder] = open_folder(self._root, Path(folder))
        return fd

    def sync(self, folder: str) -> None:
        """Make the renames in `folder` durable (by its descriptor when open here)."""
        fd = self._open.get(folder)
        if fd is None:
            fsync_dir(Path(folder))
        else:
            sync_folder(fd)

    @property
    def count(self) -> int:
        """How many folders are open."""
        return len(self._open)

    def close(self) -> None:
        """Close every folder opened here."""
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()

    def sync_written(self, done: list[Done]) -> None:
        """Make the renames durable in every folder `done` wrote into."""
        for folder in {_folder_of(outcome.plan.item) for outcome in done if outcome.written}:
            self.sync(folder)

    def __enter__(self) -> Folders:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_staged(outcome: Done) -> Done:
    """`outcome` with its staged file fsynced on its own; an error (the temporary removed)
    when that fails."""
    staged = outcome.staged
    if staged is None:
        return outcome
    try:
        fd = os.open(staged.tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=staged.dir_fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        discard_at(staged.dir_fd, staged.tmp)
        return Done(outcome.plan, error=exc)
    return outcome


def _folder_of(item: FileOutput) -> str:
    """The folder `item` is written into, as a string (a `Path.parent` costs more than the
    write path can spare per file)."""
    return item.folder if isinstance(item, NfoFile) else os.path.dirname(str(item.path))


def _why(exc: OSError) -> str:
    """An OSError as a log value: its message, with the path for a refused link."""
    if isinstance(exc, LinkRefusedError):
        return f"{exc.strerror}: {exc.filename}"
    return str(exc.strerror or exc)


@dataclass(slots=True)
class _NfoRows:
    """The state rows of one folder's NFOs, gathered to be written in one statement each."""

    before: dict[str, str]  # the recorded outcome of each NFO, by key
    changed: list[tuple[str, str, str | None, float, str | None]] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # notes to forget


def _failed(result: FolderResult, recording: str | None) -> None:
    """Count a failed write of a recording's file (or of a folder-level one: None)."""
    result.errors += 1
    if recording is None:
        result.folder_failed = True
    else:
        result.failed_recordings.add(recording)
