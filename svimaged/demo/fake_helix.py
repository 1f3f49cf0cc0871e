"""The Helix part of the fake Twitch: users, games, archive videos and app tokens, with the
real answer shapes and rules (client-credentials token required, `Client-Id` plus `Bearer`,
at most 100 ids per call, `Ratelimit-*` headers and 429 past `rate_limit` per minute, box art
`{width}x{height}` and thumbnail `%{width}x%{height}` templates, `404_boxart` placeholders)."""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from svimaged.demo.fake_cdn import IMAGE_EXTENSIONS, cdn_path
from svimaged.demo.fake_http import Reply, error, json_reply

HELIX_MAX_IDS = 100
RATE_WINDOW = 60
DEFAULT_DURATION = "3h8m33s"
_DURATION = re.compile(r"(?:[1-9]\d*h)?(?:\d+m)?\d+s")


def helix_duration(seconds: int) -> str:
    """`seconds` as Helix writes a video's `duration`: `1h2m3s`, `2m3s` or `3s`, with no
    leading zero unit and no padding (`1h0m5s`)."""
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(slots=True)
class _User:
    id: str
    login: str
    display_name: str
    description: str
    profile_image: bool
    offline_image: bool
    image_format: str


@dataclass(slots=True)
class _Video:
    id: str
    user_id: str
    stream_id: str | None
    title: str
    created_at: str
    thumbnail: bool
    duration: str


class FakeHelix:
    """What the fake Helix knows and how it answers; `base_url` gives the server's URL."""

    def __init__(
        self, base_url: Callable[[], str], *, client_id: str, client_secret: str, token_ttl: int
    ) -> None:
        self._base_url = base_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.rate_limit = 800  # Helix requests per RATE_WINDOW seconds before 429
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._games: dict[str, tuple[str, bool]] = {}
        self._videos: dict[str, _Video] = {}
        self._tokens: dict[str, float] = {}
        self._window = (0, 0)  # (window start epoch, requests in it)

    def add_user(
        self,
        id: str,
        login: str,
        display_name: str,
        *,
        description: str = "",
        profile_image: bool = True,
        offline_image: bool = False,
        image_format: str = "PNG",
    ) -> None:
        """Add a user. `profile_image=False` gives `profile_image_url: ""`; the avatar is
        served in `image_format` (PNG, JPEG, WEBP or GIF, the GIF animated)."""
        if image_format.upper() not in IMAGE_EXTENSIONS:
            raise ValueError(f"unknown image format {image_format!r}")
        fmt = image_format.upper()
        user = _User(
            id, login.lower(), display_name, description, profile_image, offline_image, fmt
        )
        with self._lock:
            self._users[id] = user

    def add_game(self, id: str, name: str, *, box_art: bool = True) -> None:
        """Add a category; `box_art=False` answers Twitch's 404_boxart placeholder URL."""
        with self._lock:
            self._games[id] = (name, box_art)

    def add_video(
        self,
        id: str,
        user_id: str,
        stream_id: str | None,
        title: str,
        created_at: str = "2026-11-03T18:00:00Z",
        *,
        thumbnail: bool = True,
        duration: str = DEFAULT_DURATION,
    ) -> None:
        """Add an archive video. `thumbnail=False` gives Twitch's `_404/404_processing`
        placeholder, as for a video still being processed. `duration` is answered as given
        and must be in Helix's form (`helix_duration`), else ValueError."""
        if _DURATION.fullmatch(duration) is None:
            raise ValueError(f"duration {duration!r} is not in Helix's 1h2m3s form")
        video = _Video(id, user_id, stream_id, title, created_at, thumbnail, duration)
        with self._lock:
            self._videos[id] = video

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (the next Helix call answers 401)."""
        with self._lock:
            self._tokens.clear()

    def image_format(self, user_id: str) -> str:
        """The format a user's avatar is served in (PNG for unknown users)."""
        with self._lock:
            user = self._users.get(user_id)
        return user.image_format if user is not None else "PNG"

    def source_format(self, kind: str, key: str) -> str | None:
        """Image format the CDN serves for a known (kind, key), "404" for the placeholder,
        else None."""
        with self._lock:
            user = self._users.get(key)
            video = self._videos.get(key)
            game = self._games.get(key)
        known = {
            "profile": user.image_format if user and user.profile_image else None,
            "offline": "JPEG" if user and user.offline_image else None,
            "box_art": "JPEG" if game and game[1] else None,
            "404_boxart": "404",
            "thumbnail": "JPEG" if video and video.thumbnail else None,
        }
        return known[kind]

    def token(self, form: list[tuple[str, str]]) -> Reply:
        fields = dict(form)
        if fields.get("client_id") != self.client_id:
            return json_reply(400, {"status": 400, "message": "invalid client"})
        if fields.get("client_secret") != self.client_secret:
            return json_reply(403, {"status": 403, "message": "invalid client secret"})
        if fields.get("grant_type") != "client_credentials":
            return json_reply(400, {"status": 400, "message": "unsupported grant type"})
        token = secrets.token_hex(15)
        with self._lock:
            self._tokens[token] = time.time() + self.token_ttl
        payload = {"access_token": token, "expires_in": self.token_ttl, "token_type": "bearer"}
        return json_reply(200, payload)

    def answer(self, route: str, query: list[tuple[str, str]], headers: Mapping[str, str]) -> Reply:
        if headers.get("client-id") != self.client_id:
            return error(401, "Client-Id header required or invalid")
        auth = headers.get("authorization") or ""
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        with self._lock:
            valid = self._tokens.get(token, 0.0) > time.time()
        if not valid:
            return error(401, "Invalid OAuth token")
        rate = self._rate_headers()
        if rate["Ratelimit-Remaining"] == "-1":
            return error(429, "Too Many Requests", {**rate, "Ratelimit-Remaining": "0"})
        pages = {"users": self._users_page, "games": self._games_page}
        reply = pages.get(route, self._videos_page)(query)
        return Reply(reply.status, {**reply.headers, **rate}, reply.body)

    def _rate_headers(self) -> dict[str, str]:
        """Count one request in the current window; `Remaining` is -1 once over the limit."""
        now = int(time.time())
        with self._lock:
            start, used = self._window
            if now >= start + RATE_WINDOW:
                start, used = now, 0
            used += 1
            self._window = (start, used)
        remaining = max(self.rate_limit - used, -1)
        return {
            "Ratelimit-Limit": str(self.rate_limit),
            "Ratelimit-Remaining": str(remaining),
            "Ratelimit-Reset": str(start + RATE_WINDOW),
        }

    def _users_page(self, query: list[tuple[str, str]]) -> Reply:
        ids = {v for k, v in query if k == "id"}
        logins = {v.lower() for k, v in query if k == "login"}
        if not ids and not logins:
            return error(400, "Must provide an ID, Login or OAuth Token.")
        if len(ids) + len(logins) > HELIX_MAX_IDS:
            return error(400, "The sum of the id and login parameters exceeds the maximum of 100")
        with self._lock:
            users = [u for u in self._users.values() if u.id in ids or u.login in logins]
        return json_reply(200, {"data": [self._user_json(u) for u in users]})

    def _user_json(self, user: _User) -> dict[str, Any]:
        return {
            "id": user.id,
            "login": user.login,
            "display_name": user.display_name,
            "type": "",
            "broadcaster_type": "affiliate",
            "description": user.description,
            "profile_image_url": self._url("profile", user.id) if user.profile_image else "",
            "offline_image_url": self._url("offline", user.id) if user.offline_image else "",
            "view_count": 0,
            "created_at": "2016-12-14T20:32:28Z",
        }

    def _games_page(self, query: list[tuple[str, str]]) -> Reply:
        ids = {v for k, v in query if k == "id"}
        names = {v for k, v in query if k == "name"}
        if not ids and not names:
            return error(400, "Must provide at least one id, name or igdb_id")
        if len(ids) + len(names) > HELIX_MAX_IDS:
            return error(400, "The sum of the id and name parameters exceeds the maximum of 100")
        with self._lock:
            games = [(i, n, a) for i, (n, a) in self._games.items() if i in ids or n in names]
        data = [
            {
                "id": gid,
                "name": name,
                "box_art_url": self._box_art_template(gid, art),
                "igdb_id": "",
            }
            for gid, name, art in games
        ]
        return json_reply(200, {"data": data})

    def _box_art_template(self, game_id: str, art: bool) -> str:
        if not art:
            return f"{self._base_url()}/cdn/ttv-static/404_boxart-{{width}}x{{height}}.jpg"
        return f"{self._base_url()}/cdn/ttv-boxart/{game_id}-{{width}}x{{height}}.jpg"

    def _videos_page(self, query: list[tuple[str, str]]) -> Reply:
        params = dict(query)
        first_raw, after = params.get("first", "20"), params.get("after")
        if not first_raw.isdigit() or not 1 <= int(first_raw) <= HELIX_MAX_IDS:
            return error(400, 'The parameter "first" was malformed')
        if "user_id" not in params and "id" not in params:
            return error(400, "Missing required parameter: user_id, game_id or id")
        try:
            offset = int(base64.urlsafe_b64decode(after.encode()).decode()) if after else 0
        except ValueError:
            return error(400, "Invalid cursor")
        if params.get("type", "all") not in ("archive", "all"):
            return json_reply(200, {"data": [], "pagination": {}})
        with self._lock:
            matching = [
                v
                for v in self._videos.values()
                if v.user_id == params.get("user_id", v.user_id) and v.id == params.get("id", v.id)
            ]
        matching.sort(key=lambda v: (v.created_at, v.id), reverse=True)
        end = offset + int(first_raw)
        pagination = {}
        if end < len(matching):
            pagination["cursor"] = base64.urlsafe_b64encode(str(end).encode()).decode()
        data = [self._video_json(v) for v in matching[offset:end]]
        return json_reply(200, {"data": data, "pagination": pagination})

    def _video_json(self, video: _Video) -> dict[str, Any]:
        with self._lock:
            user = self._users.get(video.user_id)
        thumb = (
            f"{self._base_url()}/cdn/cf_vods/{video.id}/thumb/thumb0-%{{width}}x%{{height}}.jpg"
            if video.thumbnail
            else "https://vod-secure.twitch.tv/_404/404_processing_%{width}x%{height}.png"
        )
        return {
            "id": video.id,
            "stream_id": video.stream_id,
            "user_id": video.user_id,
            "user_login": user.login if user else "",
            "user_name": user.display_name if user else "",
            "title": video.title,
            "description": "",
            "created_at": video.created_at,
            "published_at": video.created_at,
            "url": f"https://www.twitch.tv/videos/{video.id}",
            "thumbnail_url": thumb,
            "viewable": "public",
            "view_count": 42,
            "language": "en",
            "type": "archive",
            "duration": video.duration,
            "muted_segments": None,
        }

    def _url(self, kind: str, key: str) -> str:
        fmt = self.image_format(key) if kind == "profile" else "JPEG"
        return self._base_url() + cdn_path(kind, key, fmt)
