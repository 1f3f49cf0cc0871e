"""Tests for svimaged.core.atomic's reflink copy and hard link: the clone lands atomically
with its mode, and a file system that cannot clone or link leaves nothing behind (the
caller then copies); a link whose rename fails removes its temporary."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from svimaged.core import atomic


def cache_and_poster(folder: Path) -> tuple[Path, Path]:
    """A cached file and the poster it should become, with other bytes in it."""
    source, target = folder / "cache.jpg", folder / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff new")
    target.write_bytes(b"old")
    return source, target


def assert_unchanged(folder: Path, target: Path) -> None:
    """The poster as it was, and no temporary left in the folder."""
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in folder.iterdir()) == ["cache.jpg", "poster.jpg"]


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
    source, target = cache_and_poster(tmp_path)

    def refuse(*_args: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.fcntl, "ioctl", refuse)
    assert atomic.atomic_clone(source, target, root=tmp_path, source_root=tmp_path) is False
    assert_unchanged(tmp_path, target)


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


# -- atomic_link: the link, the refusal, the clean-up -----------------------------------


def test_a_link_replaces_the_target_and_syncs_the_folder_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = cache_and_poster(tmp_path)
    synced: list[int] = []
    monkeypatch.setattr(atomic, "sync_folder", synced.append)
    assert atomic.atomic_link(source, target, root=tmp_path, source_root=tmp_path) is True
    assert os.path.samefile(source, target)
    assert len(synced) == 1  # the target's folder, by descriptor
    other = tmp_path / "fanart.jpg"
    assert (
        atomic.atomic_link(source, other, root=tmp_path, source_root=tmp_path, sync_dir=False)
        is True
    )
    assert os.path.samefile(source, other)
    assert len(synced) == 1  # the caller batches it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.jpg", "fanart.jpg", "poster.jpg"]


def test_linking_onto_a_link_to_the_same_file_leaves_no_temporary(tmp_path: Path) -> None:
    source, target = tmp_path / "cache.jpg", tmp_path / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff new")
    assert atomic.atomic_link(source, target, root=tmp_path, source_root=tmp_path) is True
    assert (
        atomic.atomic_link(source, target, root=tmp_path, source_root=tmp_path) is True
    )  # again: already the same file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.jpg", "poster.jpg"]


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOSPC])
def test_a_file_system_that_cannot_link_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The fallback: `os.link` refused (across devices, a file system without links, too
    many links, a full folder). False, the target as it was, no temporary left: the caller
    copies instead."""
    source, target = cache_and_poster(tmp_path)

    def refuse(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "link", refuse)
    assert atomic.atomic_link(source, target, root=tmp_path, source_root=tmp_path) is False
    assert_unchanged(tmp_path, target)


def test_a_rename_that_fails_removes_the_temporary_link_and_raises(tmp_path: Path) -> None:
    """The clean-up: the link is made, the rename onto the target fails (here the target is
    a folder): the error is raised, the temporary link is gone, source and target are as
    they were."""
    source, target = tmp_path / "cache.jpg", tmp_path / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff new")
    target.mkdir()
    (target / "keep").write_bytes(b"mine")
    with pytest.raises(IsADirectoryError):
        atomic.atomic_link(source, target, root=tmp_path, source_root=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.jpg", "poster.jpg"]
    assert source.stat().st_nlink == 1  # no link left behind anywhere
    assert (target / "keep").read_bytes() == b"mine"


def test_an_interrupted_rename_also_removes_the_temporary_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "cache.jpg", tmp_path / "poster.jpg"
    source.write_bytes(b"\xff\xd8\xff new")

    def interrupted(src: object, dst: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_link(source, target, root=tmp_path, source_root=tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.jpg"]
    assert source.stat().st_nlink == 1


def test_write_at_continues_after_short_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = []

    def short_write(fd: int, data: bytes) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data[:3]))

    data = b"<episodedetails>" + b"x" * 40 + b"</episodedetails>\n"
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        monkeypatch.setattr(os, "write", short_write)
        atomic.write_at(fd, "a.nfo", data)
    finally:
        monkeypatch.undo()
        os.close(fd)
    assert (tmp_path / "a.nfo").read_bytes() == data
    assert len(calls) == -(-len(data) // 3)
    assert [p.name for p in tmp_path.iterdir()] == ["a.nfo"]


def test_a_staged_write_is_invisible_until_committed_and_discarding_leaves_nothing(
    tmp_path: Path,
) -> None:
    """`stage_at` + `commit_at` is `write_at` in two halves (for shared syncs): the old
    file stays whole until the commit; a discarded stage leaves no temporary."""
    (tmp_path / "x.nfo").write_bytes(b"old")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tmp, _info = atomic.stage_at(fd, "x.nfo", b"new", 0o640, sync=False)
        assert tmp.startswith(".x.nfo.svimaged-tmp-")
        assert (tmp_path / "x.nfo").read_bytes() == b"old"
        assert (tmp_path / tmp).read_bytes() == b"new"
        atomic.commit_at(fd, tmp, "x.nfo")
        assert (tmp_path / "x.nfo").read_bytes() == b"new"
        assert (tmp_path / "x.nfo").stat().st_mode & 0o777 == 0o640
        other, _info = atomic.stage_at(fd, "x.nfo", b"newer", sync=False)
        atomic.discard_at(fd, other)
        atomic.discard_at(fd, other)  # already gone: fine
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nfo"]
        with pytest.raises(FileNotFoundError):
            atomic.commit_at(fd, other, "x.nfo")
        assert (tmp_path / "x.nfo").read_bytes() == b"new"
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "how", ["renameat2", "no renameat2", "renameat2 refuses the flag", "no hard links either"]
)
def test_a_commit_of_a_new_file_never_replaces_one_that_appeared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """`commit_at(..., only_new=True)` takes the name only while it is free: a file, a
    link or a folder that took it meanwhile stays as it is, the temporary goes, and the
    caller hears `FileExistsError`. Without `renameat2` (an old C library) or where the
    file system refuses its flag (NFS), a hard link does the same; where there are no hard
    links either (SMB), a look before the rename."""
    if how in ("no renameat2", "no hard links either"):
        monkeypatch.setattr(atomic, "_renameat2", None)
    if how == "no hard links either":

        def no_links(*_args: object, **_kwargs: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    elif how == "renameat2 refuses the flag":

        def refuses(*_args: object) -> int:
            import ctypes

            ctypes.set_errno(errno.EINVAL)
            return -1

        monkeypatch.setattr(atomic, "_renameat2", refuses)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tmp, _info = atomic.stage_at(fd, "a.nfo", b"new", sync=False, new=True)
        atomic.commit_at(fd, tmp, "a.nfo", only_new=True)
        assert (tmp_path / "a.nfo").read_bytes() == b"new"
        (tmp_path / "b.nfo").write_bytes(b"the user's")
        (tmp_path / "c.nfo").symlink_to(tmp_path / "elsewhere")
        (tmp_path / "d.nfo").mkdir()
        for name in ("b.nfo", "c.nfo", "d.nfo"):
            tmp, _info = atomic.stage_at(fd, name, b"ours", sync=False, new=True)
            with pytest.raises(FileExistsError):
                atomic.commit_at(fd, tmp, name, only_new=True)
        assert (tmp_path / "b.nfo").read_bytes() == b"the user's"
        assert (tmp_path / "c.nfo").is_symlink() and (tmp_path / "d.nfo").is_dir()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nfo", "b.nfo", "c.nfo", "d.nfo"]
    finally:
        os.close(fd)
