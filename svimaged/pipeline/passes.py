"""One complete pass over selected streamer folders:

read the tree and local metadata -> resolve streamers and categories (state, then Helix in
batches) -> plan image tasks (the source chain) -> start transferring what is missing or
stale -> write the outputs of each folder (NFOs, sidecars) as soon as its images are done ->
remember what was seen. The middle three run once per group of streamers whose identity is
complete (those Helix need not be asked about, then each page of Helix's users answer), so
the first transfers run while later pages are asked.

Each step gets its inputs and returns or fills plain values; none calls back into the pass.
Every step catches its errors per item (logged once with the item's path or key, counted)
and the pass goes on. A second pass over an unchanged tree downloads nothing and writes no
file: images are fresh in the state and NFO merges produce identical bytes.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path

from svimaged.core.groupsync import GroupSync
from svimaged.core.log import kv
from svimaged.core.model import FolderRow, RecordingRow, RecordingStatus, StreamerFolder
from svimaged.images.tasks import ImageTask
from svimaged.images.transfer import Batch, Progress, TransferTotals
from svimaged.images.urlpolicy import acceptable_offline
from svimaged.library.scan import TVSHOW_NFO, dir_mtime, resign, scan_tree
from svimaged.outputs import outputs_for
from svimaged.outputs.apply import Done, FolderResult, OutputWriter
from svimaged.outputs.base import FileOutput, ImageFile
from svimaged.outputs.grouped import GroupedWrites
from svimaged.pipeline.identity import match_streams, resolve_identities
from svimaged.pipeline.imaging import ImagePlanner
from svimaged.pipeline.items import PassSummary, RecordingItem, StreamerItem
from svimaged.pipeline.readiness import in_readiness_order
from svimaged.pipeline.reading import Dirty, TreeReader
from svimaged.pipeline.resources import Resources
from svimaged.pipeline.views import Refs, show_view
from svimaged.state import OwnerKind, SidecarRow
from svimaged.twitch.lookup import TwitchLookup

log = logging.getLogger(__name__)

#: Folders whose file I/O may run ahead of the one being recorded.
WRITE_AHEAD = 16
#: A pass over at least this many streamer folders makes their NFOs durable with shared
#: syncs (`core.groupsync`) where the file system allows; fewer keep their own fsyncs.
GROUP_SYNC_FOLDERS = 8


class Pass:
    """One pass over the tree. Create, call `run()` once."""

    def __init__(self, res: Resources, *, retry_failed_now: bool = False) -> None:
        self.res = res
        self.cfg = res.config
        self.summary = PassSummary()
        self.retry_failed_now = retry_failed_now
        self.unreadable: list[Path] = []
        self.lookup = TwitchLookup(
            res.helix, res.state, res.clock, recheck_after=max(res.config.refresh_interval, 3600)
        )
        self.reader = TreeReader(
            res.state,
            res.clock,
            self.summary,
            settle_seconds=self.cfg.watch.settle_seconds,
            nfo_write=self.cfg.nfo.write,
            tz=self.cfg.tz,
        )
        self.planner = ImagePlanner(
            res.state, res.store, self.lookup, self.cfg.recordings, ffmpeg=self.cfg.artwork.ffmpeg
        )
        self.writer = OutputWriter(
            res.state, res.store, res.clock, self.cfg.recordings, self.cfg.nfo.sidecars
        )
        self.outputs = outputs_for(
            self.cfg.media_servers, self.cfg.nfo.sidecars, self.cfg.nfo.movie_nfo
        )
        self._shown_mapping = False
        self._progress: Progress | None = None  # folders written, after the transfers

    def run(
        self,
        progress: Progress | None = None,
        *,
        folders: list[StreamerFolder] | None = None,
        dirty: Dirty | None = None,
    ) -> PassSummary:
        """Do the pass and return its summary. Raises only when the pass cannot run at all
        (recordings root unreadable, state unusable).

        `folders`: already scanned streamer folders (default: scan the whole tree).
        `dirty`: which recordings to process, by folder (see `reading.Dirty`); without it
        everything is processed.
        """
        res = self.res
        start = res.clock.monotonic()
        helix_before = res.helix.calls if res.helix is not None else 0
        if folders is None:
            folders = list(
                scan_tree(
                    self.cfg.recordings,
                    on_error=self._unreadable_folder,
                    on_bad_name=self.reader.bad_name,
                )
            )
        items = self.reader.read(folders, dirty, self.unreadable)
        now = res.clock.time()
        transfers = res.transferer().batch()
        for ready in resolve_identities(items, self.lookup, self.planner.avatar_exists):
            match_streams(ready, self.lookup)
            self.transfer(transfers, self.planner.plan(ready), now)
        if transfers:
            log.info("images to transfer %s", kv(count=len(transfers)))
        steps = len(transfers) + (len(items) if self.cfg.nfo.write else 0)
        transfers.progress, self._progress = _shared(progress, steps)
        for rel, exc in self.planner.refused:
            self.summary.errors += 1
            if res.state.meta.first_time(f"refused-image:{rel}", now):
                log.warning("cache file refused %s", kv(rel=rel, error=str(exc)))
        results = self.write(items, transfers) if self.cfg.nfo.write else {}
        self.count(transfers.wait())
        self.remember(items, results)
        s = self.summary
        s.errors += self.lookup.counts.errors + self.lookup.counts.deferred
        s.needs_credentials = len(self.lookup.counts.needs_credentials)
        if res.helix is not None:
            s.helix_calls = res.helix.calls - helix_before
        s.seconds = res.clock.monotonic() - start
        res.state.meta.set("needs_credentials", str(s.needs_credentials))
        return s

    def _unreadable_folder(self, path: Path) -> None:
        self.summary.errors += 1
        self.summary.incomplete_scan = True
        self.unreadable.append(path)

    # -- transfers ---------------------------------------------------------------------

    def transfer(self, transfers: Batch, tasks: list[ImageTask], now: float) -> None:
        """Start downloading and importing what these planned tasks need (`transfers`, on
        the shared transfer pool), while the pass goes on."""
        transfers.add(
            self.planner.jobs(tasks, now, self.cfg.refresh_interval, self.retry_failed_now)
        )

    def count(self, totals: TransferTotals) -> None:
        """Add what the transfers did to the summary."""
        self.summary.cached.extend(str(self.res.store.root / rel) for rel in totals.stored)
        self.summary.refreshed += totals.unchanged
        self.summary.failed += totals.failed
        self.summary.bytes_downloaded += totals.bytes

    # -- outputs -----------------------------------------------------------------------

    def write(self, items: list[StreamerItem], transfers: Batch) -> dict[str, FolderResult]:
        """Write every folder's outputs as soon as the transfers its files refer to are
        done; the result of each folder by name. Views and state reads and writes happen
        here, outcomes recorded in the order the folders were started. Over many folders
        on a file system with shared syncs, the file I/O runs here too, in batches
        (`outputs.grouped`); otherwise that of up to `WRITE_AHEAD` folders runs on the
        writer threads meanwhile (each durable write waits for the disk)."""
        group = self.res.group_sync() if len(items) >= GROUP_SYNC_FOLDERS else None
        if group is not None:
            return self._write_grouped(items, transfers, group)
        results: dict[str, FolderResult] = {}
        now = self.res.clock.time()
        writers = self.res.writers
        assert writers is not None
        pending: deque[tuple[StreamerItem, list[FileOutput], Future[list[Done]]]] = deque()
        ready = in_readiness_order(items, self._needs, transfers.running, transfers.finished())
        for item in ready:
            files = self._files(item, now)
            planned = self.writer.prepare(files)
            pending.append((item, files, writers.submit(self.writer.perform, planned)))
            while pending and (len(pending) >= WRITE_AHEAD or pending[0][2].done()):
                item, files, future = pending.popleft()
                self._finish(item, files, future.result(), results)
        while pending:
            item, files, future = pending.popleft()
            self._finish(item, files, future.result(), results)
        return results

    def _write_grouped(
        self, items: list[StreamerItem], transfers: Batch, group: GroupSync
    ) -> dict[str, FolderResult]:
        """`write` with the file I/O on this thread and shared syncs (`outputs.grouped`).
        Before waiting for a transfer, the folders written so far are made durable and
        recorded, so they do not wait for it."""
        results: dict[str, FolderResult] = {}
        now = self.res.clock.time()
        assert self.res.writers is not None
        grouped: GroupedWrites[tuple[StreamerItem, list[FileOutput]]] = GroupedWrites(
            self.writer, group, self.res.writers
        )

        def finish(done: list[tuple[tuple[StreamerItem, list[FileOutput]], list[Done]]]) -> None:
            if not done:
                return
            with self.res.state.transaction():  # one commit for the folders of a batch
                for (item, files), outcomes in done:
                    self._finish(item, files, outcomes, results)

        def finished() -> Iterator[str]:
            paths = transfers.finished()
            while True:
                finish(grouped.finish())  # before waiting for the next transfer
                path = next(paths, None)
                if path is None:
                    return
                yield path

        try:
            ready = in_readiness_order(items, self._needs, transfers.running, finished())
            for item in ready:
                files = self._files(item, now)
                finish(grouped.add((item, files), self.writer.prepare(files)))
            finish(grouped.finish())
        finally:
            grouped.close()
        return results

    def _categories(self, item: StreamerItem) -> dict[str, ImageTask | None]:
        """The box art task of each category the folder's recordings name."""
        names = {row.category for row in item.rows.values() if row.category} | {
            r.meta.category_name for r in item.recordings if r.meta.category_name
        }
        return {name: self.planner.category_task(name) for name in sorted(names)}

    def _needs(self, item: StreamerItem) -> list[str]:
        """The cache paths the folder's outputs refer to."""
        return _image_paths(item, self._categories(item))

    def _files(self, item: StreamerItem, now: float) -> list[FileOutput]:
        """Every file the outputs want for one folder."""
        categories = self._categories(item)
        refs = self._refs(item, categories)
        view = show_view(
            item, refs, categories, now=now, settle_seconds=self.cfg.watch.settle_seconds
        )
        self._show_mapping(view.info.poster)
        return [f for out in self.outputs for f in out.files(view)]

    def _finish(
        self,
        item: StreamerItem,
        files: list[FileOutput],
        done: list[Done],
        results: dict[str, FolderResult],
    ) -> None:
        """Record one folder's written files and retire the ones no output wants."""
        result = self.writer.record(done)
        self.writer.retire(self._owned(item), {f.path for f in files if isinstance(f, ImageFile)})
        for path, exc in result.bad_files:
            self.reader.bad_file(path, exc)
        self.summary.nfo_written.extend(result.written)
        self.summary.nfo_created.extend(result.created)
        self.summary.placed.extend(str(p) for p in result.placed)
        self.summary.nfo_unchanged += result.unchanged
        self.summary.errors += result.errors
        results[item.folder.name] = _to_remember(result)
        if self._progress is not None:
            self._progress(len(results), 0)

    def _refs(self, item: StreamerItem, categories: Mapping[str, ImageTask | None]) -> Refs:
        """Which of the folder's image files are in place (one state query per folder)."""
        rows = self.res.state.images.get_many(_image_paths(item, categories))
        cached = frozenset(rel for rel, row in rows.items() if row.cached)
        policy = self.res.fetcher.policy
        return Refs(
            self.res.store.root,
            cached,
            self.cfg.nfo,
            self.cfg.media_servers,
            lambda url: acceptable_offline(url, policy),
        )

    def _owned(self, item: StreamerItem) -> list[SidecarRow]:
        """The image files svimaged placed for this folder and for the recordings this pass
        processed: the ones an output no longer produces are retired."""
        processed = {rec.files.rel for rec in item.recordings}
        rows = self.res.state.outputs.sidecars_under(item.folder.name).values()
        return [
            row
            for row in rows
            if (row.owner_kind is OwnerKind.FOLDER and row.owner == item.folder.name)
            or (row.owner_kind is OwnerKind.RECORDING and row.owner in processed)
        ]

    def _show_mapping(self, poster: str | None) -> None:
        """Once per pass, the path of one image as the media server will look for it, so a
        user can check `nfo.path_map` against what the server sees."""
        if self._shown_mapping or poster is None or poster.startswith("https://"):
            return
        self._shown_mapping = True
        log.info("nfo image references look like this %s", kv(example=poster))

    # -- remembering -------------------------------------------------------------------

    def remember(self, items: list[StreamerItem], results: Mapping[str, FolderResult]) -> None:
        """Store every processed recording's signature, status and ids, and each folder's,
        in one transaction; forget recordings that are gone from a completely listed
        folder."""
        state, now = self.res.state, self.res.clock.time()
        counts = self.lookup.counts
        retry_all = counts.errors > 0 or counts.deferred > 0  # Helix failed: look again
        found = [(item, results.get(item.folder.name, FolderResult())) for item in items]
        with state.transaction():  # a few statements for the whole pass
            state.recordings.upsert_many(
                (
                    self._row(item, rec, result, retry_all, now)
                    for item, result in found
                    for rec in item.recordings
                ),
                now,
            )
            for item, _result in found:
                if item.complete_scan and item.rows:  # `rows`: the folder's, as the pass began
                    gone = set(item.rows).difference(rec.rel for rec in item.folder.recordings)
                    if gone:
                        state.recordings.forget(gone)
            state.folders.set_dirs_many(
                (item.folder.name, self._dirs(item, result)) for item, result in found
            )
            state.folders.upsert_many(
                (
                    FolderRow(
                        item.folder.name,
                        None if result.folder_failed else _tvshow_sig(item.folder, result),
                        item.user_id,
                        item.login,
                    )
                    for item, result in found
                ),
                now,
            )

    def _dirs(self, item: StreamerItem, result: FolderResult) -> list[tuple[str, int]]:
        """Folder mtimes to remember: as listed, or as now where this pass wrote; none for an
        incompletely listed folder (so the next quick rescan looks at it again)."""
        if not item.complete_scan:
            return []
        root = self.cfg.recordings
        out = []
        for rel, mtime in item.folder.dirs:
            if os.path.join(root, rel) in result.touched:
                fresh = dir_mtime(root, rel)
                if fresh is None:
                    continue
                mtime = fresh
            out.append((rel, mtime))
        return out

    def _row(
        self,
        item: StreamerItem,
        rec: RecordingItem,
        result: FolderResult,
        retry_all: bool,
        now: float,
    ) -> RecordingRow:
        files, meta, rel = rec.files, rec.meta, rec.files.rel
        sig = files.signature
        if rel in result.recordings_written:
            sig = f"{files.size}:{files.mtime_ns}:{resign(files, result.signed)}"
        if not rec.finished:
            status = RecordingStatus.PENDING  # look again until it is finished
        elif retry_all or rel in result.failed_recordings or self._incomplete(item, rec):
            status = RecordingStatus.INCOMPLETE
        else:
            status = RecordingStatus.DONE
        started = meta.started_at
        before = item.rows.get(rel)
        since = before.unchanged_since(sig) if before is not None else None
        return RecordingRow(  # positional, in field order: a keyword call takes twice as long
            rel,
            item.folder.name,
            files.size,
            files.mtime_ns,
            item.user_id,
            meta.stream_id,
            meta.category_name,
            None if rec.artwork is None else rec.artwork.rel,
            sig,
            status,
            None if started is None else started.timestamp(),
            meta.season,
            meta.episode,
            rec.numbered,
            now if since is None else since,  # sig_since: now, when it just changed
        )

    def _incomplete(self, item: StreamerItem, rec: RecordingItem) -> bool:
        """True when Helix may give more later: artwork of a stream whose video is not
        listed yet, or a category Helix could not be asked about."""
        if not self.lookup.online:
            return False
        name = rec.meta.category_name
        if name and self.lookup.game(name) is None and not self.lookup.known_missing(name):
            return True
        return rec.artwork is None and bool(item.user_id) and bool(rec.meta.stream_id)


def _image_paths(item: StreamerItem, categories: Mapping[str, ImageTask | None]) -> list[str]:
    """The cache paths of the images a folder's outputs refer to: the profile, the backdrop,
    the box art of `categories` and each recording's artwork."""
    tasks = [item.profile, item.backdrop, *categories.values()]
    tasks += [rec.artwork for rec in item.recordings]
    return [task.rel for task in tasks if task is not None]


def _to_remember(result: FolderResult) -> FolderResult:
    """The part of a folder's result that `Pass.remember` reads, kept until the end of the
    pass; the written paths are in the summary already, so a large pass holds them once."""
    return FolderResult(
        failed_recordings=result.failed_recordings,
        folder_failed=result.folder_failed,
        touched=result.touched,
        recordings_written=result.recordings_written,
        signed=result.signed,
    )


def _tvshow_sig(folder: StreamerFolder, result: FolderResult) -> str:
    """The signature of the folder's `tvshow.nfo` to remember: as the pass wrote it, else as
    the scan found it (so a file that changed after the scan, which this pass did not read,
    looks changed to the next one)."""
    return result.signed.get(str(folder.path / TVSHOW_NFO), folder.tvshow_sig)


def _shared(progress: Progress | None, total: int) -> tuple[Progress | None, Progress | None]:
    """Progress callbacks for the transfers and for the folders written, which run
    interleaved: each reports its own count, the pass reports their sum out of `total`."""
    if progress is None:
        return None, None
    report = progress
    counts = [0, 0]

    def part(which: int) -> Progress:
        def step(done: int, _step_total: int) -> None:
            counts[which] = done
            report(sum(counts), total)

        return step

    return part(0), part(1)
