"""Traversal in every spelling answers 400 or 404 and never reads outside `.images`.

Next to `.images` lies `secret.jpg`, and `.images` holds symlinks pointing at it and at
/etc/passwd. Each URL is sent byte-for-byte as written (no client-side normalisation); the
answer must have the expected status, carry the JSON error body, and contain no byte of the
secret. The file system is watched too: no file outside `.images` is ever opened.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_server import JPEG, FakeApi, make_images, raw_exchange, running

SECRET = b"TOP-SECRET-BYTES"

# (raw request target, expected status)
CASES: list[tuple[str, int]] = [
    ("/data/images/profiles/..", 400),
    ("/data/images/profiles/%2e%2e", 400),
    ("/data/images/profiles/%2E%2e%2Fsecret.jpg", 400),
    ("/data/images/profiles/..%2fsecret.jpg", 400),
    ("/data/images/profiles/..%2f..%2fsecret.jpg", 400),
    ("/data/images/profiles/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400),
    ("/data/images/profiles/%2fetc%2fpasswd", 400),
    ("/data/images/profiles/%2Fetc%2Fpasswd", 400),
    ("/data/images/profiles/profile_avatar_12345.jpg%00.png", 400),
    ("/data/images/profiles/%00", 400),
    ("/data/images/profiles/..\\..\\secret.jpg", 400),
    ("/data/images/profiles/%5c..%5csecret.jpg", 400),
    ("/data/images/profiles/.profile_avatar_12345.jpg", 400),
    ("/data/images/profiles/.", 400),
    ("/data/images/categories/" + "a" * 300 + ".jpg", 400),
    ("/data/images/categories/%ff%fe.jpg", 400),
    ("/data/images/categories/just_chatting.jpg..", 400),
    ("/data/images/artwork/%2e%2e/stream_42.jpg", 400),
    ("/data/images/artwork/..%2f..%2f/stream_42.jpg", 400),
    ("/data/images/artwork/12345/..%2f..%2fsecret.jpg", 400),
    ("/data/images/artwork/.../stream_42.jpg", 400),
    # decoded once only: what is left is not a name the daemon writes
    ("/data/images/profiles/%252e%252e%252fsecret.jpg", 404),
    ("/data/images/profiles/%252e%252e", 404),
    # unicode look-alike dots, percent-encoded and raw UTF-8
    ("/data/images/profiles/%EF%BC%8E%EF%BC%8E", 404),
    ("/data/images/profiles/\uff0e\uff0e", 404),
    ("/data/images/profiles/\u2024\u2024%2Fsecret.jpg", 400),
    # path shapes that fit no route
    ("/data/images/profiles/../../secret.jpg", 404),
    ("/data/images/../../secret.jpg", 404),
    ("/data/images/profiles//etc/passwd", 404),
    ("//etc/passwd", 404),
    ("/data/images/profiles/", 400),
    ("http://localhost/data/images/profiles/../../secret.jpg", 404),
    ("/data/images/categories/" + "a" * 200 + ".jpg", 404),
    ("/data/images/profiles/secret.jpg", 404),
    ("/data/images/profiles/passwd", 404),
    # symlinks and odd files inside .images (see `images` below)
    ("/data/images/profiles/profile_avatar_666.jpg", 404),
    ("/data/images/profiles/profile_avatar_777.jpg", 404),
    ("/data/images/artwork/999/stream_1.jpg", 404),
    ("/data/images/artwork/12345/stream_666.jpg", 404),
    ("/data/images/categories/fifo.jpg", 404),
    ("/data/images/categories/folder.jpg", 404),
    # names of the API routes
    ("/api/images/streamer/..%2f..%2fsecret", 400),
    ("/api/images/streamer/%2e%2e", 400),
    ("/api/jobs/%00", 400),
    ("/api/images/category/bad%00name", 400),
]


def send(path: str, target: str, method: str = "GET") -> tuple[int, bytes]:
    raw = raw_exchange(
        path,
        f"{method} ".encode() + target.encode("utf-8") + b" HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n",
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "rec" / ".images"
    make_images(root)
    (tmp_path / "rec" / "secret.jpg").write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stream_1.jpg").write_bytes(SECRET)
    (root / "profiles" / "profile_avatar_666.jpg").symlink_to(tmp_path / "rec" / "secret.jpg")
    (root / "profiles" / "profile_avatar_777.jpg").symlink_to("/etc/passwd")
    (root / "artwork" / "999").symlink_to(outside)
    (root / "artwork" / "12345" / "stream_666.jpg").symlink_to("../../../secret.jpg")
    os.mkfifo(root / "categories" / "fifo.jpg")
    (root / "categories" / "folder.jpg").mkdir()
    return root


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name passed to os.open while the fixture is active."""
    names: list[str] = []
    real_open = os.open

    def recording_open(path: Any, *args: Any, **kwargs: Any) -> int:
        names.append(os.fsdecode(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    return names


@pytest.fixture
def sock(images: Path) -> Iterator[str]:
    with running(FakeApi(images)) as (_server, path):
        yield path


def test_the_table_has_enough_spellings() -> None:
    assert len(CASES) >= 15


def test_a_good_name_is_served(sock: str) -> None:
    """The control case: the same set-up serves a legitimate image."""
    assert send(sock, "/data/images/profiles/profile_avatar_12345.jpg") == (200, JPEG)


@pytest.mark.parametrize(("target", "expected"), CASES)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_traversal_is_refused(
    sock: str, opened: list[str], target: str, expected: int, method: str
) -> None:
    status, body = send(sock, target, method)
    assert status == expected
    assert SECRET not in body
    assert b"root:" not in body
    if method == "GET":
        error = json.loads(body)["error"]
        assert error["code"] == ("bad_name" if expected == 400 else "not_found")
    touched = [name for name in opened if "secret" in name or "passwd" in name]
    assert touched == []
    # nothing ever opened by a path that leaves the images root
    assert all(".." not in name and not name.startswith("/etc") for name in opened)


def test_symlinked_images_root_itself_is_followed(tmp_path: Path) -> None:
    """`.images` may live on another disk behind a symlink: the root is trusted, only what
    is below it must not link out."""
    real = tmp_path / "disk" / ".images"
    make_images(real)
    link = tmp_path / "rec" / ".images"
    link.parent.mkdir()
    link.symlink_to(real)
    with running(FakeApi(link)) as (_server, path):
        assert send(path, "/data/images/profiles/profile_avatar_12345.jpg") == (200, JPEG)


def test_symlinked_kind_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "rec" / ".images"
    root.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "profile_avatar_1.jpg").write_bytes(SECRET)
    (root / "profiles").symlink_to(outside)
    with running(FakeApi(root)) as (_server, path):
        status, body = send(path, "/data/images/profiles/profile_avatar_1.jpg")
    assert status == 404
    assert SECRET not in body
