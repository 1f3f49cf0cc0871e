"""Garbage, oversize, slow and rude clients hurt nobody else and never kill the server."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.control.routes import Router
from svimaged.control.server import ControlServer
from svimaged.core.clock import FakeClock

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


def test_idle_keep_alive_connection_is_closed_after_the_timeout(sock: str) -> None:
    conn = UnixHTTPConnection(sock)
    assert request(conn, "GET", "/healthz")[0] == 200
    assert conn.sock is not None
    assert conn.sock.recv(10) == b""
    conn.close()


def is_open(sock: socket.socket) -> bool:
    """True while the server has neither answered nor closed `sock` (no waiting)."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and Content-Length body) from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


def hung_up(sock: socket.socket) -> bool:
    """True once the server closed `sock` (an end, or a reset if it left bytes unread)."""
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed(api: FakeApi, clock: FakeClock) -> Iterator[tuple[ControlServer, str]]:
    """A server whose deadlines (10 s) run on a fake clock: only `clock.advance` moves them."""
    with running(api, request_timeout=10.0, clock=clock) as (server, path):
        yield server, path


def test_half_request_then_silence_is_dropped_and_others_are_served(
    timed: tuple[ControlServer, str], clock: FakeClock
) -> None:
    """Deadlines on a fake clock, so no wall-clock bound: others are served while the two
    still hold their connections (were they in the way, nothing would be served before the
    clock moves), and the two are hung up once their deadline has passed."""
    server, path = timed
    slow = connect(path)
    slow.sendall(b"GET /api/images/stats HTTP/1.1\r\nHost: x\r\n")  # no blank line, ever
    silent = connect(path)  # never sends a byte
    still_serves(path)
    assert is_open(slow) and is_open(silent)  # served while both still wait
    clock.advance(10.5)
    server.reap()  # (or the reaper thread, which runs on the same clock)
    for client in (slow, silent):
        assert hung_up(client)
        client.close()
    still_serves(path)


def test_deadline_holds_however_steadily_a_client_trickles(
    timed: tuple[ControlServer, str], clock: FakeClock
) -> None:
    """Slowloris: a header line every few seconds keeps the socket busy, never the slot."""
    server, path = timed
    with connect(path) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(client).startswith(b"HTTP/1.1 200")  # its next deadline runs now
        client.sendall(b"GET /api/images/stats HTTP/1.1\r\n")
        clock.advance(6)
        client.sendall(b"X-Slow-1: x\r\n")
        assert server.reap() == 0
        assert is_open(client)
        clock.advance(4.5)
        client.sendall(b"X-Slow-2: x\r\n")
        server.reap()  # (or the reaper thread, which runs on the same clock)
        assert hung_up(client)  # although it sent a line just now
    still_serves(path)


def test_a_client_that_stops_reading_its_answer_is_cut_at_the_deadline(
    api: FakeApi, timed: tuple[ControlServer, str], clock: FakeClock
) -> None:
    server, path = timed
    size = 8_000_000
    (api.images_root / "profiles" / "profile_avatar_1.jpg").write_bytes(
        b"\xff\xd8\xff" + b"x" * size
    )
    with connect(path) as client:
        client.sendall(b"GET /data/images/profiles/profile_avatar_1.jpg HTTP/1.1\r\n\r\n")
        assert client.recv(20).startswith(b"HTTP/1.1 200")  # then it stops reading
        clock.advance(11)
        server.reap()  # (or the reaper thread)
        received = b"".join(iter(lambda: client.recv(1 << 20), b""))
    assert len(received) < size  # what was in the socket buffers, then the end
    still_serves(path)


def test_a_slow_tcp_flood_leaves_the_unix_socket_usable(api: FakeApi) -> None:
    """200 TCP clients that never finish a request take every TCP slot (32) and the rest
    are refused; /healthz on the Unix socket answers 200 all the while."""
    with running(api, listen="127.0.0.1:0") as (server, path):
        address = server.tcp_address
        assert address is not None
        flood = [socket.create_connection(address, timeout=5) for _ in range(200)]
        try:
            for sock in flood:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert flood[-1].recv(100).startswith(b"HTTP/1.1 503")  # TCP is full
            assert is_open(flood[0])
            for line in range(3):
                for sock in flood[:32]:
                    sock.sendall(f"X-Slow-{line}: x\r\n".encode())
                assert get_json(path, "GET", "/healthz") == (
                    200,
                    {"status": "ok", "version": "9.9.9"},
                )
            still_serves(path)
        finally:
            for sock in flood:
                sock.close()


def test_refused_connections_are_logged_at_a_bounded_rate(
    api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="svimaged.control"),
        running(api, listen="127.0.0.1:0", max_connections=2) as (server, _path),
    ):
        address = server.tcp_address
        assert address is not None
        held = [socket.create_connection(address, timeout=5) for _ in range(2)]
        for _ in range(50):
            with socket.create_connection(address, timeout=5) as refused:
                assert refused.recv(100).startswith(b"HTTP/1.1 503")
        refusals = [
            r.getMessage() for r in caplog.records if "refused connections" in r.getMessage()
        ]
        for sock in held:
            sock.close()
    assert len(refusals) == 1
    assert "listener=tcp" in refusals[0] and "count=1" in refusals[0]
    summary = [r.getMessage() for r in caplog.records if "refused connections" in r.getMessage()]
    assert "count=49" in summary[-1]  # the rest, reported once when the server stops


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
    big.write_bytes(b"\xff\xd8\xff" + b"x" * 8_000_000)
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
