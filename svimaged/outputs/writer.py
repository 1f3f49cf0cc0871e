"""What a pass writes: `tvshow.nfo` per streamer folder, the NFO of every finished
recording (merged, atomic, only when the bytes differ) and, with `nfo.sidecars`, the sidecar
images. Failures are counted and remembered so the next pass tries again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

from svimaged.core.atomic import fsync_dir
from svimaged.core.errors import MetadataError, SvimagedError
from svimaged.core.log import kv
from svimaged.images.tasks import ImageTask, reference, season_thumbs
from svimaged.library.names import parse_recording_name
from svimaged.nfo.files import NfoOutcome, update_nfo
from svimaged.nfo.merge import merge_episode, merge_tvshow
from svimaged.nfo.model import EpisodeInfo, ShowInfo
from svimaged.outputs.sidecars import POSTER_NAME, Placed, place, thumb_path
from svimaged.pipeline.report import PassSummary, RecordingWork, StreamerWork
from svimaged.pipeline.resources import Services

log = logging.getLogger(__name__)

CategoryTask = Callable[[str | None], ImageTask | None]
BadFile = Callable[[Path, SvimagedError], None]


class Writer:
    """The writing step of one pass."""

    def __init__(
        self, svc: Services, summary: PassSummary, category_task: CategoryTask, bad_file: BadFile
    ) -> None:
        self.svc = svc
        self.cfg = svc.config
        self.state = svc.state
        self.clock = svc.clock
        self.summary = summary
        self._category_task = category_task
        self._bad_file = bad_file
        self.write_failed: set[Path] = set()  # NFOs/sidecars whose write failed: try again
        self.wrote_in: set[Path] = set()  # folders the pass wrote files into

    def _ref(self, task: ImageTask | None, url: str | None) -> str | None:
        rel = task.rel if task is not None else None
        row = self.state.image(rel) if rel is not None else None
        cached = row is not None and row.cached
        original = url if url is not None else (task.url if task is not None else None)
        return reference(self.svc.store.root, rel, cached, original, self.cfg.nfo.path_map)

    def write_nfos(self, streamers: list[StreamerWork]) -> None:
        """Merge tvshow.nfo per streamer folder and the NFO of every finished recording."""
        for work in streamers:
            with self.state.transaction():
                before = set(self.wrote_in)
                self._write_streamer(work)
                for folder in self.wrote_in - before:  # one folder fsync per batch of renames
                    fsync_dir(folder)

    def _write_streamer(self, work: StreamerWork) -> None:
        poster = self._ref(work.profile, work.profile_url)
        show = ShowInfo(
            title=work.display_name,
            plot=work.description,
            user_id=work.user_id,
            poster=poster,
            fanart=reference(self.svc.store.root, None, False, work.offline_url, ()),
            season_thumbs=season_thumbs(
                self._seasons(work),
                self.cfg.nfo.season_poster,
                poster,
                lambda name: self._ref(self._category_task(name), None),
            ),
        )
        self._update(work.folder.path / "tvshow.nfo", lambda ex: merge_tvshow(ex, show))
        for rec in work.recordings:
            if rec.finished:
                self._write_episode(work, rec)
        if self.cfg.nfo.sidecars != "none":
            self._sidecars(work)

    def _sidecars(self, work: StreamerWork) -> None:
        """poster.jpg and <stem>-thumb.jpg copies or links of the cached images."""
        if work.profile is not None:
            self._place(
                work.folder.path / POSTER_NAME, work.profile.rel, f"folder:{work.folder.name}"
            )
        for rec in work.recordings:
            if not rec.finished:
                continue
            category = self._category_task(rec.meta.category_name)
            source = rec.artwork or category
            if source is not None:
                target = thumb_path(rec.files.video, rec.files.stem)
                rec.wrote_sidecar = self._place(target, source.rel, f"rec:{rec.files.rel}")

    def _place(self, target: Path, rel: str, owner: str) -> bool:
        """Place one sidecar; True when a file was written."""
        row = self.state.image(rel)
        if row is None or not row.cached or row.sha256 is None:
            return False
        key = str(target.relative_to(self.cfg.recordings))
        known = self.state.sidecar(key)
        if known is not None and known[1]:
            return False  # the user's file
        try:
            placed = place(
                target,
                self.svc.store.resolve(rel),
                row.sha256,
                owned_sha=known[0] if known is not None else None,
                mode=self.cfg.nfo.sidecars,
            )
        except (OSError, SvimagedError) as exc:
            self.summary.errors += 1
            self.write_failed.add(target)
            log.error("sidecar failed %s", kv(path=str(target), error=str(exc)))
            return False
        now = self.clock.time()
        if placed is Placed.FOREIGN:
            self.state.record_sidecar(key, owner, None, foreign=True, at=now)
            log.info("sidecar left alone (not ours) %s", kv(path=str(target)))
            return False
        if placed is Placed.WRITTEN:
            self.wrote_in.add(target.parent)
            self.state.record_sidecar(key, owner, row.sha256, foreign=False, at=now)
            return True
        return False

    def _seasons(self, work: StreamerWork) -> dict[int, list[str | None]]:
        """Season number -> categories of its recordings, for every recording of the folder
        (names parsed from the listing; categories from this pass, else from the state)."""
        known = self.state.categories_by_recording(work.folder.name)
        fresh = {r.files.rel: r.meta.category_name for r in work.recordings}
        seasons: dict[int, list[str | None]] = {}
        for files in work.folder.recordings:
            season = parse_recording_name(files.stem, work.folder.name).season
            if season is not None:
                category = fresh.get(files.rel, known.get(files.rel))
                seasons.setdefault(season, []).append(category)
        return seasons

    def _write_episode(self, work: StreamerWork, rec: RecordingWork) -> None:
        meta = rec.meta
        category = self._category_task(meta.category_name)
        thumb = self._ref(rec.artwork, rec.artwork_url) or self._ref(category, None)
        aired = meta.started_at.astimezone(UTC).date() if meta.started_at else None
        info = EpisodeInfo(
            title=meta.title,
            showtitle=work.display_name,
            season=meta.season,
            episode=meta.episode,
            aired=aired,
            genre=meta.category_name,
            stream_id=meta.stream_id,
            thumb=thumb,
        )
        path = rec.files.video.with_name(f"{rec.files.stem}.nfo")
        rec.wrote_nfo = self._update(path, lambda ex: merge_episode(ex, info))

    def _update(self, path: Path, merge: Callable[[bytes | None], bytes]) -> bool:
        """Merge and write one NFO; True when the file was written."""
        key = str(path.relative_to(self.cfg.recordings))
        now = self.clock.time()
        try:
            outcome, digest = update_nfo(path, merge, mode=0o644, sync_dir=False)
        except MetadataError as exc:
            self._bad_file(path, exc)
            self.state.record_nfo(key, NfoOutcome.ERROR.value, None, now)
            return False
        except OSError as exc:
            self.summary.errors += 1
            self.write_failed.add(path)
            log.error("nfo write failed %s", kv(path=str(path), error=exc.strerror or str(exc)))
            return False
        self.state.forget_note(f"bad-file:{path}")
        if outcome is NfoOutcome.WRITTEN:
            self.wrote_in.add(path.parent)
            self.summary.nfo_written.append(str(path))
        else:
            self.summary.nfo_unchanged += 1
        if self.state.nfo_status(key) != outcome.value:
            self.state.record_nfo(key, outcome.value, digest, now)
        return outcome is NfoOutcome.WRITTEN
