"""Tests for svimaged.core.atomic's reflink copy: the clone lands atomically with its mode,
and a file system that cannot clone leaves nothing behind (the caller then copies)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from svimaged.core import atomic


def fake_clone(dst: int, request: int, src: int) -> int:
    """What FICLONE does, as far as a test can see: dst gets src's bytes."""
    assert request == atomic.FICLONE
    os.sendfile(dst, src, 0, os.fstat(src).st_size)
    return 0


def test_a_clone_replaces_the_target_atomically_with_its_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "cache.jpg", tmp_path / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff new")
    target.write_bytes(b"old")
    monkeypatch.setattr(atomic.fcntl, "ioctl", fake_clone)
    assert atomic.atomic_clone(source, target, 0o640, root=tmp_path, source_root=tmp_path) is True
    assert target.read_bytes() == b"\xff\xd8\xff new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.jpg", "poster.jpg"]


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY])
def test_a_file_system_that_cannot_clone_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    source, target = tmp_path / "cache.jpg", tmp_path / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff new")
    target.write_bytes(b"old")

    def refuse(*_args: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.fcntl, "ioctl", refuse)
    assert atomic.atomic_clone(source, target, root=tmp_path, source_root=tmp_path) is False
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.jpg", "poster.jpg"]


def test_a_missing_source_is_no_clone(tmp_path: Path) -> None:
    assert (
        atomic.atomic_clone(
            tmp_path / "gone.jpg", tmp_path / "poster.jpg", root=tmp_path, source_root=tmp_path
        )
        is False
    )
    assert list(tmp_path.iterdir()) == []


def test_a_real_clone_or_an_honest_refusal(tmp_path: Path) -> None:
    """On this file system either the kernel clones (Btrfs, XFS...) or refuses; never a
    half-written file."""
    source, target = tmp_path / "cache.jpg", tmp_path / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 64)
    if atomic.atomic_clone(source, target, root=tmp_path, source_root=tmp_path):
        assert target.read_bytes() == source.read_bytes()
    else:
        assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
