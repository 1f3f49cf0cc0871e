"""Tests for svimaged.images.fetch: URL policy, redirects, caps, deadline, conditional GETs,
threads.

Only 127.0.0.1 is contacted (pytest-httpserver or a raw socket server); address checks use a
fake resolver, so no DNS is involved.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from svimaged.core.errors import (
    ConfigError,
    DisallowedURLError,
    FetchError,
    ShuttingDownError,
    TooLargeError,
)
from svimaged.images.fetch import Fetcher
from svimaged.images.urlpolicy import FetchPolicy, check_url, is_global_address


def local_policy(server: HTTPServer, **overrides: Any) -> FetchPolicy:
    settings: dict[str, Any] = {
        "allowed_hosts": frozenset({f"127.0.0.1:{server.port}"}),
        "require_https": False,
        "allow_private_networks": True,
        "timeout": 5.0,
    }
    settings.update(overrides)
    return FetchPolicy(**settings)


def url_for(server: HTTPServer, path: str) -> str:
    """Like `server.url_for` but with the literal address (the allowlist names 127.0.0.1)."""
    return f"http://127.0.0.1:{server.port}{path}"


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolver must not be called for {host}:{port}")


def fixed_dns(*addresses: str) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


class StepClock:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def raw_server(
    reply: bytes, *, hold: bool, arrived: threading.Event | None = None
) -> Iterator[int]:
    """Serve one connection on 127.0.0.1: read the request (then set `arrived`), send
    `reply`, then keep the connection open (`hold`) until the test is done, or close it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            if arrived is not None:
                arrived.set()
            conn.sendall(reply)
            if hold:
                done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        listener.close()
        thread.join(5)


# --- plain GETs and conditional GETs -----------------------------------------------------


def test_get_returns_body_and_validators(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a.jpg").respond_with_data(
        b"\xff\xd8\xffdata",
        content_type="image/jpeg",
        headers={"ETag": '"v1"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"},
    )
    fetcher = Fetcher(local_policy(httpserver))
    result = fetcher.get(url_for(httpserver, "/a.jpg"))
    assert result.body == b"\xff\xd8\xffdata"
    assert not result.not_modified
    assert result.url == url_for(httpserver, "/a.jpg")
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.content_type == "image/jpeg"
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"].startswith("svimaged/")
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_conditional_get_not_modified(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/a.jpg",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Wed, 01 Jan 2025 00:00:00 GMT"},
    ).respond_with_data(b"", status=304, headers={"ETag": '"v1"'})
    fetcher = Fetcher(local_policy(httpserver))
    result = fetcher.get(
        url_for(httpserver, "/a.jpg"), etag='"v1"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT"
    )
    assert result.not_modified
    assert result.body == b""
    assert result.etag == '"v1"'
    assert fetcher.downloads == 0
    assert fetcher.bytes_total == 0


def test_304_without_conditional_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a.jpg").respond_with_data(b"", status=304)
    with pytest.raises(FetchError) as caught:
        Fetcher(local_policy(httpserver)).get(url_for(httpserver, "/a.jpg"))
    assert caught.value.status == 304


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_http_errors_keep_status(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/gone.jpg").respond_with_data(b"<html>nope</html>", status=status)
    url = url_for(httpserver, "/gone.jpg")
    with pytest.raises(FetchError) as caught:
        Fetcher(local_policy(httpserver)).get(url)
    assert caught.value.status == status
    assert str(status) in str(caught.value)
    assert url in str(caught.value)
    assert not isinstance(caught.value, DisallowedURLError)


def test_counters(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(b"x" * 10)
    httpserver.expect_request("/b").respond_with_data(b"y" * 32)
    fetcher = Fetcher(local_policy(httpserver))
    fetcher.get(url_for(httpserver, "/a"))
    fetcher.get(url_for(httpserver, "/b"))
    assert (fetcher.downloads, fetcher.bytes_total) == (2, 42)


def test_sessions_stay_bounded_however_many_threads_come_and_go(httpserver: HTTPServer) -> None:
    # A daemon starts new transfer threads for every batch; sessions (and their sockets)
    # must not pile up per thread.
    httpserver.expect_request("/a").respond_with_data(b"x" * 10)
    fetcher = Fetcher(local_policy(httpserver), concurrency=2)
    for _batch in range(15):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _i: fetcher.get(url_for(httpserver, "/a")), range(4)))
    assert fetcher.downloads == 60
    assert len(fetcher._sessions) <= 2
    fetcher.close()
    assert fetcher._sessions == [] and fetcher._idle == []


# --- redirects ---------------------------------------------------------------------------


def test_relative_redirect_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data(
        b"", status=301, headers={"Location": "/new.jpg"}
    )
    httpserver.expect_request("/new.jpg").respond_with_data(b"image")
    result = Fetcher(local_policy(httpserver)).get(url_for(httpserver, "/old"))
    assert result.body == b"image"
    assert result.url == url_for(httpserver, "/new.jpg")


def test_redirect_to_other_allowed_host_followed(httpserver: HTTPServer) -> None:
    other = f"localhost:{httpserver.port}"
    policy = local_policy(
        httpserver, allowed_hosts=frozenset({f"127.0.0.1:{httpserver.port}", other})
    )
    httpserver.expect_request("/a").respond_with_data(
        b"", status=307, headers={"Location": f"http://{other}/b"}
    )
    httpserver.expect_request("/b").respond_with_data(b"moved")
    result = Fetcher(policy).get(url_for(httpserver, "/a"))
    assert result.body == b"moved"
    assert result.url == f"http://{other}/b"


@pytest.mark.parametrize(
    "location",
    [
        "http://evil.example/x.jpg",
        "http://localhost:{port}/x.jpg",
        "http://127.0.0.1:1/x.jpg",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
    ],
)
def test_redirect_to_disallowed_target_refused_at_the_hop(
    httpserver: HTTPServer, location: str
) -> None:
    target = location.format(port=httpserver.port)
    httpserver.expect_request("/a").respond_with_data(b"", status=302, headers={"Location": target})
    with pytest.raises(DisallowedURLError) as caught:
        Fetcher(local_policy(httpserver), resolver=no_dns).get(url_for(httpserver, "/a"))
    assert target in str(caught.value)
    assert len(httpserver.log) == 1


def test_redirect_loop_stops(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        b"", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(FetchError, match="more than 3 redirects"):
        Fetcher(local_policy(httpserver, max_redirects=3)).get(url_for(httpserver, "/loop"))
    assert len(httpserver.log) == 4


def test_redirect_without_location(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(b"", status=302)
    with pytest.raises(FetchError, match="without Location") as caught:
        Fetcher(local_policy(httpserver)).get(url_for(httpserver, "/a"))
    assert caught.value.status == 302


# --- URL policy --------------------------------------------------------------------------


def test_http_refused_when_https_required(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(b"x")
    with pytest.raises(DisallowedURLError, match="scheme 'http'"):
        Fetcher(local_policy(httpserver, require_https=True)).get(url_for(httpserver, "/a"))
    assert httpserver.log == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://cdn.example/a.jpg",
        "gopher://cdn.example/",
        "javascript:alert(1)",
        "//cdn.example/a.jpg",
        "cdn.example/a.jpg",
    ],
)
def test_other_schemes_refused(url: str) -> None:
    policy = FetchPolicy(frozenset({"cdn.example"}), require_https=False)
    with pytest.raises(DisallowedURLError, match="scheme"):
        check_url(url, policy, no_dns)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw@cdn.example/a.jpg",
        "https://user@cdn.example/a.jpg",
        "https://cdn.example@evil.example/a.jpg",
    ],
)
def test_userinfo_refused(url: str) -> None:
    with pytest.raises(DisallowedURLError, match="user info"):
        check_url(url, FetchPolicy(frozenset({"cdn.example"})), no_dns)


def test_userinfo_refused_without_request(httpserver: HTTPServer) -> None:
    url = f"http://user:pw@127.0.0.1:{httpserver.port}/a"
    with pytest.raises(DisallowedURLError):
        Fetcher(local_policy(httpserver)).get(url)
    assert httpserver.log == []


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example\\@evil.example/a.jpg",
        "https://cdn.example/a b.jpg",
        "https://cdn.example/a\r\nX-Injected: 1",
        "https://cdn.example:99999/a.jpg",
        "https://cdn.example:0/a.jpg",
        "https://cdn.example:abc/a.jpg",
        "https:///a.jpg",
        "https://[::1/a.jpg",
    ],
)
def test_malformed_urls_refused(url: str) -> None:
    with pytest.raises(DisallowedURLError):
        check_url(url, FetchPolicy(frozenset({"cdn.example"})), fixed_dns("93.184.216.34"))


@pytest.mark.parametrize(
    ("allowed", "url", "ok"),
    [
        ("cdn.example", "https://cdn.example/a.jpg", True),
        ("cdn.example", "https://CDN.Example/a.jpg", True),
        ("CDN.EXAMPLE", "https://cdn.example./a.jpg", True),
        ("cdn.example", "https://cdn.example:443/a.jpg", True),
        ("cdn.example", "https://cdn.example:8443/a.jpg", False),
        ("cdn.example:8443", "https://cdn.example:8443/a.jpg", True),
        ("cdn.example:8443", "https://cdn.example/a.jpg", False),
        ("cdn.example", "https://sub.cdn.example/a.jpg", False),
        ("cdn.example", "https://cdn.example.evil/a.jpg", False),
        ("cdn.example", "https://evil.example/?u=https://cdn.example/", False),
        ("cdn.example", "https://evil.example#@cdn.example", False),
        ("bücher.example", "https://BÜCHER.example/a.jpg", True),
        ("xn--bcher-kva.example", "https://bücher.example/a.jpg", True),
        ("bücher.example", "https://xn--bcher-kva.example/a.jpg", True),
        ("[2606:4700::1111]", "https://[2606:4700::1111]/a.jpg", True),
    ],
)
def test_host_allowlist(allowed: str, url: str, ok: bool) -> None:
    policy = FetchPolicy(frozenset({allowed}))
    if ok:
        check_url(url, policy, fixed_dns("93.184.216.34"))
    else:
        with pytest.raises(DisallowedURLError, match="not in allowed_hosts"):
            check_url(url, policy, fixed_dns("93.184.216.34"))


@pytest.mark.parametrize("entry", ["", "cdn.example/path", "user@cdn.example", "cdn.example:x"])
def test_bad_allowlist_entry_is_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match=r"download\.allowed_hosts"):
        FetchPolicy(frozenset({entry}))


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "127.0.0.1",
        "::1",
        "169.254.169.254",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "fc00::1",
        "fe80::1%eth0",
        "::7f00:1",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
        "not-an-ip",
    ],
)
def test_non_global_addresses_refused(address: str) -> None:
    policy = FetchPolicy(frozenset({"cdn.example"}))
    with pytest.raises(DisallowedURLError, match="non-global") as caught:
        check_url("https://cdn.example/a.jpg", policy, fixed_dns(address))
    assert "https://cdn.example/a.jpg" in str(caught.value)
    assert not is_global_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_global_addresses_allowed(address: str) -> None:
    policy = FetchPolicy(frozenset({"cdn.example"}))
    check_url("https://cdn.example/a.jpg", policy, fixed_dns(address))


def test_any_private_address_in_answer_refuses() -> None:
    policy = FetchPolicy(frozenset({"cdn.example"}))
    with pytest.raises(DisallowedURLError, match=r"10\.0\.0\.1"):
        check_url("https://cdn.example/", policy, fixed_dns("93.184.216.34", "10.0.0.1"))


def test_private_addresses_allowed_when_configured() -> None:
    policy = FetchPolicy(frozenset({"cdn.example"}), allow_private_networks=True)
    check_url("https://cdn.example/", policy, no_dns)


def test_resolution_failure_is_a_fetch_error() -> None:
    def broken(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    policy = FetchPolicy(frozenset({"cdn.example"}))
    for resolver in (broken, fixed_dns()):
        with pytest.raises(FetchError, match=r"cannot resolve cdn\.example") as caught:
            check_url("https://cdn.example/a.jpg", policy, resolver)
        assert not isinstance(caught.value, DisallowedURLError)


def test_connect_time_peer_check_stops_rebinding(httpserver: HTTPServer) -> None:
    # The resolver answers a global address, the connection lands on 127.0.0.1.
    httpserver.expect_request("/a").respond_with_data(b"x")
    policy = local_policy(httpserver, allow_private_networks=False)
    fetcher = Fetcher(policy, resolver=fixed_dns("93.184.216.34"))
    with pytest.raises(DisallowedURLError, match=r"non-global address 127\.0\.0\.1"):
        fetcher.get(url_for(httpserver, "/a"))
    assert httpserver.log == []


# --- size, time, network errors ----------------------------------------------------------


def test_content_length_over_cap_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000)
    fetcher = Fetcher(local_policy(httpserver, max_bytes=1000))
    with pytest.raises(TooLargeError, match="Content-Length 2000"):
        fetcher.get(url_for(httpserver, "/big"))
    assert fetcher.downloads == 0


def test_endless_body_stopped_at_cap(httpserver: HTTPServer) -> None:
    sent = []

    def endless(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(1600):  # 100 MiB at most, should the client not stop
                sent.append(1)
                yield b"z" * 65536

        return Response(chunks(), content_type="image/jpeg")

    httpserver.expect_request("/endless").respond_with_handler(endless)
    fetcher = Fetcher(local_policy(httpserver, max_bytes=300_000))
    with pytest.raises(TooLargeError, match="over 300000 bytes"):
        fetcher.get(url_for(httpserver, "/endless"))
    assert len(sent) < 1600


def test_body_equal_to_cap_accepted(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/exact").respond_with_data(b"x" * 1000)
    result = Fetcher(local_policy(httpserver, max_bytes=1000)).get(url_for(httpserver, "/exact"))
    assert len(result.body) == 1000


def test_slow_body_hits_deadline(httpserver: HTTPServer) -> None:
    def trickle(request: Request) -> Response:
        return Response((b"d" * 65536 for _ in range(50)), content_type="image/jpeg")

    httpserver.expect_request("/drip").respond_with_handler(trickle)
    # Each clock read moves one second; timeout 0.5 s gives a 2 s deadline.
    fetcher = Fetcher(local_policy(httpserver, timeout=0.5), clock=StepClock(1.0))
    with pytest.raises(FetchError, match="longer than 2 s"):
        fetcher.get(url_for(httpserver, "/drip"))


def test_stalled_body_hits_read_timeout() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10
    with raw_server(reply, hold=True) as port:
        policy = FetchPolicy(
            frozenset({f"127.0.0.1:{port}"}),
            require_https=False,
            allow_private_networks=True,
            timeout=0.3,
        )
        with pytest.raises(FetchError, match="body read failed") as caught:
            Fetcher(policy).get(f"http://127.0.0.1:{port}/a")
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_truncated_body_is_an_error() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + b"x" * 10
    with raw_server(reply, hold=False) as port:
        policy = FetchPolicy(
            frozenset({f"127.0.0.1:{port}"}), require_https=False, allow_private_networks=True
        )
        with pytest.raises(FetchError, match="body read failed"):
            Fetcher(policy).get(f"http://127.0.0.1:{port}/a")


def test_connection_refused_is_a_fetch_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    policy = FetchPolicy(
        frozenset({f"127.0.0.1:{port}"}), require_https=False, allow_private_networks=True
    )
    url = f"http://127.0.0.1:{port}/a.jpg"
    with pytest.raises(FetchError, match="connection failed") as caught:
        Fetcher(policy).get(url)
    assert str(caught.value) == f"connection failed: {url}"


# --- session hygiene and threads ---------------------------------------------------------


def test_cookies_not_kept(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/set").respond_with_data(
        b"x", headers={"Set-Cookie": "sid=secret; Path=/"}
    )
    httpserver.expect_request("/next").respond_with_data(b"y")
    fetcher = Fetcher(local_policy(httpserver))
    fetcher.get(url_for(httpserver, "/set"))
    fetcher.get(url_for(httpserver, "/next"))
    assert "Cookie" not in httpserver.log[1][0].headers


def test_proxy_environment_ignored(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    httpserver.expect_request("/a").respond_with_data(b"direct")
    assert Fetcher(local_policy(httpserver)).get(url_for(httpserver, "/a")).body == b"direct"


def test_get_after_close_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(b"x")
    fetcher = Fetcher(local_policy(httpserver))
    fetcher.get(url_for(httpserver, "/a"))
    fetcher.close()
    with pytest.raises(ShuttingDownError):
        fetcher.get(url_for(httpserver, "/a"))


@pytest.mark.parametrize(
    "reply",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10],
    ids=["waiting-for-headers", "mid-body"],
)
def test_close_cuts_off_a_transfer_in_flight(reply: bytes) -> None:
    """The server holds the answer for 10 s and the timeout is 30 s: `close()` must end the
    transfer at once with `ShuttingDownError` (SIGTERM may not wait for a slow CDN)."""
    arrived = threading.Event()
    with raw_server(reply, hold=True, arrived=arrived) as port:
        policy = FetchPolicy(
            frozenset({f"127.0.0.1:{port}"}),
            require_https=False,
            allow_private_networks=True,
            timeout=30.0,
        )
        fetcher = Fetcher(policy)
        errors: list[BaseException] = []

        def fetch() -> None:
            try:
                fetcher.get(f"http://127.0.0.1:{port}/slow.jpg")
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=fetch, daemon=True)
        thread.start()
        assert arrived.wait(5)
        fetcher.close()
        thread.join(5)  # without the cut-off: 10 s (the hold), not 5
        assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ShuttingDownError), errors


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def test_threads_share_one_fetcher(threaded_server: HTTPServer) -> None:
    for index in range(8):
        threaded_server.expect_request(f"/img{index}").respond_with_data(
            bytes([index]) * (1000 + index)
        )
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def factory() -> requests.Session:
        session = requests.Session()
        with lock:
            sessions.append(session)
        return session

    fetcher = Fetcher(local_policy(threaded_server), session_factory=factory, concurrency=8)
    urls = [url_for(threaded_server, f"/img{index % 8}") for index in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fetcher.get, urls))
    for index, result in enumerate(results):
        assert result.body == bytes([index % 8]) * (1000 + index % 8)
    assert fetcher.downloads == 40
    assert fetcher.bytes_total == sum(len(result.body) for result in results)
    assert 1 <= len(sessions) <= 8
    assert len({id(session) for session in sessions}) == len(sessions)
    fetcher.close()
