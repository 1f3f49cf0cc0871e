"""The pipeline: one pass over the tree (`passes`) and the long-lived side around it that the
daemon's workers, the control API and `run --once` call (`Pipeline`).

`Pipeline` is a small facade over four parts with one job each: `ChangeProcessor` (pass over
what changed, one folder or the whole tree), `Rescanner` (which folders changed, no file
read), `ImageMaintenance` (retries, refreshes) and `CacheCleaner` (cleanup).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from svimaged.config import Config
from svimaged.core.clock import Clock
from svimaged.core.errors import MetadataError
from svimaged.core.log import kv
from svimaged.core.memory import settle_collector
from svimaged.images.transfer import Progress
from svimaged.notify import NotifyWorker
from svimaged.notify.worker import ONCE_BUDGET
from svimaged.outputs import settings_signature
from svimaged.pipeline.changes import ChangeProcessor
from svimaged.pipeline.cleanup import CacheCleaner
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.maintenance import ImageMaintenance
from svimaged.pipeline.rescan import Rescanner, mark_synced
from svimaged.pipeline.resources import Resources, build_resources
from svimaged.state.lock import StateLock

__all__ = ["PassSummary", "Pipeline", "Resources", "build_resources", "run_once"]

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]


class Pipeline:
    """Everything the daemon, the control API and `run --once` ask of the pipeline."""

    def __init__(
        self, res: Resources, *, on_pass: Callable[[PassSummary], None] | None = None
    ) -> None:
        self.res = res
        #: Called with each folder pass's and full pass's summary (the daemon hands what
        #: was written to the media-server notifier here); must return at once.
        self.on_pass = on_pass
        self.changes = ChangeProcessor(res)
        self.rescanner = Rescanner(res)
        self.maintenance = ImageMaintenance(res)
        self.cleaner = CacheCleaner(
            res, lambda progress: self.full_pass(progress=progress, full=True)
        )
        self._totals_lock = threading.Lock()
        self._rescan_lock = threading.Lock()
        self._rescan_again = False
        #: Running totals since start, for /metrics: nfo_writes, errors, passes.
        self.totals: dict[str, int] = {"nfo_writes": 0, "errors": 0, "passes": 0}
        self._check_credentials()
        self._check_output_settings()

    def _check_output_settings(self) -> None:
        """When a setting that changes what is written (path_map, media_servers, sidecars,
        season_poster, ...) differs from the one the state was built with, every folder is
        looked at again: each affected file is rewritten, the others produce the same bytes
        and are left alone."""
        meta = self.res.state.meta
        signature = settings_signature(self.res.config)
        stored = meta.get("outputs_settings")
        if stored != signature:
            if stored is not None or self.res.state.folders.names():
                log.info("output settings changed: every NFO and image file will be checked")
                self.res.state.recordings.invalidate_all()
            meta.set("outputs_settings", signature)

    def _check_credentials(self) -> None:
        """When credentials were added since the last run, look at everything again (what
        needed Helix was skipped before)."""
        meta = self.res.state.meta
        online = "1" if self.res.helix is not None else "0"
        if meta.get("online") == "0" and online == "1":
            log.info("twitch credentials added: every recording will be looked at again")
            self.res.state.recordings.invalidate_all()
        meta.set("online", online)

    def _count(self, summary: PassSummary) -> PassSummary:
        with self._totals_lock:
            self.totals["nfo_writes"] += len(summary.nfo_written)
            self.totals["errors"] += summary.errors + summary.failed
            self.totals["passes"] += 1
        if self.on_pass is not None and (summary.nfo_written or summary.placed):
            self.on_pass(summary)
        return summary

    def is_known(self, folder: str) -> bool:
        """True when the state has processed this streamer folder before."""
        return self.changes.is_known(folder)

    def process_folder(self, name: str) -> PassSummary:
        """Bring one streamer folder up to date (a daemon worker's unit of work)."""
        return self._count(self.changes.process_folder(name))

    def rescan(self, enqueue: Enqueue, *, full: bool | None = None) -> int:
        """Enqueue every changed streamer folder; returns how many. One rescan at a time: a
        rescan asked for while one runs (a long one outlasting `rescan_interval`, on another
        worker) is folded into it: the running one looks once more when it is done."""
        if not self._rescan_lock.acquire(blocking=False):
            self._rescan_again = True
            return 0
        try:
            count = self.rescanner.rescan(enqueue, full=full)
            while self._rescan_again:
                self._rescan_again = False
                count += self.rescanner.rescan(enqueue, full=False)
            return count
        finally:
            self._rescan_lock.release()

    def retry_due(
        self, enqueue: Enqueue, *, everything: bool = False, progress: Progress | None = None
    ) -> PassSummary:
        """Retry failed images whose time has come (or all); enqueue folders to rewrite."""
        return self.maintenance.retry_due(enqueue, everything=everything, progress=progress)

    def refresh_stale(self, enqueue: Enqueue, progress: Progress | None = None) -> PassSummary:
        """Revalidate old images and fetch vanished ones; enqueue folders to rewrite."""
        return self.maintenance.refresh_stale(enqueue, progress)

    def full_pass(
        self,
        *,
        retry_failed_now: bool = False,
        progress: Progress | None = None,
        full: bool | None = None,
    ) -> PassSummary:
        """`run --once` and sync: image maintenance, then every changed folder in one pass.

        Which folders changed is found like the daemon's rescans: `full=False` stats only
        folders (a file rewritten in place in an otherwise unchanged folder is missed; the
        watcher and the daily full comparison catch it), `full=True` stats every file.
        `full=None` (the default): full when the state knows no folder yet or the last full
        comparison is a day old, else quick."""
        summary = PassSummary()
        with self.res.one_run():  # a URL the refresh confirmed is not asked again
            summary.add(self.retry_due(lambda _f: None, everything=retry_failed_now))
            summary.add(self.refresh_stale(lambda _f: None))
            if full is None:
                full = not self.res.state.folders.names() or self.rescanner.full_due()
            if full:
                settle_collector()  # a long pass: start-up objects out of the collector's way
                result = self.changes.full_pass(
                    retry_failed_now=retry_failed_now, progress=progress
                )
                self.rescanner.mark_full()
            else:
                names, total = self.rescanner.quick_changes()
                result = self.changes.quick_pass(
                    names, total, retry_failed_now=retry_failed_now, progress=progress
                )
        summary.add(result)
        summary.streamers, summary.recordings = result.streamers, result.recordings
        mark_synced(self.res)
        return self._count(summary)

    def cleanup(self, *, dry_run: bool, progress: Progress | None = None) -> dict[str, object]:
        """Delete (or list) cached files nobody references any more."""
        return self.cleaner.cleanup(dry_run=dry_run, progress=progress)

    def stats(self) -> dict[str, object]:
        """The stats object of the control protocol."""
        return self.res.state.stats(self.res.clock.time())

    def close(self) -> None:
        """Release the resources."""
        self.res.close()


def notify_now(res: Resources, summary: PassSummary) -> None:
    """`run --once`: tell the configured media servers what the pass wrote, in this thread,
    retrying within `ONCE_BUDGET` seconds. Their answers never change the pass's outcome."""
    worker = NotifyWorker(res.config, res.state.notify, res.clock)  # registers the servers
    try:
        worker.submit_pass(summary)
        worker.flush(ONCE_BUDGET)
    finally:
        worker.close()


def run_once(
    config: Config, clock: Clock, progress: Progress | None = None, *, full: bool | None = None
) -> PassSummary:
    """`svimaged run --once`: open everything, do one pass over what changed (`full`: as in
    `Pipeline.full_pass`), tell the media servers (`notify`) what it wrote, close, log the
    summary.

    Raises `SvimagedError` (exit code 1) when the pass cannot run at all, for instance when
    another svimaged works on the same state folder (`StateLock`).
    """
    if not config.recordings.is_dir():
        raise MetadataError(f"recordings folder {config.recordings} does not exist")
    with StateLock(config.state_dir):
        pipeline = Pipeline(build_resources(config, clock))
        try:
            if pipeline.res.helix is None:
                log.warning(
                    "no twitch credentials: using local metadata and URLs only "
                    "(set SVIMAGED_TWITCH_CLIENT_ID and SVIMAGED_TWITCH_CLIENT_SECRET)"
                )
            summary = pipeline.full_pass(progress=progress, full=full)
            notify_now(pipeline.res, summary)
        finally:
            pipeline.close()
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
