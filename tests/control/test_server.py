"""Route-by-route tests of the control server over a real Unix socket (and TCP on 127.0.0.1).

The helpers at the top (FakeApi, UnixHTTPConnection, `running`, `request`, `raw_exchange`)
are shared with test_traversal.py and test_robustness.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svimaged.control.server import ControlServer
from svimaged.control.sockets import AlreadyRunningError, parse_listen
from svimaged.core.errors import ConfigError, FetchError, NotFoundError

# -- shared helpers ---------------------------------------------------------------------------

STREAMER = {
    "streamer_id": "12345",
    "username": "alice",
    "display_name": "Alice",
    "image_url": "/data/images/profiles/profile_avatar_12345.jpg",
    "original_image_url": "https://static-cdn.jtvnw.net/a.png",
    "cached": True,
    "last_error": None,
}
CATEGORIES = {
    "Just Chatting": "just_chatting",
    "Pokémon Scarlet/Violet": "pokemon_scarlet_violet",
}
STATS = {
    "profiles": {"cached_profiles": 1, "failed_downloads": 0},
    "categories": {"cached_categories": 2, "failed_downloads": 1},
    "artwork": {"cached_artworks": 3, "streamers_with_artwork": 1, "failed_downloads": 0},
    "total_cached": 6,
    "total_failed": 1,
    "bytes_on_disk": 1234,
    "queue": {"pending": 0, "retrying": 1},
    "nfo": {"written": 4, "up_to_date": 2, "errors": 0},
    "last_sync": "2026-11-03T10:00:00Z",
}
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"


class FakeApi:
    """A `ControlApi` with canned answers; records the calls that change something."""

    def __init__(self, images_root: Path) -> None:
        self.images_root = images_root
        self.version = "9.9.9"
        self.stopping = False
        self.calls: list[tuple[Any, ...]] = []
        self.running_polls = 0  # how many wait_job slices answer "running" first
        self.boom = False

    def shutting_down(self) -> bool:
        return self.stopping

    def stats(self) -> dict[str, object]:
        if self.boom:
            raise RuntimeError("a bug in the api")
        return dict(STATS)

    def streamer(self, id_or_login: str) -> dict[str, object]:
        if id_or_login not in ("12345", "alice"):
            raise NotFoundError(f"unknown streamer {id_or_login}")
        return dict(STREAMER)

    def download_streamer(self, id_or_login: str, *, force: bool) -> dict[str, object]:
        self.calls.append(("download_streamer", id_or_login, force))
        if id_or_login == "broken":
            raise FetchError("CDN answered 500", status=500)
        return self.streamer(id_or_login)

    def category(self, name: str) -> dict[str, object]:
        if name not in CATEGORIES:
            raise NotFoundError(f"unknown category {name}")
        slug = CATEGORIES[name]
        return {
            "category_name": name,
            "category_id": "509658",
            "slug": slug,
            "image_url": f"/data/images/categories/{slug}.jpg",
            "original_image_url": "https://static-cdn.jtvnw.net/b.jpg",
            "cached": True,
            "last_error": None,
        }

    def download_category(self, name: str, *, force: bool) -> dict[str, object]:
        self.calls.append(("download_category", name, force))
        return self.category(name)

    def start_sync(self, *, full: bool = False) -> str:
        self.calls.append(("start_sync",))
        return "job-1"

    def job(self, job_id: str) -> dict[str, object]:
        if job_id != "job-1":
            raise NotFoundError(f"unknown job {job_id}")
        return {"job_id": job_id, "state": "running", "done": 1, "total": 3}

    def wait_job(self, job_id: str, timeout: float) -> dict[str, object]:
        self.calls.append(("wait_job", job_id))
        if self.running_polls > 0:
            self.running_polls -= 1
            return {"job_id": job_id, "state": "running", "done": 1, "total": 3}
        return {"job_id": job_id, "downloaded": 2, "failed": 1, "nfo_written": 5, "seconds": 0.5}

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        self.calls.append(("cleanup", dry_run))
        return {
            "profiles_cleaned": 1,
            "categories_cleaned": 0,
            "artwork_cleaned": 2,
            "total_cleaned": 3,
            "bytes_freed": 999,
        }

    def metrics(self) -> str:
        return "# TYPE svimaged_downloads_total counter\nsvimaged_downloads_total 7\n"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX (the test's own client; the real one is control.client)."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


@contextlib.contextmanager
def short_dir() -> Iterator[Path]:
    """A short folder under /tmp: AF_UNIX paths are limited to ~107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="svd"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running(api: FakeApi, **kwargs: Any) -> Iterator[tuple[ControlServer, str]]:
    """A started server on a socket in a short /tmp folder; stopped afterwards."""
    with short_dir() as folder:
        sock = folder / "run" / "c.sock"
        server = ControlServer(api, socket_path=sock, **kwargs)
        server.start()
        try:
            yield server, str(sock)
        finally:
            server.stop()


def request(
    conn_or_path: http.client.HTTPConnection | str,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; returns (status, headers, body)."""
    conn = UnixHTTPConnection(conn_or_path) if isinstance(conn_or_path, str) else conn_or_path
    conn.request(method, url, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    if isinstance(conn_or_path, str):
        conn.close()
    return resp.status, resp.headers, data


def get_json(path: str, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    status, headers, body = request(path, method, url, **kw)
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    return status, json.loads(body.decode("utf-8"))


def raw_exchange(path: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes (or `timeout`)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def make_images(root: Path) -> None:
    """One profile, one category, one artwork and one backdrop image."""
    (root / "profiles").mkdir(parents=True)
    (root / "categories").mkdir()
    (root / "backdrops").mkdir()
    (root / "backdrops" / "offline_12345.jpg").write_bytes(JPEG[:80])
    (root / "artwork" / "12345").mkdir(parents=True)
    (root / "profiles" / "profile_avatar_12345.jpg").write_bytes(JPEG)
    (root / "categories" / "just_chatting.jpg").write_bytes(JPEG[:100])
    (root / "artwork" / "12345" / "stream_42.jpg").write_bytes(JPEG[:50])


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> FakeApi:
    root = tmp_path / "rec" / ".images"
    make_images(root)
    return FakeApi(root)


@pytest.fixture
def sock(api: FakeApi) -> Iterator[str]:
    with running(api) as (_server, path):
        yield path


# -- images ---------------------------------------------------------------------------------

PROFILE = "/data/images/profiles/profile_avatar_12345.jpg"


@pytest.mark.parametrize(
    ("url", "size"),
    [
        (PROFILE, len(JPEG)),
        ("/data/images/categories/just_chatting.jpg", 100),
        ("/data/images/artwork/12345/stream_42.jpg", 50),
        ("/data/images/backdrops/offline_12345.jpg", 80),
    ],
)
def test_image_routes_serve_the_file_with_cache_headers(sock: str, url: str, size: int) -> None:
    status, headers, body = request(sock, "GET", url)
    assert status == 200
    assert body == JPEG[:size]
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Length"] == str(size)
    assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"')
    assert headers["Last-Modified"].endswith("GMT")
    assert headers["Cache-Control"] == "no-cache"


def test_head_image_has_headers_and_no_body(sock: str) -> None:
    conn = UnixHTTPConnection(sock)
    status, headers, body = request(conn, "HEAD", PROFILE)
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(JPEG))
    assert headers["Content-Type"] == "image/jpeg"
    # the connection stays usable: no stray body bytes were sent after the HEAD headers
    assert request(conn, "GET", "/healthz")[0] == 200
    conn.close()


def test_etag_changes_when_the_file_is_replaced(api: FakeApi, sock: str) -> None:
    etag = request(sock, "GET", PROFILE)[1]["ETag"]
    target = api.images_root / "profiles" / "profile_avatar_12345.jpg"
    tmp = target.with_name(".new")
    tmp.write_bytes(JPEG + b"more")
    tmp.replace(target)
    status, headers, _ = request(sock, "GET", PROFILE, headers={"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag


def _count_opens(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> int:
        if os.fsdecode(path).endswith(name):
            opened.append(os.fsdecode(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    return opened


@pytest.mark.parametrize(
    "make_header",
    [
        lambda etag: {"If-None-Match": etag},
        lambda etag: {"If-None-Match": f'"other", W/{etag}'},
        lambda etag: {"If-None-Match": "*"},
        lambda etag: {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
)
def test_conditional_get_answers_304_without_opening_the_file(
    sock: str, monkeypatch: pytest.MonkeyPatch, make_header: Any
) -> None:
    etag = request(sock, "GET", PROFILE)[1]["ETag"]
    opened = _count_opens(monkeypatch, "profile_avatar_12345.jpg")
    status, headers, body = request(sock, "GET", PROFILE, headers=make_header(etag))
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    assert opened == []
    # ... and the same patch sees the open of a normal GET (so it would have caught one)
    assert request(sock, "GET", PROFILE)[0] == 200
    assert len(opened) == 1


def test_head_does_not_open_the_file(sock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _count_opens(monkeypatch, "profile_avatar_12345.jpg")
    assert request(sock, "HEAD", PROFILE)[0] == 200
    assert opened == []


@pytest.mark.parametrize(
    "headers",
    [
        {"If-None-Match": '"nope"'},
        {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
        # If-None-Match wins over a matching If-Modified-Since
        {"If-None-Match": '"nope"', "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
)
def test_conditional_get_without_match_sends_the_image(sock: str, headers: dict[str, str]) -> None:
    status, _, body = request(sock, "GET", PROFILE, headers=headers)
    assert (status, body) == (200, JPEG)


def test_missing_image_is_404_json(sock: str) -> None:
    status, body = get_json(sock, "GET", "/data/images/profiles/profile_avatar_999.jpg")
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_missing_images_folder_is_404(tmp_path: Path) -> None:
    with running(FakeApi(tmp_path / "not-yet")) as (_server, path):
        status, body = get_json(path, "GET", PROFILE)
    assert status == 404
    assert body["error"]["code"] == "not_found"


# -- JSON routes ----------------------------------------------------------------------------


def test_stats(sock: str) -> None:
    assert get_json(sock, "GET", "/api/images/stats") == (200, STATS)


def test_head_on_a_json_route_sends_length_only(sock: str) -> None:
    status, headers, body = request(sock, "HEAD", "/api/images/stats")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) == len(json.dumps(STATS).encode())


@pytest.mark.parametrize("key", ["12345", "alice"])
def test_streamer_by_id_and_login(sock: str, key: str) -> None:
    assert get_json(sock, "GET", f"/api/images/streamer/{key}") == (200, STREAMER)


def test_unknown_streamer_is_404(sock: str) -> None:
    status, body = get_json(sock, "GET", "/api/images/streamer/nobody")
    assert status == 404
    assert body == {"error": {"code": "not_found", "message": "unknown streamer nobody"}}


@pytest.mark.parametrize("key", ["a.b", "%2e%2e", "a%20b", "x" * 129])
def test_bad_streamer_id_is_400(sock: str, key: str) -> None:
    status, body = get_json(sock, "GET", f"/api/images/streamer/{key}")
    assert status == 400
    assert body["error"]["code"] == "bad_name"


@pytest.mark.parametrize(
    ("query", "force"),
    [
        ("", False),
        ("?force=1", True),
        ("?force=true", True),
        ("?force=YES", True),
        ("?force", True),
        ("?force=0", False),
        ("?force=no", False),
    ],
)
def test_streamer_download_force_flag(api: FakeApi, sock: str, query: str, force: bool) -> None:
    status, body = get_json(sock, "POST", f"/api/images/streamer/12345/download{query}")
    assert (status, body) == (200, STREAMER)
    assert api.calls == [("download_streamer", "12345", force)]


def test_bad_flag_value_is_400_and_calls_nothing(api: FakeApi, sock: str) -> None:
    status, body = get_json(sock, "POST", "/api/images/streamer/12345/download?force=maybe")
    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert api.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/images/cleanup?dry_run=1&dry_run=0",
        "/api/images/cleanup?dry_run=0&dry_run=1",
        "/api/images/cleanup?dry_run=1&dry_run=1",
        "/api/images/cleanup?dry_run&dry_run=",
        "/api/images/sync?wait=1&wait=0",
        "/api/images/streamer/12345/download?force=0&force=1",
        "/api/images/category/Just%20Chatting/download?force=1&force",
        # a flag this route does not take (typos included) is no flag at all: 400, not ignored
        "/api/images/cleanup?dry-run=1",
        "/api/images/cleanup?DRY_RUN=1",
        "/api/images/cleanup?dryrun",
        "/api/images/cleanup?force=1",
        "/api/images/sync?wait=1&dry_run=1",
        "/api/images/streamer/12345/download?dry_run=1",
    ],
)
def test_repeated_or_unknown_flag_on_a_post_is_400_and_does_nothing(
    api: FakeApi, sock: str, url: str
) -> None:
    status, body = get_json(sock, "POST", url)
    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert api.calls == []


@pytest.mark.parametrize("url", ["/api/images/stats?v=2", PROFILE + "?cache=bust&cache=again"])
def test_get_routes_ignore_query_parameters(sock: str, url: str) -> None:
    assert request(sock, "GET", url)[0] == 200


def test_too_many_query_parameters_is_400_not_500(api: FakeApi, sock: str) -> None:
    query = "&".join(f"p{i}=1" for i in range(30))
    status, _body = get_json(sock, "POST", f"/api/images/cleanup?{query}")
    assert status == 400
    assert api.calls == []


def test_download_failure_upstream_is_502(sock: str) -> None:
    status, body = get_json(sock, "POST", "/api/images/streamer/broken/download")
    assert status == 502
    assert body == {"error": {"code": "fetch", "message": "CDN answered 500"}}


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        ("Just%20Chatting", "Just Chatting"),
        ("Pok%C3%A9mon%20Scarlet%2FViolet", "Pokémon Scarlet/Violet"),
    ],
)
def test_category_by_encoded_name(sock: str, encoded: str, name: str) -> None:
    status, _headers, raw = request(sock, "GET", f"/api/images/category/{encoded}")
    assert status == 200
    body = json.loads(raw.decode("utf-8"))
    assert body["category_name"] == name
    assert set(body) == {
        "category_name",
        "category_id",
        "slug",
        "image_url",
        "original_image_url",
        "cached",
        "last_error",
    }
    assert name.encode("utf-8") in raw  # UTF-8, not \u escapes


@pytest.mark.parametrize(
    "encoded", ["bad%00name", "bad%0Aname", "%7F", "a" * 201, "%C3%A9" * 201, "%ff%fe"]
)
def test_bad_category_name_is_400(sock: str, encoded: str) -> None:
    status, _body = get_json(sock, "GET", f"/api/images/category/{encoded}")
    assert status == 400


def test_category_download_passes_decoded_name_and_force(api: FakeApi, sock: str) -> None:
    url = "/api/images/category/Pok%C3%A9mon%20Scarlet%2FViolet/download?force=1"
    assert get_json(sock, "POST", url)[0] == 200
    assert api.calls == [("download_category", "Pokémon Scarlet/Violet", True)]


def test_unknown_category_is_404(sock: str) -> None:
    assert get_json(sock, "GET", "/api/images/category/Nope")[0] == 404


def test_sync_queues_a_job(api: FakeApi, sock: str) -> None:
    assert get_json(sock, "POST", "/api/images/sync") == (202, {"job_id": "job-1", "queued": True})
    assert api.calls == [("start_sync",)]


def test_sync_wait_answers_the_result_after_the_job_is_done(api: FakeApi, sock: str) -> None:
    api.running_polls = 2
    status, body = get_json(sock, "POST", "/api/images/sync?wait=1")
    assert status == 200
    assert body == {
        "job_id": "job-1",
        "downloaded": 2,
        "failed": 1,
        "nfo_written": 5,
        "seconds": 0.5,
    }
    assert api.calls.count(("wait_job", "job-1")) == 3


def test_job_progress_and_unknown_job(sock: str) -> None:
    assert get_json(sock, "GET", "/api/jobs/job-1") == (
        200,
        {"job_id": "job-1", "state": "running", "done": 1, "total": 3},
    )
    assert get_json(sock, "GET", "/api/jobs/job-2")[0] == 404
    assert get_json(sock, "GET", "/api/jobs/..%2fx")[0] == 400


@pytest.mark.parametrize(("query", "dry_run"), [("", False), ("?dry_run=1", True)])
def test_cleanup(api: FakeApi, sock: str, query: str, dry_run: bool) -> None:
    status, body = get_json(sock, "POST", f"/api/images/cleanup{query}")
    assert status == 200
    assert body["total_cleaned"] == 3
    assert api.calls == [("cleanup", dry_run)]


def test_healthz_and_metrics(sock: str) -> None:
    assert get_json(sock, "GET", "/healthz") == (200, {"status": "ok", "version": "9.9.9"})
    status, headers, body = request(sock, "GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert body == b"# TYPE svimaged_downloads_total counter\nsvimaged_downloads_total 7\n"


@pytest.mark.parametrize("url", ["/", "/api", "/api/images/nothing", "/healthz/", "/data/x"])
def test_unknown_path_is_404_json(sock: str, url: str) -> None:
    status, body = get_json(sock, "GET", url)
    assert status == 404
    assert body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("GET", "/api/images/sync", "POST"),
        ("POST", "/api/images/stats", "GET, HEAD"),
        ("DELETE", "/healthz", "GET, HEAD"),
        ("PUT", PROFILE, "GET, HEAD"),
        ("GET", "/api/images/cleanup", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(sock: str, method: str, url: str, allow: str) -> None:
    status, headers, body = request(sock, method, url)
    assert status == 405
    assert headers["Allow"] == allow
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


def test_keep_alive_serves_several_requests_on_one_connection(sock: str) -> None:
    conn = UnixHTTPConnection(sock)
    for _ in range(3):
        assert request(conn, "GET", "/api/images/stats")[0] == 200
        assert request(conn, "GET", PROFILE)[2] == JPEG
    conn.close()


def test_unexpected_error_is_logged_500(
    api: FakeApi, sock: str, caplog: pytest.LogCaptureFixture
) -> None:
    api.boom = True
    with caplog.at_level(logging.ERROR, logger="svimaged.control"):
        status, body = get_json(sock, "GET", "/api/images/stats")
    assert status == 500
    assert body == {"error": {"code": "internal", "message": "internal error"}}
    assert any(r.exc_info and "a bug in the api" in str(r.exc_info[1]) for r in caplog.records)
    api.boom = False
    assert get_json(sock, "GET", "/api/images/stats")[0] == 200


@pytest.mark.parametrize(
    "url", ["/api/images/stats", PROFILE, "/metrics", "/api/images/streamer/12345"]
)
def test_everything_but_healthz_is_503_while_shutting_down(
    api: FakeApi, sock: str, url: str
) -> None:
    api.stopping = True
    status, body = get_json(sock, "GET", url)
    assert status == 503
    assert body["error"]["code"] == "shutting_down"


def test_healthz_says_stopping_while_shutting_down(api: FakeApi, sock: str) -> None:
    api.stopping = True
    assert get_json(sock, "GET", "/healthz") == (503, {"status": "stopping", "version": "9.9.9"})
    assert get_json(sock, "POST", "/api/images/sync")[0] == 503
    assert api.calls == []


# -- the Unix socket file -------------------------------------------------------------------


def test_socket_mode_and_new_parent_folder(api: FakeApi) -> None:
    with running(api) as (_server, path):
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert stat.S_IMODE(os.stat(Path(path).parent).st_mode) == 0o750
        assert os.listdir(Path(path).parent) == ["c.sock"]  # no temporary leftovers
    assert not Path(path).exists()  # removed by stop()


def test_socket_custom_mode_and_group(api: FakeApi) -> None:
    with running(api, mode=0o600, group=str(os.getgid())) as (_server, path):
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_gid == os.getgid()


def test_unknown_group_is_a_config_error(api: FakeApi) -> None:
    with short_dir() as folder:
        server = ControlServer(api, socket_path=folder / "c.sock", group="no-such-group-xyz")
        with pytest.raises(ConfigError, match=r"control\.group"):
            server.start()
        assert not (folder / "c.sock").exists()


def test_stale_socket_is_replaced(api: FakeApi) -> None:
    with short_dir() as folder:
        path = folder / "c.sock"
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(str(path))
        dead.close()  # the file stays, nobody listens: stale
        old_inode = os.stat(path).st_ino
        with ControlServer(api, socket_path=path):
            assert os.stat(path).st_ino != old_inode
            assert get_json(str(path), "GET", "/healthz")[0] == 200


def test_live_socket_refuses_a_second_server(api: FakeApi) -> None:
    with running(api) as (_server, path):
        second = ControlServer(api, socket_path=Path(path))
        with pytest.raises(AlreadyRunningError) as err:
            second.start()
        assert str(err.value) == f"another svimaged is running on {path}"
        assert err.value.exit_code == 1
        assert get_json(path, "GET", "/healthz")[0] == 200  # the first one is unharmed


@pytest.mark.parametrize("kind", ["file", "dir", "symlink"])
def test_non_socket_at_the_path_is_left_alone(api: FakeApi, kind: str) -> None:
    with short_dir() as folder:
        path = folder / "c.sock"
        if kind == "file":
            path.write_text("precious")
        elif kind == "dir":
            path.mkdir()
        else:
            path.symlink_to(folder / "elsewhere")
        with pytest.raises(ConfigError, match=re.escape(str(path))):
            ControlServer(api, socket_path=path).start()
        assert path.is_symlink() if kind == "symlink" else path.exists()
        if kind == "file":
            assert path.read_text() == "precious"


def test_stop_leaves_a_socket_that_is_no_longer_ours(api: FakeApi) -> None:
    with running(api) as (server, path):
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(path)
        server.stop()
        assert Path(path).exists()
        other.close()


def test_stop_is_quick_with_an_idle_client_and_start_again_works(api: FakeApi) -> None:
    with short_dir() as folder:
        path = folder / "c.sock"
        server = ControlServer(api, socket_path=path, request_timeout=30)
        server.start()
        idle = UnixHTTPConnection(str(path))
        assert request(idle, "GET", "/healthz")[0] == 200  # accepted, now idle (keep-alive)
        assert idle.sock is not None
        started = time.monotonic()
        server.stop(timeout=5)
        assert idle.sock.recv(10) == b""  # hung up by stop(), not after 30 s
        assert time.monotonic() - started < 20  # hung up at once, not after its 30 s deadline
        idle.close()
        assert not path.exists()
        server2 = ControlServer(api, socket_path=path)
        server2.start()
        assert get_json(str(path), "GET", "/healthz")[0] == 200
        server2.stop()


# -- TCP ------------------------------------------------------------------------------------


@contextlib.contextmanager
def tcp(api: FakeApi, token: str | None) -> Iterator[http.client.HTTPConnection]:
    with running(api, listen="127.0.0.1:0", token=token) as (server, _path):
        address = server.tcp_address
        assert address is not None
        conn = http.client.HTTPConnection(address[0], address[1], timeout=5)
        yield conn
        conn.close()


@pytest.mark.parametrize(
    ("token", "auth", "status"),
    [
        ("s3cret", None, 403),
        ("s3cret", "Bearer wrong", 403),
        ("s3cret", "Basic s3cret", 403),
        ("s3cret", "Bearer s3cret", 200),
        (None, "Bearer s3cret", 403),
        (None, None, 403),
    ],
)
def test_tcp_post_needs_the_token(
    api: FakeApi, token: str | None, auth: str | None, status: int
) -> None:
    headers = {"Authorization": auth} if auth else {}
    with tcp(api, token) as conn:
        got, _, body = request(conn, "POST", "/api/images/cleanup", headers=headers)
    assert got == status
    assert api.calls == ([("cleanup", False)] if status == 200 else [])
    if status == 403:
        assert json.loads(body)["error"]["code"] == "forbidden"


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_tcp_get_routes_stay_open(api: FakeApi, token: str | None) -> None:
    with tcp(api, token) as conn:
        status, _headers, body = request(conn, "GET", PROFILE)
        assert (status, body) == (200, JPEG)
        assert request(conn, "GET", "/api/images/stats")[0] == 200


def test_unix_socket_post_needs_no_token(api: FakeApi) -> None:
    with running(api, listen="127.0.0.1:0", token="s3cret") as (_server, path):
        assert get_json(path, "POST", "/api/images/cleanup")[0] == 200


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "/api/images/stats", {"Host": "evil.example:{port}"}),
        ("GET", PROFILE, {"Host": "evil.example"}),
        ("GET", "/healthz", {"Host": "127.0.0.1:1"}),
        ("POST", "/api/images/cleanup", {"Host": "evil.example:{port}"}),
    ],
)
def test_tcp_refuses_a_host_that_is_not_the_listener(
    api: FakeApi, method: str, url: str, headers: dict[str, str]
) -> None:
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 reaches the
    listener, but its requests name evil.example; even with the right token nothing runs."""
    with tcp(api, "s3cret") as conn:
        port = conn.port
        sent = {k: v.format(port=port) for k, v in headers.items()}
        sent["Authorization"] = "Bearer s3cret"
        conn.putrequest(method, url, skip_host=True)
        for name, value in sent.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = json.loads(resp.read())
    assert resp.status == 400
    assert body["error"]["code"] == "bad_host"
    assert api.calls == []


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
def test_tcp_answers_the_loopback_names_of_a_loopback_listener(api: FakeApi, host: str) -> None:
    with tcp(api, "s3cret") as conn:
        conn.putrequest("POST", "/api/images/cleanup", skip_host=True)
        conn.putheader("Host", host.format(port=conn.port))
        conn.putheader("Authorization", "Bearer s3cret")
        conn.endheaders()
        assert conn.getresponse().status == 200
    assert api.calls == [("cleanup", False)]


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\n",  # no Host at all
        b"GET /healthz HTTP/1.0\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n",
    ],
)
def test_tcp_refuses_a_missing_or_doubled_host(api: FakeApi, head: bytes) -> None:
    with running(api, listen="127.0.0.1:0") as (server, _path):
        address = server.tcp_address
        assert address is not None
        data = head.replace(b"{port}", str(address[1]).encode()) + b"Connection: close\r\n\r\n"
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(data)
            raw = b"".join(iter(lambda: sock.recv(65536), b""))
    assert raw.split(b" ", 2)[1] == b"400"
    assert b'"bad_host"' in raw


def test_unix_socket_does_not_check_the_host(api: FakeApi) -> None:
    with running(api, listen="127.0.0.1:0") as (_server, path):
        status, _h, _b = request(path, "GET", "/healthz", headers={"Host": "evil.example"})
    assert status == 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000, socket.AF_INET)),
        ("localhost:0", ("localhost", 0, socket.AF_INET)),
        ("[::1]:8080", ("::1", 8080, socket.AF_INET6)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int, socket.AddressFamily]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["8000", "host:", ":80", "::1:80", "[::1]", "h:99999", "a b:1"])
def test_parse_listen_refuses_bad_values(value: str) -> None:
    with pytest.raises(ConfigError, match=r"http\.listen"):
        parse_listen(value)
