"""Step 3 of a pass: one image task per cache file (the streamer's profile image, each
category's box art, each finished recording's artwork from the source chain), deduplicated
by path, and which of them need a transfer now (one state query for the whole batch)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from svimaged.core.errors import SvimagedError, UnsafeNameError
from svimaged.core.log import kv
from svimaged.core.model import ImageKind, ImageRow
from svimaged.core.names import (
    artwork_rel,
    backdrop_rel,
    category_rel,
    is_safe_id,
    profile_rel,
    slugify,
    stream_file_id,
)
from svimaged.images.frames import ffmpeg_available
from svimaged.images.sources import (
    ArchiverThumbnail,
    ArtworkChain,
    ArtworkQuery,
    FolderAvatar,
    HelixOffline,
    HelixProfile,
    HelixVideoThumbnail,
    InfoJsonProfile,
    InfoJsonThumbnail,
    LocalAvatar,
    LocalThumb,
    ProfileChain,
    ProfileQuery,
    RememberedUrl,
    StreamVaultBanner,
    VideoFrame,
    local_stamp,
)
from svimaged.images.store import ImageStore
from svimaged.images.tasks import Action, ImageTask, decide, task_keeping
from svimaged.pipeline.items import RecordingItem, StreamerItem
from svimaged.state import State
from svimaged.twitch.lookup import TwitchLookup, category_slug_for

log = logging.getLogger(__name__)

#: A task, what to do about it, and its state row before the transfer.
Job = tuple[ImageTask, Action, ImageRow | None]


class ImagePlanner:
    """Plans the image tasks of one pass."""

    def __init__(
        self,
        state: State,
        store: ImageStore,
        lookup: TwitchLookup,
        recordings: Path,
        *,
        ffmpeg: bool,
    ) -> None:
        self._state = state
        self._store = store
        self._lookup = lookup
        self._recordings = recordings
        self._categories: dict[str, ImageTask | None] = {}
        self._planned: set[str] = set()  # cache paths planned so far in this pass
        self._ours: set[Path] = set()  # sidecars svimaged placed (never a source)
        #: Cache files refused in this pass (a link or a file on the way), with why.
        self.refused: list[tuple[str, SvimagedError]] = []
        self.profiles = ProfileChain(
            [FolderAvatar(), HelixProfile(), InfoJsonProfile(), LocalAvatar(recordings)]
        )
        self.backdrops = ProfileChain([HelixOffline(), StreamVaultBanner(recordings)])
        self.chain = ArtworkChain(
            [
                LocalThumb(self._ours.__contains__, local_stamp),
                ArchiverThumbnail(local_stamp),
                InfoJsonThumbnail(),
                RememberedUrl(),
                HelixVideoThumbnail(lookup.online, lookup.stream_thumbnail),
                VideoFrame(ffmpeg and ffmpeg_available()),
            ]
        )

    def plan(self, items: list[StreamerItem]) -> list[ImageTask]:
        """Set each item's profile, backdrop, category and artwork tasks; every task once by
        path (a task an earlier call of the pass returned, box art for instance, is not
        returned again)."""
        tasks: dict[str, ImageTask] = {}
        for item in items:
            self._profile(item)
            if item.profile is not None:
                tasks.setdefault(item.profile.rel, item.profile)
            if item.backdrop is not None:
                tasks.setdefault(item.backdrop.rel, item.backdrop)
            self._note_our_sidecars(item)
            remembered = self._remembered_artwork(item)
            for rec in item.recordings:
                rec.category = self.category_task(rec.meta.category_name)
                if rec.category is not None:
                    tasks.setdefault(rec.category.rel, rec.category)
                rec.artwork_url = rec.meta.thumbnail_url
                if rec.finished and item.user_id:
                    rec.artwork = self._artwork(item.user_id, rec, remembered)
                    if rec.artwork is not None:
                        tasks.setdefault(rec.artwork.rel, rec.artwork)
        fresh = [task for rel, task in tasks.items() if rel not in self._planned]
        self._planned.update(tasks)
        return fresh

    def jobs(
        self, tasks: list[ImageTask], now: float, refresh: float, retry_now: bool
    ) -> list[Job]:
        """The tasks that need a transfer, with their state rows. A cached row whose file
        vanished is marked uncached (and fetched again)."""
        rows = self._state.images.get_many(task.rel for task in tasks)
        jobs: list[Job] = []
        for task in tasks:
            row = rows.get(task.rel)
            try:
                present = self._check_file(task.rel, row)
            except SvimagedError as exc:  # a link or a file where a cache folder should be
                self.refused.append((task.rel, exc))
                continue
            if row is not None and row.cached and not present:
                self._state.images.mark_uncached(task.rel)
                row = replace(row, cached=False, etag=None, last_modified=None)
            action = decide(
                task,
                row,
                file_present=present,
                now=now,
                refresh_interval=refresh,
                retry_failed_now=retry_now,
            )
            if action is not Action.SKIP:
                jobs.append((task, action, row))
        return jobs

    def avatar_exists(self, user_id: str) -> bool:
        """True when StreamVault's local avatar of this user is in the tree."""
        return is_safe_id(user_id) and LocalAvatar(self._recordings).exists(user_id)

    def _profile(self, item: StreamerItem) -> None:
        """The profile image and the backdrop from their chains; their URLs (if any) are
        what an NFO may show until the files are cached."""
        if not item.user_id:
            return
        user = self._lookup.user(login=item.login, user_id=item.user_id)
        metas = [rec.meta for rec in item.recordings]
        query = ProfileQuery(item.user_id, user, metas, item.folder.avatar)
        found = self.profiles.find(query)
        if found is not None:
            item.profile_url = found.url
            item.profile = found.task(profile_rel(item.user_id), ImageKind.PROFILE, item.user_id)
        found = self.backdrops.find(query)
        if found is not None:
            item.offline_url = found.url
            item.backdrop = found.task(backdrop_rel(item.user_id), ImageKind.BACKDROP, item.user_id)

    def _check_file(self, rel: str, row: ImageRow | None) -> bool:
        """True when the cached file is in place and holds the bytes the state recorded.

        A file whose size or mtime differ from the state's (rewritten in place, for instance
        through a hard-linked sidecar a media server saved art into) is read once: the same
        bytes get their new stamp remembered; other bytes count as missing, so the image is
        fetched again from its source and never served changed."""
        meta = self._store.read_meta(rel)
        if meta is None or row is None or not row.cached:
            return meta is not None
        size, mtime_ns = meta
        if row.file_mtime_ns is not None and (size, mtime_ns) == (row.size, row.file_mtime_ns):
            return True
        if self._store.digest(rel) == row.sha256:
            self._state.images.record_file_stamp(rel, size, mtime_ns)
            return True
        log.warning("cached image changed on disk, fetching it again %s", kv(rel=rel))
        return False

    def category_task(self, name: str | None) -> ImageTask | None:
        """The box art task of a category (once per pass); None without box art."""
        if not name:
            return None
        if name in self._categories:
            return self._categories[name]
        game = self._lookup.game(name)
        task = None
        if game is not None and game.box_art_url:
            slug = category_slug_for(self._state, game.name, game.id)
            task = ImageTask(
                category_rel(slug), ImageKind.CATEGORY, game.name, url=game.box_art_url
            )
        elif game is None:
            task = self._cached_box_art(name)
        self._categories[name] = task
        return task

    def _cached_box_art(self, name: str) -> ImageTask | None:
        """Box art already in the cache for a category Twitch was not asked about (no
        credentials): `svimaged migrate` imports StreamVault's. Kept as it is."""
        slug = self._state.twitch.category_slug(name) or slugify(name)
        if not slug:
            return None
        row = self._state.images.get(category_rel(slug))
        if row is None or row.key != name:
            return None
        return task_keeping(row)

    def _note_our_sidecars(self, item: StreamerItem) -> None:
        known = self._state.outputs.sidecars_under(item.folder.name)
        self._ours.update(self._recordings / path for path, row in known.items() if not row.foreign)

    def _remembered_artwork(self, item: StreamerItem) -> dict[str, ImageRow]:
        if not item.user_id:
            return {}
        targets = [_artwork_target(item.user_id, rec) for rec in item.recordings]
        return self._state.images.get_many(target[0] for target in targets if target)

    def _artwork(
        self, user_id: str, rec: RecordingItem, remembered: dict[str, ImageRow]
    ) -> ImageTask | None:
        target = _artwork_target(user_id, rec)
        if target is None:
            return None
        rel, key = target
        query = ArtworkQuery(rec.files, rec.meta, user_id, remembered.get(rel))
        found = self.chain.find(query)
        if found is None:
            return None
        if found.url is not None:
            rec.artwork_url = found.url
        return found.task(rel, ImageKind.ARTWORK, key)


def _artwork_target(user_id: str, rec: RecordingItem) -> tuple[str, str] | None:
    """The cache path and state key of a recording's artwork, None for an unsafe id."""
    sid = stream_file_id(rec.meta.stream_id, rec.meta.local_id, rec.files.rel)
    try:
        return artwork_rel(user_id, sid), f"{user_id}/{sid}"
    except UnsafeNameError:
        return None
