"""Garbage, oversize, slow and rude clients hurt nobody else and never kill the server."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.control import server as server_mod
from svimaged.control.routes import Router

from .test_server import (
    STATS,
    FakeApi,
    UnixHTTPConnection,
    get_json,
    make_images,
    raw_exchange,
    request,
    running,
)

STATS_REQUEST = b"GET /api/images/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture
def api(tmp_path: Path) -> FakeApi:
    root = tmp_path / ".images"
    make_images(root)
    return FakeApi(root)


@pytest.fixture
def sock(api: FakeApi) -> Iterator[str]:
    with running(api, request_timeout=1.0) as (_server, path):
        yield path


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:80]
    return int(raw.split(b" ", 2)[1])


def still_serves(path: str) -> None:
    assert get_json(path, "GET", "/api/images/stats") == (200, STATS)


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return sock


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400),
        (b"hello\r\n\r\n", 400),
        (b"GET /healthz\r\n\r\n", 400),  # HTTP/0.9
        (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
        (b"GET /healthz FTP/1.0\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET " + b"/a" * 5000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 65 + b"\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /api/images/sync HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST /api/images/sync HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST /api/images/sync HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
    ],
)
def test_bad_requests_get_an_error_and_a_closed_connection(
    sock: str, data: bytes, status: int
) -> None:
    raw = raw_exchange(sock, data)  # returns only once the server closed the connection
    assert status_of(raw) == status
    if status != 200:
        assert b"Connection: close" in raw
        assert b'{"error": {"code": ' in raw
    still_serves(sock)


def test_64_headers_are_fine(sock: str) -> None:
    raw = raw_exchange(
        sock, b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 63 + b"Connection: close\r\n\r\n"
    )
    assert status_of(raw) == 200


def test_small_post_body_is_read_and_dropped(api: FakeApi, sock: str) -> None:
    conn = UnixHTTPConnection(sock)
    assert request(conn, "POST", "/api/images/cleanup", body=b'{"x": 1}')[0] == 200
    assert request(conn, "GET", "/healthz")[0] == 200  # the body did not leak into this one
    conn.close()
    assert api.calls == [("cleanup", False)]


def test_pipelined_requests_are_answered_in_order(sock: str) -> None:
    one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = raw_exchange(sock, one + one + STATS_REQUEST)
    assert raw.count(b"HTTP/1.1 200 OK") == 3


@pytest.mark.parametrize("size", [1_000_000, 100_000])
def test_huge_header_line_is_431_and_harmless(sock: str, size: int) -> None:
    data = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    raw = raw_exchange(sock, data)
    assert status_of(raw) == 431
    still_serves(sock)


def test_100_headers_are_431(sock: str) -> None:
    raw = raw_exchange(sock, b"GET /healthz HTTP/1.1\r\n" + b"X-N: v\r\n" * 100 + b"\r\n")
    assert status_of(raw) == 431


def test_half_request_then_silence_is_dropped_and_others_are_served(sock: str) -> None:
    slow = connect(sock)
    slow.sendall(b"GET /api/images/stats HTTP/1.1\r\nHost: x\r\n")  # no blank line, ever
    silent = connect(sock)  # never sends a byte
    started = time.monotonic()
    still_serves(sock)
    assert time.monotonic() - started < 0.5  # not held up by the two
    for client in (slow, silent):
        assert client.recv(100) == b""  # closed by the server after request_timeout (1 s)
        client.close()
    assert time.monotonic() - started < 4


def test_idle_keep_alive_connection_is_closed_after_the_timeout(sock: str) -> None:
    conn = UnixHTTPConnection(sock)
    assert request(conn, "GET", "/healthz")[0] == 200
    assert conn.sock is not None
    assert conn.sock.recv(10) == b""
    conn.close()


def test_reaper_hangs_up_on_a_connection_past_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client trickling one byte per recv beats the socket timeout but not the per-request
    deadline; the deadline check runs against a faked clock (no sleeping)."""
    shared = server_mod._Shared(Router.__new__(Router), timeout=10.0, max_connections=1)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        shared.watch(ours, reading=True)
        shared.reap()
        theirs.setblocking(False)
        with pytest.raises(BlockingIOError):
            theirs.recv(1)  # still open: the deadline has not passed
        now = time.monotonic()
        monkeypatch.setattr(time, "monotonic", lambda: now + 11)
        shared.reap()
        theirs.settimeout(1)
        assert theirs.recv(1) == b""  # hung up
        shared.watch(ours, reading=False)
        assert shared._deadlines[ours] == math.inf


def test_too_many_connections_get_503(api: FakeApi) -> None:
    with running(api, max_connections=2, request_timeout=5.0) as (_server, path):
        idle = [connect(path), connect(path)]
        for client in idle:  # make sure both were accepted and hold a slot
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        raw = raw_exchange(path, STATS_REQUEST)
        assert status_of(raw) == 503
        assert b'"busy"' in raw
        for client in idle:
            client.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the slots come back once the handlers see EOF
            if status_of(raw_exchange(path, STATS_REQUEST)) == 200:
                break
        else:
            pytest.fail("slots were never released")


def test_client_that_disconnects_mid_response_hurts_nobody(
    api: FakeApi, sock: str, caplog: pytest.LogCaptureFixture
) -> None:
    big = api.images_root / "profiles" / "profile_avatar_1.jpg"
    big.write_bytes(b"\xff\xd8" + b"x" * 8_000_000)
    with caplog.at_level(logging.DEBUG, logger="svimaged.control"):
        for _ in range(3):
            client = connect(sock)
            client.sendall(b"GET /data/images/profiles/profile_avatar_1.jpg HTTP/1.1\r\n\r\n")
            assert client.recv(1000).startswith(b"HTTP/1.1 200")
            client.close()
        still_serves(sock)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_many_bad_clients_at_once_leave_the_server_working(sock: str) -> None:
    payloads = [b"\x00" * 10, b"GET / HTTP/1.1\r\n", b"x" * 70000, b"GET /healthz HTTP/9.9\r\n\r\n"]
    threads = [
        threading.Thread(target=lambda p=p: raw_exchange(sock, p, timeout=3)) for p in payloads * 3
    ]
    for thread in threads:
        thread.start()
    still_serves(sock)
    for thread in threads:
        thread.join(5)
    still_serves(sock)


def test_handler_crash_is_contained(
    sock: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(self: Router, req: object) -> None:
        raise RuntimeError("boom in the router")

    monkeypatch.setattr(Router, "handle", explode)
    with (
        caplog.at_level(logging.ERROR, logger="svimaged.control"),
        contextlib.suppress(ConnectionError),
    ):
        assert raw_exchange(sock, STATS_REQUEST) == b""  # hung up, no half answer
    assert any("crashed" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    still_serves(sock)
