"""Twitch look-ups with the state as a cache: users, games and archive videos.

Answers come from the state when they are younger than `recheck_after`; everything else is
asked from Helix in batches (N unknown logins cost ceil(N/100) calls). Without credentials
nothing is asked and what would have needed Helix is counted as `needs_credentials`. A Helix
failure is logged once per batch and counted; the pass goes on with what is known.

A `TwitchLookup` lives for one pass, and its waits for Helix's rate limit share one budget of
`HELIX_WAIT_BUDGET` seconds (on the injected clock). When Helix asks for a longer wait than
is left, that look-up and every later one of the pass are skipped without asking: counted as
`deferred` (one per skipped call), logged once, and asked again by a later pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from svimaged.core.clock import Clock
from svimaged.core.errors import HelixError, NeedsCredentialsError, RateLimitedError
from svimaged.core.log import kv
from svimaged.core.model import TwitchGame, TwitchUser, TwitchVideo
from svimaged.core.names import category_slug, slugify
from svimaged.state import State
from svimaged.twitch.helix import BATCH_SIZE, HelixClient, WaitBudget

log = logging.getLogger(__name__)

#: How far (seconds) a recorder's start may lie before a video's start or after its end and
#: still be matched to it.
MATCH_SLACK = 900.0
#: Seconds one pass (one `TwitchLookup`) may wait for Helix in total, rate limits and
#: retries together (contract section 4).
HELIX_WAIT_BUDGET = 60.0


@dataclass(slots=True)
class LookupCounts:
    """What the look-ups of one pass cost and left open."""

    needs_credentials: set[str] = field(default_factory=set)
    errors: int = 0
    deferred: int = 0  # Helix calls skipped once the wait budget was spent


def user_key(*, user_id: str | None = None, login: str | None = None) -> str:
    """How a user is named among the keys of `TwitchLookup.users_to_ask`: `id:<user id>`
    when the id is known, else `login:<login, lowercased>`; "" without either."""
    if user_id:
        return f"id:{user_id}"
    return f"login:{login.lower()}" if login else ""


class TwitchLookup:
    """Resolve logins, user ids, game names and stream thumbnails, caching in `state`."""

    def __init__(
        self,
        helix: HelixClient | None,
        state: State,
        clock: Clock,
        *,
        recheck_after: float,
    ) -> None:
        self._helix = helix if helix is not None and helix.has_credentials else None
        self._state = state
        self._clock = clock
        self._recheck_after = recheck_after
        self._videos: dict[str, list[TwitchVideo]] = {}
        self._videos_failed: set[str] = set()  # users whose listing failed in this pass
        self._budget = WaitBudget(HELIX_WAIT_BUDGET)
        self._out_of_budget = False  # Helix is not asked again in this pass
        self.counts = LookupCounts()

    @property
    def online(self) -> bool:
        """True when Helix can be asked (credentials are configured)."""
        return self._helix is not None

    def _deferred(self, exc: RateLimitedError | None = None) -> bool:
        """True (and the skipped call counted) once the pass's wait budget is spent; `exc`:
        it is spent now (logged once)."""
        if exc is not None and not self._out_of_budget:
            self._out_of_budget = True
            log.warning(
                "helix wait budget spent: the rest of this pass's look-ups are skipped and "
                "asked again by a later pass %s",
                kv(budget=HELIX_WAIT_BUDGET, error=str(exc)),
            )
        if self._out_of_budget:
            self.counts.deferred += 1
        return self._out_of_budget

    def _fresh(self, fetched_at: float | None) -> bool:
        return fetched_at is not None and self._clock.time() - fetched_at < self._recheck_after

    def _stale(
        self,
        keys: Iterable[str],
        fetched_at: Callable[[list[str]], Mapping[str, float]],
        missing_kind: str,
        missing_key: Callable[[str], str] = str,
    ) -> list[str]:
        """The keys (sorted, once each) that Helix was neither asked about (`fetched_at`:
        when each of these keys was, those never asked left out) nor told it lacks
        (`missing_kind`, under `missing_key(key)`) within `recheck_after`. A few queries
        for all of them."""
        wanted = sorted(set(keys))
        fetched = fetched_at(wanted)
        missing = self._state.twitch.missing_many(missing_kind, map(missing_key, wanted))
        return [
            key
            for key in wanted
            if not self._fresh(fetched.get(key)) and not self._fresh(missing.get(missing_key(key)))
        ]

    def users(self, *, logins: Iterable[str] = (), ids: Iterable[str] = ()) -> None:
        """Make sure the state knows these users; ask Helix for the unknown or stale ones."""
        for _page in self.ask_users(self.users_to_ask(logins=logins, ids=ids)):
            pass

    def users_to_ask(self, *, logins: Iterable[str] = (), ids: Iterable[str] = ()) -> list[str]:
        """The users of these that Helix must be asked about (unknown or stale), as
        `id:<user id>` and `login:<login>` keys (logins lowercased)."""
        twitch = self._state.twitch
        want_ids = self._stale(
            (uid for uid in ids if uid.isdigit()),
            twitch.ids_fetched_at,
            "user_id",
        )
        want_logins = self._stale(
            (login.lower() for login in logins),
            twitch.logins_fetched_at,
            "login",
        )
        return [user_key(user_id=x) for x in want_ids] + [user_key(login=x) for x in want_logins]

    def ask_users(self, keys: list[str]) -> Iterator[set[str]]:
        """Ask Helix about the users of `keys` (see `users_to_ask`), one page (`BATCH_SIZE`)
        at a time: after each page is stored, yields the keys it asked about (found or not),
        so the caller can go on with those users while later pages are asked. Without
        credentials nothing is asked (the keys count as needing them); stops after a failed
        page (logged and counted once)."""
        if not keys:
            return
        if self._helix is None:
            self.counts.needs_credentials.update(f"user:{key.split(':', 1)[1]}" for key in keys)
            return
        for first in range(0, len(keys), BATCH_SIZE):
            page = keys[first : first + BATCH_SIZE]
            ids = [key[3:] for key in page if key.startswith("id:")]
            logins = [key[6:] for key in page if key.startswith("login:")]
            if not self._user_page(ids, logins):
                return
            yield set(page)

    def _user_page(self, want_ids: list[str], want_logins: list[str]) -> bool:
        """Ask Helix about one page of users and store the answer; False when it failed."""
        helix, now = self._helix, self._clock.time()
        assert helix is not None
        if self._deferred():
            return False
        try:
            found = helix.users(ids=want_ids, logins=want_logins, budget=self._budget)
        except NeedsCredentialsError:
            self.counts.needs_credentials.update(f"user:{x}" for x in want_logins + want_ids)
            return False
        except RateLimitedError as exc:
            self._deferred(exc)
            return False
        except HelixError as exc:
            self.counts.errors += 1
            log.warning(
                "helix users lookup failed %s",
                kv(count=len(want_logins) + len(want_ids), error=str(exc)),
            )
            return False
        with self._state.transaction():
            for user in found:
                self._state.twitch.upsert_user(user, now)
            known = {user.login.lower() for user in found}
            for login in want_logins:
                if login not in known:
                    self._state.twitch.mark_missing("login", login, now)
                    log.info("twitch has no user %s", kv(login=login))
            known_ids = {user.id for user in found}
            for uid in want_ids:
                if uid not in known_ids:
                    self._state.twitch.mark_missing("user_id", uid, now)
                    log.info("twitch has no user %s", kv(user_id=uid))
        return True

    def known_users(
        self, wanted: Sequence[tuple[str | None, str | None]]
    ) -> list[TwitchUser | None]:
        """`user` for many `(user_id, login)` pairs at once (a few queries for all), in
        their order."""
        twitch = self._state.twitch
        by_id = twitch.users_by_id(uid for uid, _login in wanted if uid)
        by_login = twitch.users_by_login(
            login for uid, login in wanted if login and (not uid or uid not in by_id)
        )
        return [
            (by_id.get(uid) if uid else None) or (by_login.get(login.lower()) if login else None)
            for uid, login in wanted
        ]

    def user(self, *, login: str | None, user_id: str | None) -> TwitchUser | None:
        """The known Twitch user for an id (preferred) or login, from the state."""
        if user_id:
            found = self._state.twitch.user_by_id(user_id)
            if found is not None:
                return found
        if login:
            return self._state.twitch.user_by_login(login)
        return None

    def games(self, names: Iterable[str], ids: Iterable[str] = ()) -> None:
        """Make sure the state knows these categories (by name, or by id where a source gave
        only the id); ask Helix for unknown or stale ones, in one batch."""
        now = self._clock.time()
        twitch = self._state.twitch
        want = self._stale(names, lambda x: _each(x, twitch.game_fetched_at), "game", str.casefold)
        want_ids = self._stale(
            (game_id for game_id in ids if game_id.isdigit()),
            lambda x: _each(x, lambda game_id: _fetched(twitch.game_by_id(game_id))),
            "game-id",
        )
        if not want and not want_ids:
            return
        if self._helix is None:
            self.counts.needs_credentials.update(f"category:{name}" for name in want + want_ids)
            return
        if self._deferred():
            return
        try:
            found = self._helix.games(names=want, ids=want_ids, budget=self._budget)
        except RateLimitedError as exc:
            self._deferred(exc)
            return
        except HelixError as exc:
            self.counts.errors += 1
            log.warning(
                "helix games lookup failed %s", kv(count=len(want) + len(want_ids), error=str(exc))
            )
            return
        with self._state.transaction():
            for game in found:
                self._state.twitch.upsert_game(game, now)
            known = {game.name.casefold() for game in found}
            for name in want:
                if name.casefold() not in known:
                    self._state.twitch.mark_missing("game", name.casefold(), now)
                    log.info("twitch has no category %s", kv(category=name))
            known_ids = {game.id for game in found}
            for game_id in want_ids:
                if game_id not in known_ids:
                    self._state.twitch.mark_missing("game-id", game_id, now)
                    log.info("twitch has no category %s", kv(category_id=game_id))

    def game_name(self, game_id: str) -> str | None:
        """The name of the known Twitch category with this id, from the state."""
        found = self._state.twitch.game_by_id(game_id)
        return None if found is None else found[0].name

    def known_missing(self, name: str) -> bool:
        """True when Helix said recently that it has no category with this name."""
        return self._fresh(self._state.twitch.missing_since("game", name.casefold()))

    def game(self, name: str) -> TwitchGame | None:
        """The known Twitch category with this name, from the state."""
        return self._state.twitch.game_by_name(name)

    def stream_thumbnail(self, user_id: str, stream_id: str) -> str | None:
        """The thumbnail URL of the archive video of `stream_id`, asking Helix at most once
        per user and pass, and at most once per `recheck_after` for a stream it lacks."""
        key = f"{user_id}/{stream_id}"
        if self._fresh(self._state.twitch.missing_since("video", key)):
            return None
        videos = self._listing(user_id, key)
        if videos is None:
            return None
        url = next((v.thumbnail_url for v in videos if v.stream_id == stream_id), None)
        if url is None:
            self._state.twitch.mark_missing("video", key, self._clock.time())
        return url

    def video_at(self, user_id: str, started_at: datetime) -> TwitchVideo | None:
        """The archive video whose stream was live at `started_at` (a recorder's start, which
        may come some minutes after the stream's): the one starting closest to it among those
        that began at most `MATCH_SLACK` later and ended at most `MATCH_SLACK` earlier. Asks
        Helix as `stream_thumbnail` does; a time without a match is not asked about again
        for `recheck_after`."""
        moment = started_at.timestamp()
        key = f"{user_id}/{int(moment)}"
        if self._fresh(self._state.twitch.missing_since("video-at", key)):
            return None
        videos = self._listing(user_id, f"at:{key}")
        if videos is None:
            return None
        best: tuple[float, TwitchVideo] | None = None
        for video in videos:
            if video.created_at is None:
                continue
            begin = video.created_at.timestamp()
            end = begin + (video.duration or 0)
            if begin - MATCH_SLACK <= moment <= end + MATCH_SLACK:
                distance = abs(moment - begin)
                if best is None or distance < best[0]:
                    best = (distance, video)
        if best is None:
            self._state.twitch.mark_missing("video-at", key, self._clock.time())
            return None
        return best[1]

    def video_by_id(self, user_id: str, video_id: str) -> TwitchVideo | None:
        """The user's archive video with this id (asked as `stream_thumbnail` is; an id
        Twitch does not list, a highlight's for instance, is not asked about again for
        `recheck_after`)."""
        key = f"{user_id}/{video_id}"
        if not video_id.isdigit() or self._fresh(self._state.twitch.missing_since("video-id", key)):
            return None
        videos = self._listing(user_id, f"id:{key}")
        if videos is None:
            return None
        found = next((video for video in videos if video.id == video_id), None)
        if found is None:
            self._state.twitch.mark_missing("video-id", key, self._clock.time())
        return found

    def _listing(self, user_id: str, wanted: str) -> list[TwitchVideo] | None:
        """The user's archive videos, listed at most once per pass; None without Helix (then
        `wanted` counts as needing credentials) or when the listing failed."""
        if self._helix is None:
            self.counts.needs_credentials.add(f"video:{wanted}")
            return None
        if user_id in self._videos_failed:
            return None
        videos = self._videos.get(user_id)
        if videos is None:
            if self._deferred():
                self._videos_failed.add(user_id)
                return None
            try:
                videos = self._helix.videos(user_id, budget=self._budget)
            except RateLimitedError as exc:
                self._videos_failed.add(user_id)
                self._deferred(exc)
                return None
            except HelixError as exc:
                self._videos_failed.add(user_id)
                self.counts.errors += 1
                log.warning("helix videos lookup failed %s", kv(user_id=user_id, error=str(exc)))
                return None
            self._videos[user_id] = videos
        return videos


def _each(keys: list[str], fetched_at: Callable[[str], float | None]) -> dict[str, float]:
    """A bulk `fetched_at` for `TwitchLookup._stale` from one for a single key (categories:
    a pass has few)."""
    return {key: at for key in keys if (at := fetched_at(key)) is not None}


def _fetched(found: tuple[TwitchGame, float] | None) -> float | None:
    return None if found is None else found[1]


def category_slug_for(state: State, name: str, game_id: str) -> str:
    """The slug of a category's image, given for good the first time: the plain slug,
    `<slug>_<game_id>` when another category owns it, the name-hash form when even that is
    taken (contract section 3.1)."""
    known = state.twitch.category_slug(name)
    if known is not None:
        return known
    slug = category_slug(name, game_id, state.twitch.slug_owner(slugify(name)))
    owner = state.twitch.slug_owner(slug)
    if owner is not None and owner != name:
        slug = category_slug(name, None, taken_by=owner)
    state.twitch.assign_slug(name, slug, game_id)
    return slug
