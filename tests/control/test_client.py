"""`ControlClient` against a real `ControlServer` (FakeApi behind it), against canned raw
answers from a one-shot socket, and against sockets nobody serves."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.control import client as client_mod
from svimaged.control.client import ControlClient, ControlError, quote_segment
from svimaged.core.errors import DaemonUnreachableError, SvimagedError

from .test_server import STATS, FakeApi, make_images, running, short_dir

# -- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> FakeApi:
    root = tmp_path / "rec" / ".images"
    make_images(root)
    return FakeApi(root)


@pytest.fixture
def client(api: FakeApi) -> Iterator[ControlClient]:
    with running(api) as (_server, path):
        yield ControlClient(Path(path), timeout=5.0)


@contextlib.contextmanager
def canned(answer: bytes) -> Iterator[Path]:
    """A socket that answers every request on it with `answer` (raw bytes), then hangs up."""
    with short_dir() as folder:
        path = folder / "c.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(4)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(5)
                    data = b""
                    while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                        data += chunk
                    conn.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield path
        finally:
            stop.set()
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            thread.join(5)


def http_answer(status: str, ctype: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


# -- quote_segment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("alice", "alice"),
        ("Pokémon Scarlet/Violet", "Pok%C3%A9mon%20Scarlet%2FViolet"),
        ("a?b#c", "a%3Fb%23c"),
        ("100%", "100%25"),
        ("Just Chatting", "Just%20Chatting"),
    ],
)
def test_quote_segment_escapes_everything_that_is_not_one_segment(name: str, quoted: str) -> None:
    assert quote_segment(name) == quoted


# -- a real server ----------------------------------------------------------------------


def test_json_answer_is_parsed(client: ControlClient) -> None:
    status, answer = client.request("GET", "/api/images/stats")
    assert status == 200
    assert answer == STATS
    assert client.json("GET", "/healthz") == {"status": "ok", "version": "9.9.9"}


def test_metrics_answer_is_text(client: ControlClient) -> None:
    status, answer = client.request("GET", "/metrics")
    assert status == 200
    assert isinstance(answer, str)
    assert "svimaged_downloads_total 7" in answer


def test_json_of_a_text_route_is_a_control_error(client: ControlClient) -> None:
    with pytest.raises(ControlError, match="expected JSON"):
        client.json("GET", "/metrics")


def test_category_name_with_a_slash_reaches_the_api(client: ControlClient) -> None:
    path = "/api/images/category/" + quote_segment("Pokémon Scarlet/Violet")
    info = client.json("GET", path)
    assert info["category_name"] == "Pokémon Scarlet/Violet"
    assert info["slug"] == "pokemon_scarlet_violet"


def test_query_parameters_are_sent(client: ControlClient, api: FakeApi) -> None:
    status, answer = client.request("POST", "/api/images/sync", query={"wait": "1"})
    assert (status, answer) == (
        200,
        {"job_id": "job-1", "downloaded": 2, "failed": 1, "nfo_written": 5, "seconds": 0.5},
    )
    client.json("POST", "/api/images/streamer/alice/download", query={"force": "1"})
    assert ("download_streamer", "alice", True) in api.calls
    status, answer = client.request("POST", "/api/images/sync")
    assert (status, answer) == (202, {"job_id": "job-1", "queued": True})


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        ("GET", "/api/images/streamer/nobody", 404, "not_found", "unknown streamer nobody"),
        ("POST", "/api/images/streamer/broken/download", 502, "fetch", "CDN answered 500"),
        ("GET", "/api/images/streamer/a%20b", 400, "bad_name", ""),
        ("POST", "/api/images/stats", 405, "method_not_allowed", "not allowed"),
        ("GET", "/api/nothing", 404, "not_found", "no such route"),
    ],
)
def test_error_answers_raise_control_error_with_the_servers_message(
    client: ControlClient, method: str, path: str, status: int, code: str, message: str
) -> None:
    with pytest.raises(ControlError) as info:
        client.request(method, path)
    assert info.value.status == status
    assert info.value.code == code
    assert message in str(info.value)
    assert info.value.exit_code == 1
    assert isinstance(info.value, SvimagedError)


def test_shutting_down_is_a_503_control_error(client: ControlClient, api: FakeApi) -> None:
    api.stopping = True
    with pytest.raises(ControlError, match="shutting down") as info:
        client.request("GET", "/api/images/stats")
    assert info.value.status == 503


# -- canned answers ---------------------------------------------------------------------


def test_invalid_json_is_a_control_error() -> None:
    with (
        canned(http_answer("200 OK", "application/json", b"{not json")) as path,
        pytest.raises(ControlError, match="invalid JSON") as info,
    ):
        ControlClient(path, timeout=5).request("GET", "/api/images/stats")
    assert info.value.code == "bad_answer"


def test_json_that_is_not_an_object_is_a_control_error() -> None:
    with (
        canned(http_answer("200 OK", "application/json", b"[1, 2]")) as path,
        pytest.raises(ControlError, match="not an object"),
    ):
        ControlClient(path, timeout=5).request("GET", "/api/images/stats")


def test_error_without_the_spec_body_names_the_status() -> None:
    with (
        canned(http_answer("500 Internal Server Error", "text/plain", b"oops\n")) as path,
        pytest.raises(ControlError, match="HTTP 500: oops") as info,
    ):
        ControlClient(path, timeout=5).request("GET", "/api/images/stats")
    assert info.value.status == 500


def test_answer_over_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "MAX_ANSWER", 10)
    with (
        canned(http_answer("200 OK", "application/json", b'{"a": "0123456789"}')) as path,
        pytest.raises(ControlError, match="larger than 10 bytes"),
    ):
        ControlClient(path, timeout=5).request("GET", "/api/images/stats")


def test_garbage_status_line_is_a_control_error() -> None:
    with canned(b"SMTP ready\r\n\r\n") as path, pytest.raises(ControlError, match="bad answer"):
        ControlClient(path, timeout=5).request("GET", "/healthz")


def test_hang_up_without_an_answer_is_unreachable() -> None:
    with (
        canned(b"") as path,
        pytest.raises(DaemonUnreachableError, match="closed the connection") as info,
    ):
        ControlClient(path, timeout=5).request("GET", "/healthz")
    assert str(path) in str(info.value)
    assert info.value.exit_code == 3


# -- nobody there -----------------------------------------------------------------------


def test_missing_socket_is_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "none.sock"
    with pytest.raises(DaemonUnreachableError) as info:
        ControlClient(path).request("GET", "/healthz")
    assert str(info.value) == f"svimaged is not running (no socket at {path})"
    assert info.value.exit_code == 3
    assert info.value.code == "unreachable"


def test_stale_socket_nobody_listens_on_is_unreachable() -> None:
    with short_dir() as folder:
        path = folder / "stale.sock"
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(str(path))
        dead.close()  # the file stays, nobody listens: ECONNREFUSED
        assert path.exists()
        with pytest.raises(DaemonUnreachableError) as info:
            ControlClient(path).request("GET", "/api/images/stats")
    assert str(info.value) == f"svimaged is not running (no socket at {path})"


def test_regular_file_at_the_socket_path_is_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "not-a-socket"
    path.write_text("hello")
    with pytest.raises(DaemonUnreachableError, match="not running"):
        ControlClient(path).request("GET", "/healthz")


def test_a_daemon_that_never_answers_times_out_naming_the_socket() -> None:
    with short_dir() as folder:
        path = folder / "mute.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:
            mute.bind(str(path))
            mute.listen(1)  # accepts into the backlog, never reads or answers
            with pytest.raises(DaemonUnreachableError) as info:
                ControlClient(path, timeout=0.2).request("GET", "/api/images/stats")
    assert "did not answer within 0.2 s" in str(info.value)
    assert str(path) in str(info.value)


def test_per_request_timeout_overrides_the_default() -> None:
    with short_dir() as folder:
        path = folder / "mute.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:
            mute.bind(str(path))
            mute.listen(1)
            client = ControlClient(path, timeout=60)
            with pytest.raises(DaemonUnreachableError, match=r"within 0\.1 s"):
                client.request("POST", "/api/images/cleanup", timeout=0.1)
