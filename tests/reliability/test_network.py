"""Hostile networks: HTML instead of an image, a truncated body, an endless body, a stall,
redirects to a disallowed host and to 127.0.0.1, Helix 500s and 429 storms, a token
endpoint that is down.

What must hold: every failure is a `FetchError`/`HelixError` caught per item (no exception
escapes a pass, no thread is left behind or dies), each failed image is counted and stored
with its retry time (exponential backoff, persisted in the state), stats report exactly the
failures injected, nothing partial reaches the cache, and the work completes once the
network behaves.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.adapters

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.errors import DisallowedURLError, FetchError, TooLargeError
from svimaged.demo.fake_twitch import ALICE_ID, FakeTwitch
from svimaged.demo.pictures import make_jpeg
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.images.fetch import Fetcher
from svimaged.images.urlpolicy import FetchPolicy
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources
from svimaged.twitch.lookup import HELIX_WAIT_BUDGET

from .conftest import check_integrity, config_data

# -- a scripted raw HTTP server ----------------------------------------------------------------

Script = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and runs `script(conn, stop)` for each one, after
    reading the request head. Counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, name="raw-server", daemon=True)
        self.thread.start()

    def url(self, path: str = "/img.jpg") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
                    head += chunk
                with contextlib.suppress(OSError):  # the client hung up, as it should
                    self.script(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Script], RawServer]]:
    made: list[RawServer] = []

    def start(script: Script) -> RawServer:
        server = RawServer(script)
        made.append(server)
        return server

    yield start
    for server in made:
        server.close()


def fetcher_for(server: RawServer, **policy: Any) -> Fetcher:
    options: dict[str, Any] = {
        "allowed_hosts": frozenset({f"127.0.0.1:{server.port}"}),
        "require_https": False,
        "allow_private_networks": True,
        "timeout": 0.5,
        "max_bytes": 64 * 1024,
    }
    options.update(policy)
    return Fetcher(FetchPolicy(**options))


def truncated(conn: socket.socket, _stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\n")
    conn.sendall(make_jpeg(64, 64)[:300])  # then the connection closes


def endless(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"\xff" * 8192
    while not stop.is_set():
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def stall_after_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100\r\n\r\n")
    stop.wait(10)


def stall_before_headers(_conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


@pytest.mark.parametrize(
    ("script", "error", "reason"),
    [
        (truncated, FetchError, "body read failed"),
        (endless, TooLargeError, "body over 65536 bytes"),
        (stall_after_headers, FetchError, "body read failed"),
        (stall_before_headers, FetchError, "read timeout"),
    ],
    ids=["truncated", "endless-chunked", "stall-10s-mid-body", "stall-10s-before-headers"],
)
def test_hostile_bodies_fail_fast_with_a_fetch_error(
    raw_server: Callable[[Script], RawServer], script: Script, error: type, reason: str
) -> None:
    """Truncated (Content-Length larger than the body), endless chunked (stopped at
    max_bytes), and 10 s stalls (stopped by the 0.5 s timeout, well before the stall ends)."""
    server = raw_server(script)
    fetcher = fetcher_for(server)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        fetcher.get(server.url())
    fetcher.close()
    assert reason in str(caught.value)
    assert time.monotonic() - started < 8.0  # stopped by the 0.5 s timeout, not the 10 s stall


def test_redirect_to_a_disallowed_host_is_refused_before_connecting(
    raw_server: Callable[[Script], RawServer],
) -> None:
    resolved: list[str] = []

    def redirect(conn: socket.socket, _stop: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/x.jpg\r\n"
            b"Content-Length: 0\r\n\r\n"
        )

    def resolve(host: str, _port: int) -> list[str]:
        resolved.append(host)
        return ["93.184.216.34"]

    server = raw_server(redirect)
    fetcher = Fetcher(
        FetchPolicy(
            allowed_hosts=frozenset({f"127.0.0.1:{server.port}"}),
            require_https=False,
            allow_private_networks=True,
            timeout=0.5,
        ),
        resolver=resolve,
    )
    with pytest.raises(DisallowedURLError, match=re.escape("evil.example not in allowed_hosts")):
        fetcher.get(server.url())
    fetcher.close()
    assert resolved == [] and server.connections == 1


class _RedirectAdapter(requests.adapters.BaseAdapter):
    """Plays `https://cdn.test` (a global address by the fake resolver) without a network:
    every request gets a 302 to `location`."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location

    def send(
        self, request: requests.PreparedRequest, *_args: Any, **_kwargs: Any
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = 302
        response.headers["Location"] = self.location
        response.raw = io.BytesIO(b"")
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_redirect_to_127_0_0_1_is_refused_when_private_networks_are(
    raw_server: Callable[[Script], RawServer],
) -> None:
    """`cdn.test` resolves (fake resolver) to a global address and redirects to the
    loopback CDN, which is in allowed_hosts: the private-address rule alone must refuse
    the hop, and nothing connects to 127.0.0.1."""

    def image(conn: socket.socket, _stop: threading.Event) -> None:
        body = make_jpeg(8, 8)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    server = raw_server(image)
    addresses = {"cdn.test": ["93.184.216.34"], "127.0.0.1": ["127.0.0.1"]}

    def session() -> requests.Session:
        made = requests.Session()
        made.mount("https://cdn.test/", _RedirectAdapter(server.url()))
        return made

    fetcher = Fetcher(
        FetchPolicy(
            allowed_hosts=frozenset({"cdn.test", f"127.0.0.1:{server.port}"}),
            require_https=False,
            allow_private_networks=False,
            timeout=0.5,
        ),
        resolver=lambda host, port: addresses[host],
        session_factory=session,
    )
    with pytest.raises(DisallowedURLError, match=re.escape("non-global address 127.0.0.1")):
        fetcher.get("https://cdn.test/a.jpg")
    fetcher.close()
    assert server.connections == 0


# -- through the engine: counted, retried with backoff, no thread left --------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())


def make_engine(fake: FakeTwitch, tmp_path: Path, clock: FakeClock) -> Pipeline:
    data = config_data(fake, tmp_path, download={"timeout": 0.5})
    return Pipeline(build_resources(parse_config(data, {}), clock))


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


def test_html_and_cdn_500s_are_counted_exactly_and_retried_with_backoff(
    fake: FakeTwitch, tmp_path: Path, clock: FakeClock
) -> None:
    """An HTML page instead of Alice's avatar and three CDN 500s: exactly the images that
    got a bad answer fail, the state and the stats say so, each has its retry time (60 s,
    then 120 s after a second failure), and once the CDN behaves a sync caches everything."""
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    avatar = fake.url_for("profile", ALICE_ID)
    fake.serve_html_for(avatar)
    fake.fail("cdn", 500, times=3)
    before = thread_names()
    engine = make_engine(fake, tmp_path, clock)
    try:
        first = engine.full_pass()
        rows = [row for row in engine.res.state.images.all() if not row.cached]
        assert first.failed == len(rows) == engine.stats()["total_failed"]
        assert sum("HTTP 500" in (row.last_error or "") for row in rows) == 3
        html = [row for row in rows if "looks like HTML" in (row.last_error or "")]
        # The avatar fails with HTML unless one of the 500s hit it first.
        assert first.failed == 3 + len(html)
        assert all(row.next_retry == clock.time() + 60 and row.failures == 1 for row in rows)
        avatar_rel = next(row.rel for row in rows + html if row.source == avatar)
        assert not (tmp_path / "rec" / ".images" / avatar_rel).exists()
        clock.advance(61)
        second = engine.full_pass()  # retry due: the avatar is still HTML
        row = engine.res.state.images.get(avatar_rel)
        assert second.failed == 1 and row is not None and row.failures == 2
        assert "looks like HTML" in (row.last_error or "")
        assert row.next_retry == clock.time() + 120
        fake.set_image(avatar, make_jpeg(64, 64))
        third = engine.full_pass(retry_failed_now=True)
        assert third.failed == 0 and engine.stats()["total_failed"] == 0
    finally:
        engine.close()
    assert check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db").problems == []
    assert thread_names() <= before


@pytest.mark.parametrize(
    ("route", "status", "times"),
    [("users", 500, 10), ("games", 429, 40), ("videos", 500, 40), ("token", 503, 10)],
    ids=["helix-500s", "helix-429-storm", "videos-500s", "token-endpoint-down"],
)
def test_helix_failures_never_escape_and_the_next_pass_completes(
    fake: FakeTwitch,
    tmp_path: Path,
    clock: FakeClock,
    route: str,
    status: int,
    times: int,
) -> None:
    """Helix answering 500s, a storm of 429s (with Ratelimit-Reset), or a token endpoint
    that is down: the pass returns with the failures counted, waits are bounded and taken
    on the injected clock, no thread is left behind, and the next pass (Helix back) gets
    every NFO its Twitch ids."""
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    reset = {"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(clock.time()) + 2)}
    fake.fail(route, status, times=times, headers=reset if status == 429 else None)
    before = thread_names()
    engine = make_engine(fake, tmp_path, clock)
    try:
        first = engine.full_pass()
        assert first.errors >= 1
        assert max(clock.slept, default=0) <= 60  # every wait is capped
        clock.advance(3600)
        fake.clear_failures()  # drop the failures still queued: Helix is back
        engine.full_pass(retry_failed_now=True)
    finally:
        engine.close()
    found = check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db")
    assert found.problems == []
    alice = (tmp_path / "rec" / "Alice Plays" / "tvshow.nfo").read_text(encoding="utf-8")
    assert f'<uniqueid type="twitch" default="true">{ALICE_ID}</uniqueid>' in alice
    assert thread_names() <= before


#: JSON nested 100,000 deep: Python's parser raises RecursionError, not ValueError.
DEEP_JSON = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("route", "status", "times"),
    [("users", 200, 1), ("token", 200, 1), ("videos", 200, 1), ("games", 500, 2)],
    ids=["users", "token", "videos", "error-body"],
)
def test_deeply_nested_helix_answers_are_counted_and_the_pass_finishes(
    fake: FakeTwitch, tmp_path: Path, clock: FakeClock, route: str, status: int, times: int
) -> None:
    """A Helix (or token) answer nested 100,000 deep, as a 200 body or as the body of a
    500 whose message is read: the look-up fails and is counted, the pass finishes, and the
    next pass (Helix back) gives every NFO its Twitch id."""
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    fake.fail(route, status, times=times, body=DEEP_JSON)
    engine = make_engine(fake, tmp_path, clock)
    try:
        first = engine.full_pass()
        assert first.errors >= 1
        clock.advance(3600)
        engine.full_pass(retry_failed_now=True)
    finally:
        engine.close()
    assert check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db").problems == []
    alice = (tmp_path / "rec" / "Alice Plays" / "tvshow.nfo").read_text(encoding="utf-8")
    assert f'<uniqueid type="twitch" default="true">{ALICE_ID}</uniqueid>' in alice


def test_lone_surrogates_in_helix_text_become_u_fffd_and_the_pass_finishes(
    fake: FakeTwitch, tmp_path: Path, clock: FakeClock
) -> None:
    """`\\ud800` escapes (valid JSON, no valid UTF-8) in a user's display name, description
    and image URL, a category's name and box art URL, and a video's title and thumbnail
    URL: the pass finishes without an error from them, each lone surrogate is stored and
    written as U+FFFD, and no file or state row is damaged."""
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    bad = "\ud800"
    user = {
        "id": ALICE_ID,
        "login": "alice_plays",
        "display_name": f"Alice {bad}Plays",
        "description": f"Cozy {bad} games",
        "profile_image_url": fake.url_for("profile", ALICE_ID) + f"?v={bad}",
        "offline_image_url": f"https://static-cdn.jtvnw.net/{bad}.png",
    }
    game = {"id": "509658", "name": f"Just {bad}Chatting", "box_art_url": f"https://x/{bad}"}
    video = {
        "id": "2000000001",
        "user_id": ALICE_ID,
        "stream_id": "40000000001",
        "title": f"Morning {bad}",
        "thumbnail_url": f"https://static-cdn.jtvnw.net/{bad}-%{{width}}x%{{height}}.jpg",
        "created_at": "2026-11-01T08:00:00Z",
        "duration": "1h",
    }
    for route, entry in (("users", user), ("games", game), ("videos", video)):
        fake.fail(route, 200, body=json.dumps({"data": [entry]}).encode("ascii"))
    engine = make_engine(fake, tmp_path, clock)
    try:
        summary = engine.full_pass()
        stored = engine.res.state.twitch.user_by_id(ALICE_ID)
    finally:
        engine.close()
    assert summary.errors == 0
    assert stored is not None
    assert stored.display_name == "Alice \ufffdPlays"
    assert stored.description == "Cozy \ufffd games"
    assert stored.offline_image_url == "https://static-cdn.jtvnw.net/\ufffd.png"
    tvshow = (tmp_path / "rec" / "Alice Plays" / "tvshow.nfo").read_text(encoding="utf-8")
    assert "<title>Alice \ufffdPlays</title>" in tvshow
    assert check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db").problems == []


def test_a_rate_limit_reset_far_away_costs_a_pass_at_most_its_wait_budget(
    fake: FakeTwitch, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Every Helix route answers 429 with `Ratelimit-Reset` an hour away: the pass waits at
    most `HELIX_WAIT_BUDGET` seconds on the injected clock in total (nothing, since no wait
    fits), skips its look-ups with one log line, counts them, leaves the finished
    recordings not done, and a later pass (after the reset) gives them their Twitch ids."""
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    reset = {"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(clock.time()) + 3600)}
    for route in ("users", "games", "videos"):
        fake.fail(route, 429, times=100, headers=reset)
    engine = make_engine(fake, tmp_path, clock)
    try:
        with caplog.at_level(logging.INFO):
            first = engine.full_pass()
        assert sum(clock.slept) <= HELIX_WAIT_BUDGET
        spent = [r for r in caplog.records if "wait budget spent" in r.getMessage()]
        assert len(spent) == 1 and spent[0].levelname == "WARNING"
        assert first.errors >= 1
        done = engine.res.state.db.execute(
            "SELECT COUNT(*) FROM recordings WHERE status = 'done'"
        ).fetchone()[0]
        assert done == 0
        clock.advance(3601)
        fake.clear_failures()
        engine.full_pass()  # an ordinary later pass, no retry asked for
    finally:
        engine.close()
    alice = (tmp_path / "rec" / "Alice Plays" / "tvshow.nfo").read_text(encoding="utf-8")
    assert f'<uniqueid type="twitch" default="true">{ALICE_ID}</uniqueid>' in alice
    assert check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db").problems == []
