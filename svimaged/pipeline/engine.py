"""The long-lived side of the pipeline: what the daemon's workers and `run --once` call.

Work is per streamer folder. `process_folder` lists one folder (names and `lstat` only),
compares each recording's stat signature with the state and processes only what changed, so
an event costs one listing when nothing changed (for instance an event caused by the
daemon's own NFO write, whose new signature is already stored). `rescan` does that comparison
for the whole tree without reading any file. `retry_due` and `refresh_stale` work from the
image rows of the state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from svimaged.config.load import Config
from svimaged.core.clock import Clock, utc_iso
from svimaged.core.errors import IncompleteScanError, MetadataError
from svimaged.core.log import kv
from svimaged.core.model import ImageKind, StreamerFolder
from svimaged.core.names import category_rel, is_safe_id, profile_rel
from svimaged.images import cleanup
from svimaged.images.tasks import (
    FRAME_SOURCE_PREFIX,
    LOCAL_SOURCE_PREFIX,
    MIGRATED_SOURCE_PREFIX,
    Action,
    ImageTask,
)
from svimaged.images.transfer import Progress
from svimaged.library.scan import (
    dir_mtime,
    file_sig,
    list_streamer_folders,
    scan_streamer,
    scan_tree,
)
from svimaged.outputs.sidecars import file_digest, remove_if_owned
from svimaged.pipeline.report import PassSummary
from svimaged.pipeline.resources import Services, build_services
from svimaged.pipeline.run import Pass
from svimaged.state import ImageRow

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]
#: A full (stat every file) rescan at least this often; the others stat folders only.
FULL_RESCAN_EVERY = 86400.0


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


class Engine:
    """Per-folder processing, rescans and image maintenance over one set of services."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._transfer_lock = threading.Lock()
        self._full_done = False  # the first rescan of an engine stats every file
        self._totals_lock = threading.Lock()
        #: Running totals since start, for /metrics: nfo_writes, errors, passes.
        self.totals: dict[str, int] = {"nfo_writes": 0, "errors": 0, "passes": 0}
        self._check_credentials()

    def _count(self, summary: PassSummary) -> PassSummary:
        with self._totals_lock:
            self.totals["nfo_writes"] += len(summary.nfo_written)
            self.totals["errors"] += summary.errors + summary.failed
            self.totals["passes"] += 1
        return summary

    def _check_credentials(self) -> None:
        """When credentials were added since the last run, look at everything again (what
        needed Helix was skipped before)."""
        online = "1" if self.svc.helix is not None else "0"
        if self.svc.state.get_meta("online") == "0" and online == "1":
            log.info("twitch credentials added: every recording will be looked at again")
            self.svc.state.invalidate_all()
        self.svc.state.set_meta("online", online)

    def is_known(self, folder: str) -> bool:
        """True when the state has processed this streamer folder before."""
        return self.svc.state.folder(folder) is not None

    def process_folder(self, name: str) -> PassSummary:
        """Bring one streamer folder up to date; a folder that is gone is forgotten."""
        recordings = self.svc.config.recordings
        unreadable: list[Path] = []
        try:
            folder = scan_streamer(recordings, name, on_error=unreadable.append)
        except MetadataError as exc:
            if not (recordings / name).exists() and self.is_known(name):
                log.info("streamer folder gone %s", kv(folder=name))
                self.svc.state.forget_folder(name)
            else:
                log.warning("streamer folder skipped %s", kv(folder=name, error=str(exc)))
            return PassSummary()
        stored = self.svc.state.signatures(name).get(name, {})
        known = self.svc.state.folder(name)
        if known is not None and not folder_changed(folder, stored, known.sig):
            if not unreadable and not self.svc.state.has_dirs(name):
                self.svc.state.set_dirs(name, folder.dirs)  # quick rescans can skip it now
            return PassSummary()
        dirty = {name: changed_recordings(folder, stored)}
        passed = Pass(self.svc)
        passed.unreadable.extend(unreadable)  # their recordings stay in the state
        summary = passed.run(folders=[folder], dirty=dirty)
        summary.incomplete_scan = summary.incomplete_scan or bool(unreadable)
        return self._count(summary)

    def rescan(self, enqueue: Enqueue, *, full: bool | None = None) -> int:
        """Enqueue every streamer folder with a change (new, gone, changed) without reading
        any file; returns how many. A quick rescan stats only the folders (any file created,
        deleted or renamed in a folder changes its mtime; atomic writes are renames); a full
        one stats every recording and companion, which also sees files rewritten in place.
        `full=None`: the first rescan of this engine and then one a day are full."""
        if full is None:
            last = float(self.svc.state.get_meta("last_full_rescan") or 0)
            full = not self._full_done or self.svc.clock.time() - last >= FULL_RESCAN_EVERY
        count = self._full_rescan(enqueue) if full else self._quick_rescan(enqueue)
        self._synced()
        return count

    def _quick_rescan(self, enqueue: Enqueue) -> int:
        state, recordings = self.svc.state, self.svc.config.recordings
        names = set(list_streamer_folders(recordings))
        known = set(state.folder_names())
        look = state.folders_to_look_at()
        dirs = state.dirs()
        changed = sorted(known - names)  # gone
        for name in sorted(names):
            stored = dirs.get(name)
            if name not in known or name in look or not stored or _moved(recordings, stored):
                changed.append(name)
        for name in changed:
            enqueue(name)
        log.info("quick rescan done %s", kv(folders=len(names), changed=len(changed)))
        return len(changed)

    def _full_rescan(self, enqueue: Enqueue) -> int:
        state = self.svc.state
        signatures = state.signatures()
        known = set(state.folder_names())
        count = 0
        seen: set[str] = set()
        for folder in scan_tree(self.svc.config.recordings):
            seen.add(folder.name)
            row = state.folder(folder.name) if folder.name in known else None
            stored = signatures.get(folder.name, {})
            if row is None or folder_changed(folder, stored, row.sig):
                enqueue(folder.name)
                count += 1
        for name in sorted(known - seen):
            enqueue(name)
            count += 1
        self._full_done = True
        state.set_meta("last_full_rescan", repr(self.svc.clock.time()))
        log.info("full rescan done %s", kv(folders=len(seen), changed=count))
        return count

    def _synced(self) -> None:
        now = self.svc.clock.time()
        self.svc.state.set_meta("last_sync", utc_iso(now))
        self.svc.state.set_meta("last_sync_epoch", repr(now))

    def retry_due(
        self, enqueue: Enqueue, *, everything: bool = False, progress: Progress | None = None
    ) -> PassSummary:
        """Retry failed images whose retry time has come (`everything`: all failed ones),
        then enqueue the folders whose NFOs can now point at the cached files."""
        now = self.svc.clock.time()
        rows = self.svc.state.due_images(now, include_waiting=everything)
        summary = self._run_rows(rows, progress)
        self._reopen_folders(summary, enqueue)
        return summary

    def refresh_stale(self, enqueue: Enqueue, progress: Progress | None = None) -> PassSummary:
        """Revalidate cached images older than `refresh_interval` (conditional GETs) and
        fetch again the cached files that vanished from disk."""
        now = self.svc.clock.time()
        state, store = self.svc.state, self.svc.store
        gone = [row for row in state.images() if row.cached and not store.exists(row.rel)]
        for row in gone:
            log.warning("cached image missing on disk %s", kv(rel=row.rel))
            state.mark_uncached(row.rel)
        missing = {row.rel for row in gone}
        refetch = [replace(row, cached=False, etag=None, last_modified=None) for row in gone]
        stale = state.stale_images(now - self.svc.config.refresh_interval)
        summary = self._run_rows(refetch + [r for r in stale if r.rel not in missing], progress)
        if self.svc.config.nfo.sidecars != "none":
            self._reopen_folders(summary, enqueue)  # changed images: sidecars follow
        return summary

    def _reopen_folders(self, summary: PassSummary, enqueue: Enqueue) -> None:
        root = f"{self.svc.store.root}/"
        for path in summary.cached:
            row = self.svc.state.image(path.removeprefix(root))
            if row is not None:
                for folder in self._folders_using(row):
                    enqueue(folder)

    def _run_rows(self, rows: Iterable[ImageRow], progress: Progress | None) -> PassSummary:
        jobs: list[tuple[ImageTask, Action, ImageRow | None]] = []
        for row in rows:
            task = _task_from_row(row)
            if task is None:
                continue
            if task.local is not None and row.cached and row.etag == task.local_stamp:
                continue  # a local source that did not change needs no re-import
            revalidate = row.cached and task.local is None
            jobs.append((task, Action.REVALIDATE if revalidate else Action.FETCH, row))
        summary = PassSummary()
        if not jobs:
            return summary
        transferer = self.svc.transferer()
        with self._transfer_lock:  # one maintenance batch at a time
            totals = transferer.run(jobs, progress)
        summary.cached.extend(str(self.svc.store.root / rel) for rel in totals.stored)
        summary.refreshed = totals.unchanged
        summary.failed = totals.failed
        summary.bytes_downloaded = totals.bytes
        return summary

    def _folders_using(self, row: ImageRow) -> set[str]:
        """Folders whose NFOs reference this image; their recordings are marked changed."""
        state = self.svc.state
        if row.kind is ImageKind.CATEGORY:
            return state.invalidate(category=row.key)
        return state.invalidate(user_id=row.key.split("/", 1)[0])

    def full_pass(
        self, *, retry_failed_now: bool = False, progress: Progress | None = None
    ) -> PassSummary:
        """`run --once` and the sync command: image maintenance, then every folder with a
        change (stat compare with the state), processed in one pass."""
        summary = PassSummary()
        summary.add(self.retry_due(lambda _f: None, everything=retry_failed_now))
        summary.add(self.refresh_stale(lambda _f: None))
        state = self.svc.state
        unreadable: list[Path] = []
        folders = list(scan_tree(self.svc.config.recordings, on_error=unreadable.append))
        signatures = state.signatures()
        dirty: dict[str, set[str] | None] = {}
        for folder in folders:
            row = state.folder(folder.name)
            stored = signatures.get(folder.name, {})
            if row is None or folder_changed(folder, stored, row.sig):
                dirty[folder.name] = changed_recordings(folder, stored)
        for name in set(state.folder_names()) - {f.name for f in folders}:
            if not (self.svc.config.recordings / name).exists():
                state.forget_folder(name)
        passed = Pass(self.svc, retry_failed_now=retry_failed_now)
        passed.unreadable.extend(unreadable)  # their recordings stay in the state
        result = passed.run(progress, folders=folders, dirty=dirty)
        summary.add(result)
        summary.streamers, summary.recordings = (
            len(folders),
            sum(len(f.recordings) for f in folders),
        )
        summary.incomplete_scan = summary.incomplete_scan or bool(unreadable)
        summary.errors += len(unreadable)
        self._synced()
        return self._count(summary)

    def referenced(self) -> set[str]:
        """Cache paths something still references: the profile of every streamer folder
        that exists, the artwork of every recording, the image of every category in use."""
        state = self.svc.state
        recordings = self.svc.config.recordings
        refs = set(state.artwork_in_use())
        for folder, user_id in state.folder_users().items():
            if (recordings / folder).is_dir() and is_safe_id(user_id):
                refs.add(profile_rel(user_id))
        for name in state.categories_in_use():
            game = state.game_by_name(name)
            slug = state.category_slug(game.name) if game is not None else None
            if slug is not None:
                refs.add(category_rel(slug))
        return refs

    def cleanup(self, *, dry_run: bool, progress: Progress | None = None) -> dict[str, object]:
        """Delete cached files nobody references any more (SPEC section 7). The state is
        brought up to date first; when part of the tree cannot be listed nothing is deleted
        (`IncompleteScanError`). `dry_run` lists exactly what a real run deletes."""
        summary = self.full_pass(progress=progress)
        if summary.incomplete_scan:
            raise IncompleteScanError(
                "cleanup refused: part of the recordings tree could not be listed"
            )
        store = self.svc.store
        created = {row.rel for row in self.svc.state.images() if row.sha256}
        plan = cleanup.decide(
            cleanup.list_cache(store.root),
            self.referenced(),
            created=created,
            now=self.svc.clock.time(),
        )
        freed = 0
        if not dry_run:
            for item in plan.deletions:
                removed = (
                    store.remove_temp(item.rel)
                    if item in plan.temporary
                    else store.remove(item.rel)
                )
                if removed:
                    freed += item.size
                    self.svc.state.forget_image(item.rel)
                    log.info("cleanup removed %s", kv(rel=item.rel, bytes=item.size))
            cleanup.remove_empty_folders(store.root)
        else:
            freed = sum(item.size for item in plan.deletions)
        for rel in plan.foreign:
            log.info("cleanup left foreign file %s", kv(rel=rel))
        sidecars = self._clean_sidecars(dry_run)
        leftovers = cleanup.tree_temp_files(self.svc.config.recordings, now=self.svc.clock.time())
        if not dry_run:
            for path in leftovers:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    log.info("cleanup removed temporary file %s", kv(path=str(path)))
        total = len(plan.profiles) + len(plan.categories) + len(plan.artwork)
        return {
            "profiles_cleaned": len(plan.profiles),
            "categories_cleaned": len(plan.categories),
            "artwork_cleaned": len(plan.artwork),
            "total_cleaned": total,
            "bytes_freed": freed,
            "dry_run": dry_run,
            "temporary_cleaned": len(plan.temporary) + len(leftovers),
            "sidecars_cleaned": sidecars,
            "files": [item.rel for item in plan.deletions],
            "foreign": plan.foreign,
        }

    def _clean_sidecars(self, dry_run: bool) -> int:
        """Remove the sidecars the daemon placed for recordings or folders that are gone,
        only while they still hold the bytes it wrote."""
        count = 0
        for path, sha in self.svc.state.orphan_sidecars():
            target = self.svc.config.recordings / path
            if dry_run:
                count += int(file_digest(target) == sha)
                continue
            if remove_if_owned(target, sha):
                count += 1
                log.info("cleanup removed sidecar %s", kv(path=path))
            self.svc.state.forget_sidecar(path)
        return count

    def stats(self) -> dict[str, object]:
        """The stats object of SPEC section 7."""
        return self.svc.state.stats(self.svc.clock.time())

    def close(self) -> None:
        """Release the services."""
        self.svc.close()


def _moved(recordings: Path, stored: dict[str, int]) -> bool:
    """True when any remembered folder is gone or has another mtime."""
    return any(dir_mtime(recordings, rel) != mtime for rel, mtime in stored.items())


def _task_from_row(row: ImageRow) -> ImageTask | None:
    source = row.source_url
    if not source or source.startswith(MIGRATED_SOURCE_PREFIX):
        return None  # a migrated file is replaced when a pass learns its real source
    for prefix in (LOCAL_SOURCE_PREFIX, FRAME_SOURCE_PREFIX):
        if source.startswith(prefix):
            local = Path(source.removeprefix(prefix))
            sig = file_sig(local)
            if sig == "-":
                return None  # the local file is gone; the folder pass will decide
            mtime, size = sig.split(".")
            stamp = ImageTask.stamp(int(size), int(mtime))
            grab = prefix == FRAME_SOURCE_PREFIX
            return ImageTask(row.rel, row.kind, row.key, local=local, local_stamp=stamp, grab=grab)
    return ImageTask(row.rel, row.kind, row.key, url=source)


def run_once(config: Config, clock: Clock, progress: Progress | None = None) -> PassSummary:
    """`svimaged run --once`: open everything, do one full pass, close, log the summary.

    Raises `SvimagedError` (exit code 1) when the pass cannot run at all.
    """
    if not config.recordings.is_dir():
        raise MetadataError(f"recordings folder {config.recordings} does not exist")
    engine = Engine(build_services(config, clock))
    try:
        if engine.svc.helix is None:
            log.warning(
                "no twitch credentials: using local metadata and URLs only "
                "(set SVIMAGED_TWITCH_CLIENT_ID and SVIMAGED_TWITCH_CLIENT_SECRET)"
            )
        summary = engine.full_pass(progress=progress)
    finally:
        engine.close()
    log.info(
        "pass done %s",
        kv(
            streamers=summary.streamers,
            recordings=summary.recordings,
            cached=len(summary.cached),
            refreshed=summary.refreshed,
            failed=summary.failed,
            nfo_written=len(summary.nfo_written),
            unchanged=summary.nfo_unchanged,
            errors=summary.errors,
            helix_calls=summary.helix_calls,
            bytes=summary.bytes_downloaded,
            seconds=round(summary.seconds, 2),
        ),
    )
    return summary
