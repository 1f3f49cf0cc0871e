"""A fake Twitch on 127.0.0.1: Helix (`users`, `games`, `videos`), the OAuth token endpoint
and the image CDN, in one stdlib `ThreadingHTTPServer` running in a daemon thread.

Answers mimic the real shapes and rules: a client-credentials token is required, Helix needs
`Client-Id` plus `Authorization: Bearer`, more than 100 ids is a 400, `Ratelimit-*` headers are
sent, box art URLs carry `{width}x{height}` and video thumbnails `%{width}x%{height}`, and a
category without art points at Twitch's `404_boxart` placeholder. CDN images are generated
deterministically (see `images.py`) at small sizes and answer 304 to `If-None-Match` /
`If-Modified-Since` matches. Tests steer it with `fail()`, `set_image()`, `serve_html_for()`,
`expire_tokens()` and `latency`, and read `hits` and `bytes_served`.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import secrets
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from svimaged.demo.pictures import make_image, make_jpeg

HOST = "127.0.0.1"
HELIX_MAX_IDS = 100
RATE_WINDOW = 60
#: Last-Modified of the first image served; later images get later times.
_LAST_MODIFIED_BASE = 1_790_000_000
_MAX_REQUEST_BODY = 1024 * 1024
_HTML_PAGE = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"

# Ids created by `sample_library` (documented so the demo and tests can refer to them).
ALICE_ID = "10000001"
BOB_ID = "10000002"
CHLOE_ID = "10000003"
DANA_ID = "10000004"
EVE_ID = "10000005"
JUST_CHATTING_ID = "509658"
LEAGUE_ID = "21779"
POKEMON_SV_ID = "1898493436"
NO_ART_GAME_ID = "1999999999"
#: (id, login, display_name) of every sample user. Eve has no profile image; Chloé's display
#: name is non-ASCII; Alice also has an offline (banner) image; Dana's avatar is an animated GIF.
SAMPLE_USERS: tuple[tuple[str, str, str], ...] = (
    (ALICE_ID, "alice_plays", "Alice Plays"),
    (BOB_ID, "bob_speedruns", "Bob Speedruns"),
    (CHLOE_ID, "chloe_cafe", "Chloé Café"),
    (DANA_ID, "dana_draws", "Dana Draws"),
    (EVE_ID, "eve_quiet", "Eve Quiet"),
)
#: (id, name) of every sample game; the last one has no box art (404_boxart).
SAMPLE_GAMES: tuple[tuple[str, str], ...] = (
    (JUST_CHATTING_ID, "Just Chatting"),
    (LEAGUE_ID, "League of Legends"),
    (POKEMON_SV_ID, "Pokémon Scarlet/Violet"),
    (NO_ART_GAME_ID, "Obscure Jam Game"),
)
#: (video_id, user_id, stream_id, title, created_at) of every sample archive video.
SAMPLE_VIDEOS: tuple[tuple[str, str, str, str, str], ...] = (
    ("2000000001", ALICE_ID, "40000000001", "Morning coffee & chat", "2026-11-01T08:00:00Z"),
    ("2000000002", ALICE_ID, "40000000002", "Ranked grind", "2026-11-02T18:00:00Z"),
    ("2000000003", ALICE_ID, "40000000003", "Pokémon shiny hunt", "2026-11-03T18:00:00Z"),
    ("2000000004", BOB_ID, "40000000004", "Any% attempts", "2026-11-02T20:00:00Z"),
    ("2000000005", CHLOE_ID, "40000000005", "Latte art <live>", "2026-11-03T09:30:00Z"),
    ("2000000006", DANA_ID, "40000000006", "Drawing requests", "2026-11-04T15:00:00Z"),
)


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


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    content_type: str
    etag: str
    last_modified: int


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


_EXTENSIONS = {"PNG": "png", "JPEG": "jpeg", "JPG": "jpeg", "WEBP": "webp", "GIF": "gif"}
_CDN_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/cdn/jtv_user_pictures/(\d+)-profile_image-300x300\.\w+"), "profile"),
    (re.compile(r"/cdn/jtv_user_pictures/(\d+)-channel_offline_image-1920x1080\.jpeg"), "offline"),
    (re.compile(r"/cdn/ttv-boxart/(\d+)-\d+x\d+\.jpg"), "box_art"),
    (re.compile(r"/cdn/ttv-static/(404)_boxart-\d+x\d+\.jpg"), "404_boxart"),
    (re.compile(r"/cdn/cf_vods/(\d+)/thumb/thumb0-\d+x\d+\.jpg"), "thumbnail"),
)
#: Generated image sizes (small on purpose, to keep tests fast).
_SIZES = {
    "profile": (64, 64),
    "offline": (192, 108),
    "box_art": (120, 160),
    "404_boxart": (120, 160),
    "thumbnail": (128, 72),
}


def _json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> _Reply:
    body = json.dumps(payload).encode("utf-8")
    return _Reply(status, {"Content-Type": "application/json", **(headers or {})}, body)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> _Reply:
    reasons = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    payload = {"error": reasons.get(status, "Error"), "status": status, "message": message}
    return _json_reply(status, payload, headers)


class FakeTwitch:
    """The fake server; see the module docstring. Use as a context manager or start/stop."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 - a fake's fake secret
        latency: float = 0.0,
        token_ttl: int = 3600,
        port: int = 0,
    ) -> None:
        """`port` 0 picks a free port; a given port that is taken also falls back to a free
        one (the demo asks for the port of its previous run to keep its URLs stable)."""
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.latency = latency
        self.token_ttl = token_ttl
        self.rate_limit = 800  # Helix requests per RATE_WINDOW seconds before 429
        self.host = HOST
        self.hits: collections.Counter[str] = collections.Counter()
        self.bytes_served = 0
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._games: dict[str, tuple[str, bool]] = {}
        self._videos: dict[str, _Video] = {}
        self._tokens: dict[str, float] = {}
        self._failures: dict[str, collections.deque[tuple[int, dict[str, str]]]] = {}
        self._overrides: dict[str, _Blob] = {}
        self._blobs: dict[tuple[str, str], _Blob] = {}
        self._generation = 0
        self._window = (0, 0)  # (window start epoch, requests in it)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeTwitch:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread; returns self."""
        if self._server is None:
            try:
                self._server = _Server((HOST, self.port), _Handler, self)
            except OSError:
                if not self.port:
                    raise
                self._server = _Server((HOST, 0), _Handler, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-twitch",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeTwitch:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`; only valid after `start()`."""
        if self._server is None:
            raise RuntimeError("FakeTwitch is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/helix"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/oauth2/token"

    # -- content ------------------------------------------------------------------------

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
        if image_format.upper() not in _EXTENSIONS:
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
    ) -> None:
        """Add an archive video. `thumbnail=False` gives Twitch's `_404/404_processing`
        placeholder, as for a video still being processed."""
        with self._lock:
            self._videos[id] = _Video(id, user_id, stream_id, title, created_at, thumbnail)

    def url_for(self, kind: str, key: str) -> str:
        """The (filled) CDN URL the fake serves for `kind` in profile (user id), offline
        (user id), box_art (game id), 404_boxart (any key) or thumbnail (video id)."""
        templates = {
            "box_art": f"/cdn/ttv-boxart/{key}-285x380.jpg",
            "404_boxart": "/cdn/ttv-static/404_boxart-285x380.jpg",
            "thumbnail": f"/cdn/cf_vods/{key}/thumb/thumb0-1280x720.jpg",
            "offline": f"/cdn/jtv_user_pictures/{key}-channel_offline_image-1920x1080.jpeg",
        }
        if kind == "profile":
            with self._lock:
                fmt = self._users[key].image_format if key in self._users else "PNG"
            path = f"/cdn/jtv_user_pictures/{key}-profile_image-300x300.{_EXTENSIONS[fmt]}"
            return self.base_url + path
        if kind not in templates:
            raise KeyError(kind)
        return self.base_url + templates[kind]

    def set_image(self, url_path: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Serve `data` at `url_path` (a path or a full URL) from now on, with a new ETag
        and a later Last-Modified."""
        with self._lock:
            self._overrides[urlsplit(url_path).path] = self._new_blob(data, content_type)

    def serve_html_for(self, url_path: str) -> None:
        """Make `url_path` answer 200 `text/html` (an error page where an image should be)."""
        self.set_image(url_path, _HTML_PAGE, "text/html; charset=utf-8")

    def fail(
        self, route: str, status: int, times: int = 1, *, headers: dict[str, str] | None = None
    ) -> None:
        """The next `times` requests to `route` (token, users, games, videos, cdn) answer
        `status` with a Twitch-style JSON error body and `headers`."""
        with self._lock:
            queue = self._failures.setdefault(route, collections.deque())
            queue.extend((status, dict(headers or {})) for _ in range(times))

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (the next Helix call answers 401)."""
        with self._lock:
            self._tokens.clear()

    # -- request handling (called from handler threads) ---------------------------------

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        if self.latency > 0:
            time.sleep(self.latency)
        split = urlsplit(target)
        path, query = split.path, parse_qsl(split.query, keep_blank_values=True)
        route = self._route_of(method, path)
        if route is None:
            return _error(404, "not found")
        failure = self._take_failure(route)
        if failure is not None:
            self._count(route, failure.body if route == "cdn" else b"")
            return failure
        if route == "token":
            self._count("token")
            return self._token(query + parse_qsl(body.decode("utf-8", "replace")))
        if route == "cdn":
            return self._cdn(path, headers)
        self._count(route)
        return self._helix(route, query, headers)

    @staticmethod
    def _route_of(method: str, path: str) -> str | None:
        if method == "POST" and path == "/oauth2/token":
            return "token"
        if method == "GET" and path in ("/helix/users", "/helix/games", "/helix/videos"):
            return path.rsplit("/", 1)[1]
        if method == "GET" and path.startswith("/cdn/"):
            return "cdn"
        return None

    def _count(self, route: str, body: bytes = b"") -> None:
        with self._lock:
            self.hits[route] += 1
            self.bytes_served += len(body)

    def _take_failure(self, route: str) -> _Reply | None:
        with self._lock:
            queue = self._failures.get(route)
            if not queue:
                return None
            status, headers = queue.popleft()
        return _error(status, "injected failure", headers)

    def _token(self, form: list[tuple[str, str]]) -> _Reply:
        fields = dict(form)
        if fields.get("client_id") != self.client_id:
            return _json_reply(400, {"status": 400, "message": "invalid client"})
        if fields.get("client_secret") != self.client_secret:
            return _json_reply(403, {"status": 403, "message": "invalid client secret"})
        if fields.get("grant_type") != "client_credentials":
            return _json_reply(400, {"status": 400, "message": "unsupported grant type"})
        token = secrets.token_hex(15)
        with self._lock:
            self._tokens[token] = time.time() + self.token_ttl
        payload = {"access_token": token, "expires_in": self.token_ttl, "token_type": "bearer"}
        return _json_reply(200, payload)

    def _helix(
        self, route: str, query: list[tuple[str, str]], headers: Mapping[str, str]
    ) -> _Reply:
        if headers.get("client-id") != self.client_id:
            return _error(401, "Client-Id header required or invalid")
        auth = headers.get("authorization") or ""
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        with self._lock:
            valid = self._tokens.get(token, 0.0) > time.time()
        if not valid:
            return _error(401, "Invalid OAuth token")
        rate = self._rate_headers()
        if rate["Ratelimit-Remaining"] == "-1":
            return _error(429, "Too Many Requests", {**rate, "Ratelimit-Remaining": "0"})
        pages = {"users": self._users_page, "games": self._games_page}
        reply = pages.get(route, self._videos_page)(query)
        return _Reply(reply.status, {**reply.headers, **rate}, reply.body)

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

    def _users_page(self, query: list[tuple[str, str]]) -> _Reply:
        ids = {v for k, v in query if k == "id"}
        logins = {v.lower() for k, v in query if k == "login"}
        if not ids and not logins:
            return _error(400, "Must provide an ID, Login or OAuth Token.")
        if len(ids) + len(logins) > HELIX_MAX_IDS:
            return _error(400, "The sum of the id and login parameters exceeds the maximum of 100")
        with self._lock:
            users = [u for u in self._users.values() if u.id in ids or u.login in logins]
        return _json_reply(200, {"data": [self._user_json(u) for u in users]})

    def _user_json(self, user: _User) -> dict[str, Any]:
        return {
            "id": user.id,
            "login": user.login,
            "display_name": user.display_name,
            "type": "",
            "broadcaster_type": "affiliate",
            "description": user.description,
            "profile_image_url": self.url_for("profile", user.id) if user.profile_image else "",
            "offline_image_url": self.url_for("offline", user.id) if user.offline_image else "",
            "view_count": 0,
            "created_at": "2016-12-14T20:32:28Z",
        }

    def _games_page(self, query: list[tuple[str, str]]) -> _Reply:
        ids = {v for k, v in query if k == "id"}
        names = {v for k, v in query if k == "name"}
        if not ids and not names:
            return _error(400, "Must provide at least one id, name or igdb_id")
        if len(ids) + len(names) > HELIX_MAX_IDS:
            return _error(400, "The sum of the id and name parameters exceeds the maximum of 100")
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
        return _json_reply(200, {"data": data})

    def _box_art_template(self, game_id: str, art: bool) -> str:
        if not art:
            return f"{self.base_url}/cdn/ttv-static/404_boxart-{{width}}x{{height}}.jpg"
        return f"{self.base_url}/cdn/ttv-boxart/{game_id}-{{width}}x{{height}}.jpg"

    def _videos_page(self, query: list[tuple[str, str]]) -> _Reply:
        params = dict(query)
        first_raw, after = params.get("first", "20"), params.get("after")
        if not first_raw.isdigit() or not 1 <= int(first_raw) <= HELIX_MAX_IDS:
            return _error(400, 'The parameter "first" was malformed')
        if "user_id" not in params and "id" not in params:
            return _error(400, "Missing required parameter: user_id, game_id or id")
        try:
            offset = int(base64.urlsafe_b64decode(after.encode()).decode()) if after else 0
        except ValueError:
            return _error(400, "Invalid cursor")
        if params.get("type", "all") not in ("archive", "all"):
            return _json_reply(200, {"data": [], "pagination": {}})
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
        return _json_reply(200, {"data": data, "pagination": pagination})

    def _video_json(self, video: _Video) -> dict[str, Any]:
        with self._lock:
            user = self._users.get(video.user_id)
        thumb = (
            f"{self.base_url}/cdn/cf_vods/{video.id}/thumb/thumb0-%{{width}}x%{{height}}.jpg"
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
            "duration": "3h8m33s",
            "muted_segments": None,
        }

    # -- CDN ----------------------------------------------------------------------------

    def _cdn(self, path: str, headers: Mapping[str, str]) -> _Reply:
        blob = self._blob_for(path)
        if blob is None:
            reply = _error(404, "image not found")
            self._count("cdn", reply.body)
            return reply
        validators = {
            "ETag": blob.etag,
            "Last-Modified": formatdate(blob.last_modified, usegmt=True),
            "Cache-Control": "max-age=86400",
        }
        if _not_modified(blob, headers):
            self._count("cdn_304")
            return _Reply(304, validators, b"")
        self._count("cdn", blob.data)
        return _Reply(200, {"Content-Type": blob.content_type, **validators}, blob.data)

    def _blob_for(self, path: str) -> _Blob | None:
        with self._lock:
            if path in self._overrides:
                return self._overrides[path]
        for pattern, kind in _CDN_ROUTES:
            match = pattern.fullmatch(path)
            if match:
                return self._generated(kind, match.group(1))
        return None

    def _generated(self, kind: str, key: str) -> _Blob | None:
        """The generated image for (kind, key), made once; None when the fake has none."""
        with self._lock:
            if (kind, key) in self._blobs:
                return self._blobs[(kind, key)]
            fmt = self._source_format(kind, key)
            if fmt is None:
                return None
            width, height = _SIZES[kind]
            seed = zlib.crc32(f"{kind}:{key}".encode())
            if fmt == "404":
                data, ctype = make_jpeg(width, height, seed=0), "image/jpeg"
            else:
                data, ctype = make_image(fmt, width, height, seed)
            blob = self._blobs[(kind, key)] = self._new_blob(data, ctype)
            return blob

    def _source_format(self, kind: str, key: str) -> str | None:
        """Image format for a known (kind, key), "404" for the placeholder, else None."""
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

    def _new_blob(self, data: bytes, content_type: str) -> _Blob:
        """A blob with a content ETag and the next Last-Modified time (caller holds lock)."""
        self._generation += 1
        etag = '"' + format(zlib.crc32(data), "08x") + f"-{len(data)}" + '"'
        return _Blob(data, content_type, etag, _LAST_MODIFIED_BASE + 3600 * self._generation)


def _not_modified(blob: _Blob, headers: Mapping[str, str]) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or blob.etag in tags
    ims = headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims).timestamp()
    except (TypeError, ValueError):
        return False
    return blob.last_modified <= since


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], fake: FakeTwitch):
        self.fake = fake
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every response.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo do not want a line per request on stderr."""

    def _serve(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_REQUEST_BODY:
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(length) if length else b""
        assert isinstance(self.server, _Server)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake._handle(method, self.path, headers, body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


def sample_library(fake: FakeTwitch) -> None:
    """Fill `fake` with the SAMPLE_USERS, SAMPLE_GAMES and SAMPLE_VIDEOS above (plus a
    still-processing video of Chloé's without a stream id or thumbnail)."""
    formats = {BOB_ID: "JPEG", CHLOE_ID: "WEBP", DANA_ID: "GIF"}
    descriptions = {ALICE_ID: "Cozy games and chat.", CHLOE_ID: "Café & chill <3"}
    for uid, login, name in SAMPLE_USERS:
        fake.add_user(
            uid,
            login,
            name,
            description=descriptions.get(uid, ""),
            profile_image=uid != EVE_ID,
            offline_image=uid == ALICE_ID,
            image_format=formats.get(uid, "PNG"),
        )
    for gid, game in SAMPLE_GAMES:
        fake.add_game(gid, game, box_art=gid != NO_ART_GAME_ID)
    for vid, uid, sid, title, created in SAMPLE_VIDEOS:
        fake.add_video(vid, uid, sid, title, created)
    fake.add_video(
        "2000000099", CHLOE_ID, None, "Processing", "2026-11-05T10:00:00Z", thumbnail=False
    )
