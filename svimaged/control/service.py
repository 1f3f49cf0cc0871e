"""`DaemonApi`: the `ControlApi` the control server calls, over the daemon's `Pipeline`.

Every method may run on many server threads at once: the state, the fetcher and the Helix
client are thread-safe, single downloads go through the same `Transferer` as a pass, and
long operations (sync, cleanup) run as jobs one after another.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from svimaged import __version__
from svimaged.control.jobs import JobRegistry, Progress
from svimaged.core.errors import FetchError, NotFoundError, UnsafeNameError
from svimaged.core.model import ImageKind, ImageRow, TwitchGame, TwitchUser
from svimaged.core.names import category_rel, is_safe_id, profile_rel
from svimaged.images.tasks import Action, ImageTask
from svimaged.images.transfer import Outcome
from svimaged.library.names import LOGIN_RE
from svimaged.pipeline import Pipeline
from svimaged.twitch.lookup import TwitchLookup, category_slug_for

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]
SYNC_WAIT_LIMIT = 3600.0


class DaemonApi:
    """The control API of a running daemon."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        enqueue: Enqueue,
        queue_depth: Callable[[], int] = lambda: 0,
    ) -> None:
        self.pipeline = pipeline
        self.res = pipeline.res
        self.images_root: Path = pipeline.res.store.root
        self.version = __version__
        self._enqueue = enqueue
        self._queue_depth = queue_depth
        self._stopping = threading.Event()
        self.jobs = JobRegistry(pipeline.res.clock)

    def shutting_down(self) -> bool:
        """True once `stop()` was called."""
        return self._stopping.is_set()

    def stop(self) -> None:
        """Refuse new work and cancel queued jobs; returns at once (a running job ends on its
        own, see `JobRegistry.join`)."""
        self._stopping.set()
        self.jobs.close(timeout=0)

    def stats(self) -> dict[str, object]:
        """The stats object (contract section 7), with the work queue added to `queue.pending`."""
        stats = self.pipeline.stats()
        queue = stats.get("queue")
        if isinstance(queue, dict):
            queue["pending"] = int(queue.get("pending", 0)) + self._queue_depth()
        return stats

    # -- streamers ---------------------------------------------------------------------

    def _find_user(self, id_or_login: str, *, ask_helix: bool) -> TwitchUser:
        value = _check_user_key(id_or_login)
        state = self.res.state
        user = state.twitch.user_by_id(value) if value.isdigit() else None
        user = user or state.twitch.user_by_login(value)
        if user is None and ask_helix:
            lookup = self._lookup()
            ids, logins = ([value], []) if value.isdigit() else ([], [value])
            lookup.users(ids=ids, logins=logins)
            user = lookup.user(login=None if value.isdigit() else value, user_id=value)
        if user is None:
            raise NotFoundError(f"unknown streamer {value!r}")
        return user

    def streamer(self, id_or_login: str) -> dict[str, object]:
        """What is known and cached about a streamer (by Twitch user id or login)."""
        return self._streamer_view(self._find_user(id_or_login, ask_helix=False))

    def _streamer_view(self, user: TwitchUser) -> dict[str, object]:
        rel = profile_rel(user.id)
        view = self._image_view(rel, user.profile_image_url)
        return {
            "streamer_id": user.id,
            "username": user.login,
            "display_name": user.display_name,
            **view,
        }

    def download_streamer(self, id_or_login: str, *, force: bool) -> dict[str, object]:
        """Download the streamer's profile image now (also when cached, with `force`)."""
        user = self._find_user(id_or_login, ask_helix=True)
        if not user.profile_image_url:
            raise NotFoundError(f"twitch has no profile image for streamer {user.id}")
        task = ImageTask(
            profile_rel(user.id), ImageKind.PROFILE, user.id, url=user.profile_image_url
        )
        self._download(task, force)
        for folder in self.res.state.recordings.invalidate(user_ids=[user.id]):
            self._enqueue(folder)
        return self._streamer_view(user)

    # -- categories --------------------------------------------------------------------

    def _find_game(self, name: str, *, ask_helix: bool) -> TwitchGame:
        name = _check_category(name)
        game = self.res.state.twitch.game_by_name(name)
        if game is None and ask_helix:
            lookup = self._lookup()
            lookup.games([name])
            game = lookup.game(name)
        if game is None:
            raise NotFoundError(f"unknown category {name!r}")
        return game

    def _category_view(self, game: TwitchGame) -> dict[str, object]:
        slug = self.res.state.twitch.category_slug(game.name)
        rel = category_rel(slug) if slug is not None else None
        return {
            "category_name": game.name,
            "category_id": game.id,
            "slug": slug,
            **self._image_view(rel, game.box_art_url),
        }

    def category(self, name: str) -> dict[str, object]:
        """What is known and cached about a category (by name)."""
        return self._category_view(self._find_game(name, ask_helix=False))

    def download_category(self, name: str, *, force: bool) -> dict[str, object]:
        """Download the category's box art now (also when cached, with `force`)."""
        game = self._find_game(name, ask_helix=True)
        if not game.box_art_url:
            raise NotFoundError(f"twitch has no box art for category {game.name!r}")
        slug = category_slug_for(self.res.state, game.name, game.id)
        task = ImageTask(category_rel(slug), ImageKind.CATEGORY, game.name, url=game.box_art_url)
        self._download(task, force)
        for folder in self.res.state.recordings.invalidate(categories=[game.name]):
            self._enqueue(folder)
        return self._category_view(game)

    # -- shared ------------------------------------------------------------------------

    def _lookup(self) -> TwitchLookup:
        return TwitchLookup(
            self.res.helix,
            self.res.state,
            self.res.clock,
            recheck_after=0.0,  # an operator asked: ask Twitch now
        )

    def _image_view(self, rel: str | None, original: str | None) -> dict[str, object]:
        row: ImageRow | None = self.res.state.images.get(rel) if rel is not None else None
        cached = row is not None and row.cached and rel is not None and self.res.store.exists(rel)
        return {
            "image_url": f"/data/images/{rel}" if cached else original,
            "original_image_url": original,
            "cached": cached,
            "last_error": row.last_error if row is not None else None,
        }

    def _download(self, task: ImageTask, force: bool) -> None:
        row = self.res.state.images.get(task.rel)
        action = Action.FETCH if force or row is None or not row.cached else Action.REVALIDATE
        transferer = self.res.transferer()
        outcome, _size, error = transferer.one(task, action, row)
        if outcome is Outcome.FAILED:
            raise FetchError(f"download failed for {task.rel}: {error}")

    # -- jobs --------------------------------------------------------------------------

    def start_sync(self, *, full: bool = False) -> str:
        """Queue a pass: rescan (folders only, every file with `full` or once a day), missing
        images, failed ones now, NFOs. A sync already queued (not yet running) takes this
        request: its id is returned."""

        def sync(progress: Progress) -> dict[str, object]:
            summary = self.pipeline.full_pass(
                retry_failed_now=True, progress=progress, full=True if full else None
            )
            return {
                "downloaded": len(summary.cached),
                "failed": summary.failed,
                "nfo_written": len(summary.nfo_written),
                "seconds": round(summary.seconds, 3),
            }

        return self.jobs.submit("sync", sync, key=f"sync full={full}")

    def job(self, job_id: str) -> dict[str, object]:
        """A job's state and, once done, its result."""
        return self.jobs.get(job_id)

    def wait_job(self, job_id: str, timeout: float) -> dict[str, object]:
        """Wait (bounded) for a job to finish; a job that failed raises its error."""
        return self.jobs.outcome(job_id, min(timeout, SYNC_WAIT_LIMIT))

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        """Remove cached files nobody references any more (runs in the job queue, waits)."""
        return self.jobs.run(
            "cleanup",
            lambda progress: self.pipeline.cleanup(dry_run=dry_run, progress=progress),
            SYNC_WAIT_LIMIT,
            key=f"cleanup dry_run={dry_run}",  # the same cleanup queued already answers both
        )

    def metrics(self) -> str:
        """Prometheus text exposition (version 0.0.4)."""
        from svimaged.control.metrics import render_metrics

        return render_metrics(self.pipeline, queue_depth=self._queue_depth())


def _check_user_key(value: str) -> str:
    """A Twitch user id (digits) or login; anything else is a bad name (400)."""
    value = value.strip()
    if (value.isascii() and value.isdigit() and is_safe_id(value)) or LOGIN_RE.fullmatch(
        value.lower()
    ):
        return value.lower()
    raise UnsafeNameError(f"not a Twitch user id or login: {value[:60]!r}")


def _check_category(name: str) -> str:
    """A category name as Twitch spells it: printable, at most 200 characters."""
    if not name or len(name) > 200 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UnsafeNameError(f"not a category name: {name[:60]!r}")
    return name
