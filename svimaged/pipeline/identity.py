"""Step 2 of a pass: who each streamer folder is (login, Twitch user id, display name,
description, image URLs) and which categories the recordings use, from the local metadata
first, then Helix in batches (unknown games of the whole pass in one go, unknown users a page
of 100 at a time, the pass going on with each page's streamers at once); and, for
a finished recording that knows only when it started (a streamlink recorder's name), which
Twitch stream it was, from the user's archive videos matched by time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from svimaged.core.model import TwitchUser
from svimaged.core.names import is_safe_id
from svimaged.library.names import LOGIN_RE
from svimaged.pipeline.items import StreamerItem
from svimaged.twitch.lookup import TwitchLookup, user_key


def resolve_identities(
    items: list[StreamerItem], lookup: TwitchLookup, avatar_exists: Callable[[str], bool]
) -> Iterator[list[StreamerItem]]:
    """Fill each item's identity; ask Helix once for every unknown game, and about the
    unknown users a page at a time. Yields the items in groups as soon as their identity is
    complete: first those that need no users call, then those of each page as it is
    answered (their images can be fetched while later pages are asked), then any left after
    a failed page. `avatar_exists(user_id)` says whether StreamVault's local avatar of that
    user is there (which makes the id in its name trustworthy)."""
    for item in items:
        _pick_local_identity(item, avatar_exists)
    _resolve_categories(items, lookup)
    keys = lookup.users_to_ask(
        ids=[item.user_id for item in items if item.user_id],
        logins=[item.login for item in items if item.login and not item.user_id],
    )
    by_key: dict[str, list[StreamerItem]] = {}
    for item in items:
        by_key.setdefault(_user_key(item), []).append(item)
    waiting = set(keys)
    groups = (
        [item for key in page for item in by_key.get(key, [])] for page in lookup.ask_users(keys)
    )
    yield from _with_users([item for item in items if _user_key(item) not in waiting], lookup)
    for group in groups:
        waiting.difference_update(_user_key(item) for item in group)
        yield from _with_users(group, lookup)
    yield from _with_users([item for item in items if _user_key(item) in waiting], lookup)


def _user_key(item: StreamerItem) -> str:
    return user_key(user_id=item.user_id, login=item.login)


def _with_users(group: list[StreamerItem], lookup: TwitchLookup) -> Iterator[list[StreamerItem]]:
    """The group (none when empty), each item completed with what the state knows of its
    user."""
    users = lookup.known_users([(item.user_id, item.login) for item in group])
    for item, user in zip(group, users, strict=True):
        _apply_user(item, user)
    if group:
        yield group


def _resolve_categories(items: list[StreamerItem], lookup: TwitchLookup) -> None:
    """Ask Helix once about every unknown category of the pass; name the categories the
    recordings know only by id."""
    metas = [rec.meta for item in items for rec in item.recordings]
    names = {meta.category_name for meta in metas if meta.category_name}
    ids = {meta.category_id for meta in metas if meta.category_id and not meta.category_name}
    lookup.games(names, ids)
    for item in items:
        for rec in item.recordings:
            game_id = rec.meta.category_id
            if game_id and not rec.meta.category_name:
                rec.meta = rec.meta._replace(category_name=lookup.game_name(game_id))


def _pick_local_identity(item: StreamerItem, avatar_exists: Callable[[str], bool]) -> None:
    """Login: the one most recordings name, else tvshow.nfo's, else the one remembered, else
    the folder's name when it is a valid login. User id: tvshow.nfo's, else a recording's,
    else the one remembered, else the one in the name of StreamVault's local avatar when
    that file exists (no Twitch call needed); only safe ids."""
    logins = Counter(rec.meta.login for rec in item.recordings if rec.meta.login)
    folder_login = item.folder.name.lower()
    fallback = folder_login if LOGIN_RE.fullmatch(folder_login) else None
    known_login = item.known.login if item.known else None
    item.login = (
        logins.most_common(1)[0][0] if logins else item.show.login or known_login or fallback
    )
    ids = [rec.meta.user_id for rec in item.recordings if rec.meta.user_id]
    known_id = item.known.user_id if item.known else None
    uid = item.show.user_id or (ids[0] if ids else None) or known_id
    if uid is None:
        hints = Counter(
            rec.meta.avatar_user_id for rec in item.recordings if rec.meta.avatar_user_id
        )
        uid = next((hint for hint, _n in hints.most_common() if avatar_exists(hint)), None)
    item.user_id = uid if is_safe_id(uid) else None


def _apply_user(item: StreamerItem, user: TwitchUser | None) -> None:
    item.display_name = item.show.display_name or item.folder.name
    if user is not None:
        item.user_id = item.user_id or user.id
        item.login = user.login
        item.display_name = user.display_name or item.display_name
        item.description = user.description or None


def match_streams(items: list[StreamerItem], lookup: TwitchLookup) -> None:
    """Give each finished recording without a stream id the stream id, video id and
    thumbnail of its archive video (only what its own sources left open; one video listing
    per user and pass): the video with its video id when one is known (yt-dlp's `v123`),
    else the one live when it started (a streamlink recorder's name). A highlight, upload or
    clip has a video id of its own, so it is never matched by time."""
    if not lookup.online:
        return
    for item in items:
        if not item.user_id:
            continue
        for rec in item.recordings:
            meta = rec.meta
            if not rec.finished or meta.stream_id:
                continue
            if meta.local_id:
                video = lookup.video_by_id(item.user_id, meta.local_id.removeprefix("v"))
            elif meta.started_at is not None:
                video = lookup.video_at(item.user_id, meta.started_at)
            else:
                continue
            if video is not None and video.stream_id:
                rec.meta = meta._replace(
                    stream_id=video.stream_id,
                    local_id=meta.local_id or video.id,
                    thumbnail_url=meta.thumbnail_url or video.thumbnail_url,
                )
