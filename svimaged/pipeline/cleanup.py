"""Cleanup (contract section 7): delete cached files nobody references any more, the
daemon's sidecars whose recording or folder is gone, and its own leftover temporary files.

The state is brought up to date first (a full pass); when part of the tree cannot be listed
nothing is deleted (`IncompleteScanError`). What is an orphan is decided by the pure
`images.cleanup.decide`; only files the daemon names itself are ever deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from svimaged.core.atomic import unlink_at
from svimaged.core.errors import IncompleteScanError
from svimaged.core.log import kv
from svimaged.core.names import backdrop_rel, category_rel, is_safe_id, profile_rel, slugify
from svimaged.images import cleanup
from svimaged.images.transfer import Progress
from svimaged.outputs.place import file_digest, remove_if_owned
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.resources import Resources

log = logging.getLogger(__name__)

FullPass = Callable[[Progress | None], PassSummary]


class CacheCleaner:
    """Removes what nobody references."""

    def __init__(self, res: Resources, full_pass: FullPass) -> None:
        self.res = res
        self._full_pass = full_pass

    def referenced(self) -> set[str]:
        """Cache paths something still references: the profile and backdrop of every
        streamer folder that exists, the artwork of every recording, the image of every
        category in use."""
        state, recordings = self.res.state, self.res.config.recordings
        refs = set(state.recordings.artwork_in_use())
        for folder, user_id in state.folders.users().items():
            if (recordings / folder).is_dir() and is_safe_id(user_id):
                refs.add(profile_rel(user_id))
                refs.add(backdrop_rel(user_id))
        for name in state.recordings.categories_in_use():
            game = state.twitch.game_by_name(name)
            slug = state.twitch.category_slug(game.name if game is not None else name)
            if slug is None and game is None:  # box art imported for a category Twitch
                slug = slugify(name) or None  # was never asked about (no credentials)
            if slug is not None:
                refs.add(category_rel(slug))
        return refs

    def cleanup(self, *, dry_run: bool, progress: Progress | None = None) -> dict[str, object]:
        """Delete (or with `dry_run` list exactly) what a cleanup removes; the answer of
        the cleanup route."""
        if self._full_pass(progress).incomplete_scan:
            raise IncompleteScanError(
                "cleanup refused: part of the recordings tree could not be listed"
            )
        store, state, now = self.res.store, self.res.state, self.res.clock.time()
        created = {row.rel for row in state.images.all() if row.sha256}
        plan = cleanup.decide(
            cleanup.list_cache(store.root), self.referenced(), created=created, now=now
        )
        freed = sum(item.size for item in plan.deletions) if dry_run else 0
        if not dry_run:
            for item in plan.deletions:
                temporary = item in plan.temporary
                if store.remove_temp(item.rel) if temporary else store.remove(item.rel):
                    freed += item.size
                    state.images.forget(item.rel)
                    log.info("cleanup removed %s", kv(rel=item.rel, bytes=item.size))
            cleanup.remove_empty_folders(store.root)
        for rel in plan.foreign:
            log.info("cleanup left foreign file %s", kv(rel=rel))
        sidecars = self._clean_sidecars(dry_run)
        leftovers = self._clean_temp_files(dry_run)
        return {
            "profiles_cleaned": len(plan.profiles),
            "categories_cleaned": len(plan.categories),
            "artwork_cleaned": len(plan.artwork),
            "backdrops_cleaned": len(plan.backdrops),
            "total_cleaned": len(plan.deletions) - len(plan.temporary),
            "bytes_freed": freed,
            "dry_run": dry_run,
            "temporary_cleaned": len(plan.temporary) + leftovers,
            "sidecars_cleaned": sidecars,
            "files": [item.rel for item in plan.deletions],
            "foreign": plan.foreign,
        }

    def _clean_temp_files(self, dry_run: bool) -> int:
        """The daemon's own temporary files left in the tree (by a crash)."""
        recordings = self.res.config.recordings
        leftovers = cleanup.tree_temp_files(recordings, now=self.res.clock.time())
        if not dry_run:
            for path in leftovers:
                try:
                    if unlink_at(recordings, path):
                        log.info("cleanup removed temporary file %s", kv(path=str(path)))
                except OSError as exc:  # a folder swapped for a link: never followed
                    log.warning("temporary file not removed %s", kv(path=str(path), error=str(exc)))
        return len(leftovers)

    def _clean_sidecars(self, dry_run: bool) -> int:
        """Remove the sidecars the daemon placed for recordings or folders that are gone,
        only while they still hold the bytes it wrote."""
        count = 0
        recordings = self.res.config.recordings
        for path, sha in self.res.state.outputs.orphan_sidecars():
            target = recordings / path
            if dry_run:
                count += int(file_digest(target, root=recordings) == sha)
                continue
            try:
                removed = remove_if_owned(target, sha, root=recordings)
            except OSError as exc:
                log.warning("sidecar not removed %s", kv(path=path, error=str(exc)))
                continue
            if removed:
                count += 1
                log.info("cleanup removed sidecar %s", kv(path=path))
            self.res.state.outputs.forget_sidecar(path)
        return count
