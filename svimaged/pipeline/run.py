"""One complete pass over the recordings tree.

read the tree and local metadata -> resolve streamers and categories (state, then Helix in
batches) -> plan image tasks -> transfer what is missing or stale -> merge NFOs.

Every step catches its errors per item (logged once with the item's path or key, counted)
and the pass goes on. A second pass over an unchanged tree downloads nothing and writes no
file: images are fresh in the state and NFO merges produce identical bytes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from svimaged.core.errors import MetadataError, NfoParseError, SvimagedError, UnsafeNameError
from svimaged.core.log import kv
from svimaged.core.model import ImageKind, RecordingFiles, ShowMeta, StreamerFolder
from svimaged.core.names import (
    artwork_rel,
    category_rel,
    is_safe_id,
    profile_rel,
    stream_file_id,
)
from svimaged.images.frames import ffmpeg_available
from svimaged.images.tasks import Action, ImageTask, decide, is_finished
from svimaged.images.transfer import Progress
from svimaged.library.metadata import gather_recording
from svimaged.library.names import LOGIN_RE
from svimaged.library.nfo_meta import read_tvshow_nfo
from svimaged.library.scan import TVSHOW_NFO, companion_sig, dir_mtime, file_sig, scan_tree
from svimaged.outputs.sidecars import POSTER_NAME, thumb_path
from svimaged.outputs.writer import Writer
from svimaged.pipeline.report import PassSummary, RecordingWork, StreamerWork
from svimaged.pipeline.resources import Services
from svimaged.state import FolderRow, ImageRow, RecordingRow
from svimaged.twitch.lookup import TwitchLookup, category_slug_for

log = logging.getLogger(__name__)


class Pass:
    """One pass over the tree. Create, call `run()` once."""

    def __init__(self, svc: Services, *, retry_failed_now: bool = False) -> None:
        self.svc = svc
        self.cfg = svc.config
        self.clock = svc.clock
        self.state = svc.state
        self.summary = PassSummary()
        self.retry_failed_now = retry_failed_now
        self.lookup = TwitchLookup(
            svc.helix, svc.state, svc.clock, recheck_after=max(svc.config.refresh_interval, 3600)
        )
        self.categories: dict[str, ImageTask | None] = {}
        self.unreadable: list[Path] = []
        self.writer = Writer(svc, self.summary, self._category_task, self._bad_file)

    def run(
        self,
        progress: Progress | None = None,
        *,
        folders: list[StreamerFolder] | None = None,
        dirty: Mapping[str, set[str] | None] | None = None,
    ) -> PassSummary:
        """Do the pass and return its summary. Raises only when the pass cannot run at all
        (recordings root unreadable, state unusable).

        `folders`: already scanned streamer folders (default: scan the whole tree).
        `dirty`: which recordings to process, by folder: `None` for a folder means all of
        them, a set means those paths only; folders missing from the mapping are skipped.
        Without `dirty` everything is processed.
        """
        start = self.clock.monotonic()
        helix_before = self.svc.helix.calls if self.svc.helix is not None else 0
        if folders is None:
            folders = list(scan_tree(self.cfg.recordings, on_error=self._unreadable_folder))
        streamers = self.read_tree(folders, dirty)
        self.resolve(streamers)
        jobs = self.plan(streamers)
        self.transfer(jobs, progress)
        if self.cfg.nfo.write:
            self.writer.write_nfos(streamers)
        self.remember(streamers)
        s = self.summary
        s.errors += self.lookup.counts.errors
        s.needs_credentials = len(self.lookup.counts.needs_credentials)
        if self.svc.helix is not None:
            s.helix_calls = self.svc.helix.calls - helix_before
        s.seconds = self.clock.monotonic() - start
        self.state.set_meta("needs_credentials", str(s.needs_credentials))
        return s

    # -- reading -----------------------------------------------------------------------

    def read_tree(
        self, folders: list[StreamerFolder], dirty: Mapping[str, set[str] | None] | None
    ) -> list[StreamerWork]:
        """The selected streamer folders with the local metadata of their selected
        recordings (only those files are read)."""
        now = self.clock.time()
        works: list[StreamerWork] = []
        for folder in folders:
            if dirty is not None and folder.name not in dirty:
                continue
            wanted = None if dirty is None else dirty[folder.name]
            show = self._read_show(folder)
            recs = [
                self._read_recording(rec, show, now)
                for rec in folder.recordings
                if wanted is None or rec.rel in wanted
            ]
            work = StreamerWork(folder=folder, show=show, recordings=recs)
            work.known = self.state.folder(folder.name)
            work.complete_scan = not any(p.is_relative_to(folder.path) for p in self.unreadable)
            works.append(work)
            self.summary.recordings += len(recs)
        self.summary.streamers = len(works)
        return works

    def _read_show(self, folder: StreamerFolder) -> ShowMeta:
        if folder.tvshow_nfo is None:
            return ShowMeta()
        try:
            return read_tvshow_nfo(folder.tvshow_nfo)
        except MetadataError as exc:
            self._bad_file(folder.tvshow_nfo, exc)
            return ShowMeta()

    def _read_recording(self, rec: RecordingFiles, show: ShowMeta, now: float) -> RecordingWork:
        meta, conflicts, errors = gather_recording(rec, show)
        finished = is_finished(rec.mtime_ns, now, self.cfg.watch.settle_seconds)
        if finished and self.cfg.nfo.write:
            # The NFO writer reports (once) an episode NFO that does not parse.
            errors = [err for err in errors if not isinstance(err, NfoParseError)]
        for err in errors:
            self.summary.errors += 1
            if self.state.first_time(f"bad-meta:{rec.rel}:{err}", now):
                log.warning("unreadable metadata skipped %s", kv(recording=rec.rel, error=str(err)))
        for c in conflicts:
            if self.state.first_time(f"conflict:{rec.rel}:{c.field}:{c.other}", now):
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
        if not finished:
            self.summary.pending += 1
        return RecordingWork(files=rec, meta=meta, finished=finished)

    def _unreadable_folder(self, path: Path) -> None:
        self.summary.errors += 1
        self.summary.incomplete_scan = True
        self.unreadable.append(path)

    def _bad_file(self, path: Path, exc: SvimagedError) -> None:
        self.summary.errors += 1
        if self.state.first_time(f"bad-file:{path}", self.clock.time()):
            log.warning("file left alone %s", kv(path=str(path), error=str(exc)))

    # -- resolving ---------------------------------------------------------------------

    def resolve(self, streamers: list[StreamerWork]) -> None:
        """Pick each streamer's login and user id, then ask Helix (batched) for the rest."""
        for work in streamers:
            logins = Counter(r.meta.login for r in work.recordings if r.meta.login)
            folder_login = work.folder.name.lower()
            fallback = folder_login if LOGIN_RE.fullmatch(folder_login) else None
            known_login = work.known.login if work.known else None
            work.login = (
                logins.most_common(1)[0][0]
                if logins
                else work.show.login or known_login or fallback
            )
            ids = [r.meta.user_id for r in work.recordings if r.meta.user_id]
            known_id = work.known.user_id if work.known else None
            uid = work.show.user_id or (ids[0] if ids else None) or known_id
            work.user_id = uid if is_safe_id(uid) else None
        self.lookup.users(
            ids=[w.user_id for w in streamers if w.user_id],
            logins=[w.login for w in streamers if w.login and not w.user_id],
        )
        for work in streamers:
            self._apply_user(work)
        names = {r.meta.category_name for w in streamers for r in w.recordings}
        self.lookup.games(name for name in names if name)

    def _apply_user(self, work: StreamerWork) -> None:
        user = self.lookup.user(login=work.login, user_id=work.user_id)
        local_urls = [r.meta.profile_image_url for r in work.recordings if r.meta.profile_image_url]
        work.display_name = work.show.display_name or work.folder.name
        work.profile_url = local_urls[0] if local_urls else None
        if user is not None:
            work.user_id = work.user_id or user.id
            work.login = user.login
            work.display_name = user.display_name or work.display_name
            work.description = user.description or None
            work.profile_url = user.profile_image_url or work.profile_url
            work.offline_url = user.offline_image_url

    # -- planning ----------------------------------------------------------------------

    def plan(
        self, streamers: list[StreamerWork]
    ) -> list[tuple[ImageTask, Action, ImageRow | None]]:
        """Image tasks for every streamer, category and finished recording; only those that
        need a transfer are returned (deduplicated by cache path)."""
        tasks: dict[str, ImageTask] = {}
        for work in streamers:
            if work.user_id and work.profile_url:
                work.profile = ImageTask(
                    profile_rel(work.user_id), ImageKind.PROFILE, work.user_id, url=work.profile_url
                )
                tasks.setdefault(work.profile.rel, work.profile)
            for rec in work.recordings:
                category = self._category_task(rec.meta.category_name)
                if category is not None:
                    tasks.setdefault(category.rel, category)
                if rec.finished:
                    rec.artwork = self._artwork_task(work, rec)
                    if rec.artwork is not None:
                        tasks.setdefault(rec.artwork.rel, rec.artwork)
        now = self.clock.time()
        jobs: list[tuple[ImageTask, Action, ImageRow | None]] = []
        for task in tasks.values():
            row = self.state.image(task.rel)
            present = self.svc.store.exists(task.rel)
            if row is not None and row.cached and not present:
                self.state.mark_uncached(task.rel)
            action = decide(
                task,
                row,
                file_present=present,
                now=now,
                refresh_interval=self.cfg.refresh_interval,
                retry_failed_now=self.retry_failed_now,
            )
            if action is not Action.SKIP:
                jobs.append((task, action, row))
        return jobs

    def _category_task(self, name: str | None) -> ImageTask | None:
        if not name:
            return None
        if name in self.categories:
            return self.categories[name]
        game = self.lookup.game(name)
        task = None
        if game is not None and game.box_art_url:
            slug = category_slug_for(self.state, game.name, game.id)
            task = ImageTask(
                category_rel(slug), ImageKind.CATEGORY, game.name, url=game.box_art_url
            )
        self.categories[name] = task
        return task

    def _our_sidecar(self, path: Path) -> bool:
        """True for a `<stem>-thumb.jpg` the daemon placed (never an artwork source)."""
        known = self.state.sidecar(str(path.relative_to(self.cfg.recordings)))
        return known is not None and not known[1]

    def _artwork_task(self, work: StreamerWork, rec: RecordingWork) -> ImageTask | None:
        files, meta = rec.files, rec.meta
        rec.artwork_url = meta.thumbnail_url
        if not work.user_id:
            return None
        sid = stream_file_id(meta.stream_id, meta.local_id, files.rel)
        try:
            rel = artwork_rel(work.user_id, sid)
        except UnsafeNameError:
            return None
        key = f"{work.user_id}/{sid}"
        if files.thumb is not None and not self._our_sidecar(files.thumb):
            try:
                st = files.thumb.lstat()
                stamp = ImageTask.stamp(st.st_size, st.st_mtime_ns)
            except OSError:
                stamp = None
            return ImageTask(rel, ImageKind.ARTWORK, key, local=files.thumb, local_stamp=stamp)
        url = meta.thumbnail_url
        if url is None:
            row = self.state.image(rel)
            if row is not None and row.cached and row.source_url:
                url = row.source_url  # found earlier (Helix); keep refreshing from there
            elif meta.stream_id and is_safe_id(meta.stream_id):
                url = self.lookup.stream_thumbnail(work.user_id, meta.stream_id)
        rec.artwork_url = url
        if url is None and self.cfg.artwork.ffmpeg and ffmpeg_available():
            stamp = ImageTask.stamp(files.size, files.mtime_ns)
            return ImageTask(
                rel, ImageKind.ARTWORK, key, local=files.video, local_stamp=stamp, grab=True
            )
        return None if url is None else ImageTask(rel, ImageKind.ARTWORK, key, url=url)

    # -- transfers ---------------------------------------------------------------------

    def transfer(
        self, jobs: list[tuple[ImageTask, Action, ImageRow | None]], progress: Progress | None
    ) -> None:
        """Download and import what the plan asks for, `download.concurrency` at a time."""
        if jobs:
            log.info("images to transfer %s", kv(count=len(jobs)))
        transferer = self.svc.transferer()
        totals = transferer.run(jobs, progress)
        self.summary.cached.extend(str(self.svc.store.root / rel) for rel in totals.stored)
        self.summary.refreshed += totals.unchanged
        self.summary.failed += totals.failed
        self.summary.bytes_downloaded += totals.bytes

    # -- NFOs --------------------------------------------------------------------------

    # -- remembering -------------------------------------------------------------------

    def remember(self, streamers: list[StreamerWork]) -> None:
        """Store every processed recording's signature and ids, and each folder's, in one
        transaction; forget recordings that are gone from a completely listed folder."""
        now = self.clock.time()
        retry_all = self.lookup.counts.errors > 0  # Helix failed: look at these again
        with self.state.transaction():
            for work in streamers:
                for rec in work.recordings:
                    self.state.upsert_recording(self._row(work, rec, retry_all), now)
                if work.complete_scan:
                    present = {rec.rel for rec in work.folder.recordings}
                    stored = self.state.signatures(work.folder.name).get(work.folder.name, {})
                    self.state.forget_recordings(set(stored) - present)
                self.state.set_dirs(work.folder.name, self._dirs(work))
                tvshow = work.folder.path / TVSHOW_NFO
                poster_failed = work.folder.path / POSTER_NAME in self.writer.write_failed
                retry = tvshow in self.writer.write_failed or poster_failed
                self.state.upsert_folder(
                    FolderRow(
                        name=work.folder.name,
                        sig=None if retry else file_sig(tvshow),
                        user_id=work.user_id,
                        login=work.login,
                    ),
                    now,
                )

    def _dirs(self, work: StreamerWork) -> list[tuple[str, int]]:
        """Folder mtimes to remember: as listed, or as now where this pass wrote; none for an
        incompletely listed folder (so the next quick rescan looks at it again)."""
        if not work.complete_scan:
            return []
        root = self.cfg.recordings
        out = []
        for rel, mtime in work.folder.dirs:
            if root / rel in self.writer.wrote_in:
                now = dir_mtime(root, rel)
                if now is None:
                    continue
                mtime = now
            out.append((rel, mtime))
        return out

    def _row(self, work: StreamerWork, rec: RecordingWork, retry_all: bool) -> RecordingRow:
        files = rec.files
        sig = files.signature
        if rec.wrote_nfo or rec.wrote_sidecar:
            sig = f"{files.size}:{files.mtime_ns}:{companion_sig(files.video, files.stem)}"
        nfo = files.video.with_name(f"{files.stem}.nfo")
        failed = (
            nfo in self.writer.write_failed
            or thumb_path(files.video, files.stem) in self.writer.write_failed
        )
        if not rec.finished:
            sig = "pending"  # look again until it is finished
        elif retry_all or failed or self._incomplete(work, rec):
            sig = f"incomplete:{sig}"
        return RecordingRow(
            rel=files.rel,
            folder=work.folder.name,
            size=files.size,
            mtime_ns=files.mtime_ns,
            user_id=work.user_id,
            stream_id=rec.meta.stream_id,
            category=rec.meta.category_name,
            artwork_rel=rec.artwork.rel if rec.artwork else None,
            sig=sig,
        )

    def _incomplete(self, work: StreamerWork, rec: RecordingWork) -> bool:
        """True when Helix may give more later: artwork of a stream whose video is not
        listed yet, or a category Helix could not be asked about."""
        if not self.lookup.online:
            return False
        name = rec.meta.category_name
        if name and self.lookup.game(name) is None and not self.lookup.known_missing(name):
            return True
        return rec.artwork is None and bool(work.user_id) and bool(rec.meta.stream_id)
