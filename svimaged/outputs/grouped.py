"""Many folders written on the calling thread, their NFOs made durable by shared syncs.

A pass over many folders on a local file system with shared syncs (`core.groupsync`) writes
each folder's files on the thread that runs the pass: the NFOs are staged (temporary file
written, not fsynced, not renamed: `OutputWriter.write_folder`), and folders are gathered
into batches of about `BATCH_FILES` staged files. A full batch asks for a shared `syncfs` on
another thread and the pass goes on staging the next one; once that sync is done the batch's
temporaries are renamed into place, a second shared sync makes the renames durable, and only
then are its folders handed back to be recorded. Nothing is renamed before its data is on disk, so
`kill -9` or a power cut leaves each NFO old or whole, as with an fsync per file.

Why not one folder per writer thread, as for per-file fsyncs: with shared syncs nothing a
folder does waits for the disk, and every short system call of a writer thread hands the
interpreter lock back and forth with the thread rendering the next folder. Measured on a first
pass of 20,000 recordings, that handing over cost more than all the file writes
(docs/performance.md).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import CancelledError, Executor, Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from svimaged.core.atomic import discard_at
from svimaged.core.groupsync import GroupSync
from svimaged.outputs.apply import Done, Folders, OutputWriter, Planned

K = TypeVar("K")

#: Staged files per batch: one pair of shared syncs for about this many NFOs.
BATCH_FILES = 400
#: Folders held open per batch at most (each an open descriptor until the batch is done).
BATCH_FOLDERS = 64
#: Batches waiting for their syncs at most; one more makes the pass wait for the oldest.
IN_FLIGHT = 2


@dataclass
class _Batch(Generic[K]):
    """Folders staged together, and the shared sync they wait for."""

    folders: Folders
    entries: list[tuple[K, list[Done]]] = field(default_factory=list)
    staged: int = 0
    written: int = 0  # staged NFOs and placed image files
    sync: Future[None] | None = None  # the data sync, then the sync of the renames
    renamed: bool = False


class GroupedWrites(Generic[K]):
    """Writes folders' files in batches that share their syncs (see the module's text).
    Call `add` for each folder, then `finish`; `close` in any case. Each folder comes back
    once, with its key, when its files are durable: from `add` (those done by then) or from
    `finish` (the rest), in the order they were added."""

    def __init__(
        self,
        writer: OutputWriter,
        group: GroupSync,
        syncs: Executor,
        *,
        batch_files: int = BATCH_FILES,
    ) -> None:
        self._writer = writer
        self._group = group
        self._syncs = syncs
        self._batch_files = batch_files
        self._open: _Batch[K] | None = None
        self._sealed: deque[_Batch[K]] = deque()

    def add(self, key: K, planned: list[Planned]) -> list[tuple[K, list[Done]]]:
        """Write one folder's files (its NFOs staged); the folders whose files are durable
        by now."""
        batch = self._open
        if batch is None:
            batch = self._open = _Batch(Folders(self._writer.recordings))
        done = self._writer.write_folder(planned, batch.folders)
        batch.entries.append((key, done))
        batch.staged += sum(1 for outcome in done if outcome.staged is not None)
        batch.written += sum(1 for outcome in done if outcome.written)
        if batch.staged >= self._batch_files or batch.folders.count >= BATCH_FOLDERS:
            self.seal()
        return list(self._advance(wait=len(self._sealed) > IN_FLIGHT))

    def seal(self) -> None:
        """Ask for the shared sync of what is staged so far (a pass about to wait for
        something else calls this, so those folders need not wait with it)."""
        batch, self._open = self._open, None
        if batch is None:
            return
        if not batch.staged:  # nothing to rename: one sync for the image files placed
            batch.renamed = True
        batch.sync = self._start_sync() if batch.written else None
        self._sealed.append(batch)

    def finish(self) -> list[tuple[K, list[Done]]]:
        """Every folder not handed back yet, once its files are durable."""
        self.seal()
        finished: list[tuple[K, list[Done]]] = []
        while self._sealed:
            finished.extend(self._advance(wait=True))
        return finished

    def close(self) -> None:
        """Remove what is still staged (after an error in the pass: nothing of it was
        renamed) and close the folders."""
        batches = [*self._sealed, *([self._open] if self._open is not None else [])]
        self._sealed.clear()
        self._open = None
        for batch in batches:
            if batch.sync is not None:
                with contextlib.suppress(CancelledError):
                    batch.sync.exception()  # let a running sync end before the files go
            for _key, done in batch.entries:
                for staged in filter(None, (outcome.staged for outcome in done)):
                    discard_at(staged.dir_fd, staged.tmp)
            batch.folders.close()

    def _start_sync(self) -> Future[None]:
        return self._syncs.submit(self._group.sync)

    def _advance(self, *, wait: bool) -> Iterator[tuple[K, list[Done]]]:
        """Move each sealed batch on whose sync is done (with `wait`, the oldest one's
        too, once it is); yields the folders of the batches done, oldest first."""
        for index, batch in enumerate(self._sealed):
            if batch.sync is not None and (batch.sync.done() or (wait and index == 0)):
                self._step(batch)
        while self._sealed and self._sealed[0].sync is None:
            batch = self._sealed.popleft()
            batch.folders.close()
            yield from batch.entries

    def _step(self, batch: _Batch[K]) -> None:
        """After the data sync (waited for here): rename, and ask for the sync of the
        renames. After that one: done (`sync` None)."""
        assert batch.sync is not None
        try:
            batch.sync.result()
        except OSError as exc:
            if not batch.renamed:
                unsupported = self._group.unsupported
                after = self._writer.after_failed_sync
                batch.entries = [
                    (key, after(done, exc, batch.folders, unsupported=unsupported))
                    for key, done in batch.entries
                ]
            batch.sync = None  # a failed sync of the renames counts as a folder fsync's
            return
        if batch.renamed:
            batch.sync = None
            return
        commit = self._writer.commit_staged
        batch.entries = [(key, commit(done, batch.folders)) for key, done in batch.entries]
        batch.renamed = True
        batch.sync = self._start_sync()
