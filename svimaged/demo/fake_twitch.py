"""A fake Twitch on 127.0.0.1: Helix (`users`, `games`, `videos`), the OAuth token endpoint
and the image CDN, in one stdlib `ThreadingHTTPServer` running in a daemon thread.

Answers mimic the real shapes and rules (`fake_helix`, `fake_cdn`). Tests steer it with
`fail()`, `set_image()`, `serve_html_for()`, `expire_tokens()`, `latency` (every answer),
`delay()` (one route's answers), `hold()` (one path's answers, until `release()`) and
`helix.rate_limit`, and read `hits`, `delayed`, `paths` and `bytes_served`.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from svimaged.demo.fake_cdn import FakeCdn, cdn_path
from svimaged.demo.fake_helix import DEFAULT_DURATION, FakeHelix
from svimaged.demo.fake_http import Reply, Server, error

HOST = "127.0.0.1"
_HTML_PAGE = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"

# Ids created by `sample_library` (documented so the demo and tests can refer to them).
ALICE_ID = "10000001"
BOB_ID = "10000002"
CHLOE_ID = "10000003"
DANA_ID = "10000004"
EVE_ID = "10000005"
GWEN_ID = "10000006"
LIAM_ID = "10000007"
TARA_ID = "10000008"
SAM_ID = "10000009"
JUST_CHATTING_ID = "509658"
LEAGUE_ID = "21779"
POKEMON_SV_ID = "1898493436"
MINECRAFT_ID = "27471"
NO_ART_GAME_ID = "1999999999"
#: (id, login, display_name) of every sample user. Eve has no profile image; Chloé's display
#: name is non-ASCII; Alice also has an offline (banner) image; Dana's avatar is an animated GIF.
#: The last four own the archiver trees of `archiver_trees`: Gwen a ganymede library (her
#: avatar is a JPEG, as ganymede's `profile.png` holds), Liam a LiveStreamDVR one, Tara a
#: twitch-archiver one and Sam a streamlink recorder's.
SAMPLE_USERS: tuple[tuple[str, str, str], ...] = (
    (ALICE_ID, "alice_plays", "Alice Plays"),
    (BOB_ID, "bob_speedruns", "Bob Speedruns"),
    (CHLOE_ID, "chloe_cafe", "Chloé Café"),
    (DANA_ID, "dana_draws", "Dana Draws"),
    (EVE_ID, "eve_quiet", "Eve Quiet"),
    (GWEN_ID, "gwen_vods", "Gwen Vods"),
    (LIAM_ID, "liam_dvr", "Liam_DVR"),
    (TARA_ID, "tara_archive", "Tara Archive"),
    (SAM_ID, "sam_records", "Sam Records"),
)
#: (id, name) of every sample game; the last one has no box art (404_boxart).
SAMPLE_GAMES: tuple[tuple[str, str], ...] = (
    (JUST_CHATTING_ID, "Just Chatting"),
    (LEAGUE_ID, "League of Legends"),
    (POKEMON_SV_ID, "Pokémon Scarlet/Violet"),
    (MINECRAFT_ID, "Minecraft"),
    (NO_ART_GAME_ID, "Obscure Jam Game"),
)
#: (video_id, user_id, stream_id, title, created_at) of every sample archive video. The
#: videos of Gwen, Liam, Tara and Sam are the Twitch VODs of the recordings in
#: `archiver_trees` (same stream ids; `created_at` is the stream start).
SAMPLE_VIDEOS: tuple[tuple[str, str, str, str, str], ...] = (
    ("2000000001", ALICE_ID, "40000000001", "Morning coffee & chat", "2026-11-01T08:00:00Z"),
    ("2000000002", ALICE_ID, "40000000002", "Ranked grind", "2026-11-02T18:00:00Z"),
    ("2000000003", ALICE_ID, "40000000003", "Pokémon shiny hunt", "2026-11-03T18:00:00Z"),
    ("2000000004", BOB_ID, "40000000004", "Any% attempts", "2026-11-02T20:00:00Z"),
    ("2000000005", CHLOE_ID, "40000000005", "Latte art <live>", "2026-11-03T09:30:00Z"),
    ("2000000006", DANA_ID, "40000000006", "Drawing requests", "2026-11-04T15:00:00Z"),
    (
        "2000000011",
        GWEN_ID,
        "40000000011",
        "Gwen's cozy stream & chill | !discord",
        "2026-11-14T18:02:11Z",
    ),
    (
        "2000000012",
        GWEN_ID,
        "40000000012",
        "Building the castle walls <3 day 3",
        "2026-11-20T19:00:05Z",
    ),
    (
        "2000000014",
        GWEN_ID,
        "40000000014",
        "Saturday survival: nether trip",
        "2026-12-05T16:30:42Z",
    ),
    ("2000000015", GWEN_ID, "40000000015", "Late night Q&A <3", "2026-12-06T17:00:00Z"),
    (
        "2000000041",
        LIAM_ID,
        "40000000041",
        "Liam's block party & chill | !discord",
        "2026-11-28T18:02:11Z",
    ),
    ("2000000043", LIAM_ID, "40000000043", "Redstone computer, part 2", "2026-12-03T17:45:09Z"),
    (
        "2000000021",
        TARA_ID,
        "40000000021",
        "Tara's retro night: Mario & Zelda | !schedule",
        "2026-11-16T19:30:07Z",
    ),
    (
        "2000000024",
        TARA_ID,
        "40000000024",
        "Speedrun practice: any% / glitchless?",
        "2026-12-05T16:30:42Z",
    ),
    (
        "2000000031",
        SAM_ID,
        "40000000031",
        "Sam's speedrun & chill | !discord <3",
        "2026-11-28T19:02:04Z",
    ),
    ("2000000032", SAM_ID, "40000000032", "Café run — día 2 🎮", "2026-12-02T20:00:01Z"),
)
#: Helix `duration` of the sample videos that do not last the default 3h8m33s.
SAMPLE_VIDEO_DURATIONS: dict[str, str] = {
    "2000000011": "4h12m33s",
    "2000000012": "2h1m52s",
    "2000000014": "2h44m36s",
    "2000000015": "1h0m0s",
    "2000000021": "3h7m14s",
    "2000000024": "2h44m36s",
    "2000000031": "2h46m40s",
    "2000000032": "1h23m45s",
    "2000000041": "4h12m40s",
    "2000000043": "2h30m1s",
}


#: Seconds a held answer waits for `release()` at most.
HOLD_LIMIT = 30.0


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
        self.host = HOST
        self.hits: collections.Counter[str] = collections.Counter()
        #: Requests per route that `delay()` has held back so far (counted when they arrive).
        self.delayed: collections.Counter[str] = collections.Counter()
        #: Requests per URL path (query left out), counted when they arrive.
        self.paths: collections.Counter[str] = collections.Counter()
        self.bytes_served = 0
        self.helix = FakeHelix(
            lambda: self.base_url,
            client_id=client_id,
            client_secret=client_secret,
            token_ttl=token_ttl,
        )
        self.cdn = FakeCdn(self.helix.source_format)
        self.add_user = self.helix.add_user
        self.add_game = self.helix.add_game
        self.add_video = self.helix.add_video
        self.expire_tokens = self.helix.expire_tokens
        self._lock = threading.Lock()
        self._failures: dict[str, collections.deque[tuple[int, dict[str, str], bytes | None]]]
        self._failures = {}
        self._delays: dict[str, float] = {}
        self._held: dict[str, threading.Event] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeTwitch:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread; returns self."""
        if self._server is None:
            try:
                self._server = Server((HOST, self.port), self)
            except OSError:
                if not self.port:
                    raise
                self._server = Server((HOST, 0), self)
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

    # -- steering -----------------------------------------------------------------------

    def url_for(self, kind: str, key: str) -> str:
        """The (filled) CDN URL the fake serves for `kind` in profile (user id), offline
        (user id), box_art (game id), 404_boxart (any key) or thumbnail (video id)."""
        fmt = self.helix.image_format(key) if kind == "profile" else "PNG"
        return self.base_url + cdn_path(kind, key, fmt)

    def set_image(self, url_path: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Serve `data` at `url_path` (a path or a full URL) from now on, with a new ETag
        and a later Last-Modified."""
        self.cdn.set_image(urlsplit(url_path).path, data, content_type)

    def serve_html_for(self, url_path: str) -> None:
        """Make `url_path` answer 200 `text/html` (an error page where an image should be)."""
        self.set_image(url_path, _HTML_PAGE, "text/html; charset=utf-8")

    def fail(
        self,
        route: str,
        status: int,
        times: int = 1,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        """The next `times` requests to `route` (token, users, games, videos, cdn) answer
        `status` with a Twitch-style JSON error body (or `body`, as JSON) and `headers`."""
        with self._lock:
            queue = self._failures.setdefault(route, collections.deque())
            queue.extend((status, dict(headers or {}), body) for _ in range(times))

    def delay(self, route: str, seconds: float) -> None:
        """From now on, answers to `route` (token, users, games, videos, cdn) wait `seconds`
        (on top of `latency`) before they are sent; 0 ends the delay. A slow CDN, for instance."""
        with self._lock:
            self._delays[route] = max(0.0, seconds)

    def hold(self, url_path: str) -> None:
        """From now on, answers to `url_path` wait until `release()` (at most `HOLD_LIMIT`
        seconds, so a test that forgets cannot hang)."""
        with self._lock:
            self._held.setdefault(url_path, threading.Event())

    def release(self) -> None:
        """Send every held answer, and hold nothing from now on."""
        with self._lock:
            held, self._held = self._held, {}
        for event in held.values():
            event.set()

    def clear_failures(self) -> None:
        """Drop the injected failures still queued."""
        with self._lock:
            self._failures.clear()

    # -- request handling (called from handler threads) ---------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The reply to one request: route, injected failures, counting."""
        if self.latency > 0:
            time.sleep(self.latency)
        split = urlsplit(target)
        path, query = split.path, parse_qsl(split.query, keep_blank_values=True)
        route = _route_of(method, path)
        if route is None:
            return error(404, "not found")
        with self._lock:
            self.paths[path] += 1
            delay = self._delays.get(route, 0.0)
            if delay > 0:
                self.delayed[route] += 1
            held = self._held.get(path)
        if delay > 0:
            time.sleep(delay)
        if held is not None:
            held.wait(HOLD_LIMIT)
        failure = self._take_failure(route)
        if failure is not None:
            self._count(route, failure.body if route == "cdn" else b"")
            return failure
        if route == "token":
            self._count("token")
            return self.helix.token(query + parse_qsl(body.decode("utf-8", "replace")))
        if route == "cdn":
            reply, counter = self.cdn.answer(path, headers)
            self._count(counter, reply.body)
            return reply
        self._count(route)
        return self.helix.answer(route, query, headers)

    def _count(self, route: str, body: bytes = b"") -> None:
        with self._lock:
            self.hits[route] += 1
            self.bytes_served += len(body)

    def _take_failure(self, route: str) -> Reply | None:
        with self._lock:
            queue = self._failures.get(route)
            if not queue:
                return None
            status, headers, body = queue.popleft()
        if body is not None:
            return Reply(status, {"Content-Type": "application/json", **headers}, body)
        return error(status, "injected failure", headers)


def _route_of(method: str, path: str) -> str | None:
    if method == "POST" and path == "/oauth2/token":
        return "token"
    if method == "GET" and path in ("/helix/users", "/helix/games", "/helix/videos"):
        return path.rsplit("/", 1)[1]
    if method == "GET" and path.startswith("/cdn/"):
        return "cdn"
    return None


def sample_library(fake: FakeTwitch) -> None:
    """Fill `fake` with the SAMPLE_USERS, SAMPLE_GAMES and SAMPLE_VIDEOS above (plus a
    still-processing video of Chloé's without a stream id or thumbnail)."""
    formats = {BOB_ID: "JPEG", CHLOE_ID: "WEBP", DANA_ID: "GIF", GWEN_ID: "JPEG"}
    descriptions = {
        ALICE_ID: "Cozy games and chat.",
        CHLOE_ID: "Café & chill <3",
        LIAM_ID: "Block building, redstone & chat.",
    }
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
        duration = SAMPLE_VIDEO_DURATIONS.get(vid, DEFAULT_DURATION)
        fake.add_video(vid, uid, sid, title, created, duration=duration)
    fake.add_video(
        "2000000099", CHLOE_ID, None, "Processing", "2026-11-05T10:00:00Z", thumbnail=False
    )
