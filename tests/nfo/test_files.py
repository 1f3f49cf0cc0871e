"""Tests for svimaged.nfo.files: read safely, write atomically only when the bytes differ,
leave locked, linked, odd and unparsable files alone, keep permissions, survive a full disk."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest

from svimaged.core.atomic import folder_at
from svimaged.core.errors import MetadataError, NfoParseError
from svimaged.nfo.files import NfoOutcome, read_existing, update_nfo, update_nfo_at
from svimaged.nfo.merge import merge_tvshow
from svimaged.nfo.model import ShowInfo
from svimaged.nfo.xml import MAX_NFO_BYTES

OLD = b'<?xml version="1.0" encoding="UTF-8"?>\n<tvshow><title>Old</title></tvshow>\n'
NEW = b'<?xml version="1.0" encoding="UTF-8"?>\n<tvshow><title>New</title></tvshow>\n'


class Recorder:
    """A merge function that remembers what it was given and returns `result(existing)`."""

    def __init__(self, result: bytes | None = None, *, same: bool = False) -> None:
        self.seen: list[bytes | None] = []
        self.result = result
        self.same = same

    def __call__(self, existing: bytes | None) -> bytes:
        self.seen.append(existing)
        if self.same:
            assert existing is not None
            return existing
        if self.result is None:
            assert existing is not None
            return bytes(bytearray(existing))  # equal, but a different object
        return self.result


def snapshot(path: Path) -> tuple[int, int, bytes]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, path.read_bytes()


def temp_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.svimaged-tmp-*"))


def test_new_file_is_written_0644(tmp_path: Path) -> None:
    path = tmp_path / "tvshow.nfo"
    old_umask = os.umask(0o077)
    try:
        merge = Recorder(NEW)
        outcome, digest = update_nfo(path, merge, root=tmp_path)
    finally:
        os.umask(old_umask)
    assert outcome is NfoOutcome.WRITTEN
    assert merge.seen == [None]
    assert path.read_bytes() == NEW
    assert digest == hashlib.sha256(NEW).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert temp_leftovers(tmp_path) == []


def test_existing_file_is_replaced_when_bytes_differ(tmp_path: Path) -> None:
    path = tmp_path / "tvshow.nfo"
    path.write_bytes(OLD)
    merge = Recorder(NEW)
    assert update_nfo(path, merge, root=tmp_path)[0] is NfoOutcome.WRITTEN
    assert merge.seen == [OLD]
    assert path.read_bytes() == NEW


def test_identical_merge_does_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tvshow.nfo"
    path.write_bytes(OLD)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(path)
    outcome, digest = update_nfo(path, Recorder(), root=tmp_path)
    assert outcome is NfoOutcome.UP_TO_DATE
    assert digest == hashlib.sha256(OLD).hexdigest()
    assert snapshot(path) == before


def test_locked_merge_result_means_no_write(tmp_path: Path) -> None:
    path = tmp_path / "tvshow.nfo"
    path.write_bytes(OLD)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(path)
    outcome, digest = update_nfo(path, Recorder(same=True), root=tmp_path)
    assert outcome is NfoOutcome.LOCKED
    assert digest == hashlib.sha256(OLD).hexdigest()
    assert snapshot(path) == before


def test_real_merge_round_trip_then_lockdata(tmp_path: Path) -> None:
    path = tmp_path / "tvshow.nfo"
    info = ShowInfo("Alice", "Cozy & chat", "10000001", "/data/p.jpg", None)
    assert (
        update_nfo(path, lambda ex: merge_tvshow(ex, info), root=tmp_path)[0] is NfoOutcome.WRITTEN
    )
    before = snapshot(path)
    assert (
        update_nfo(path, lambda ex: merge_tvshow(ex, info), root=tmp_path)[0]
        is NfoOutcome.UP_TO_DATE
    )
    assert snapshot(path) == before
    locked = b"<tvshow><title>Mine</title><lockdata>true</lockdata></tvshow>"
    path.write_bytes(locked)
    assert (
        update_nfo(path, lambda ex: merge_tvshow(ex, info), root=tmp_path)[0] is NfoOutcome.LOCKED
    )
    assert path.read_bytes() == locked


def test_unparsable_nfo_is_left_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "tvshow.nfo"
    broken = b"\xef\xbb\xbf<tvshow><title>oops</tvshow"
    path.write_bytes(broken)
    info = ShowInfo("Alice", None, "1", "/p.jpg", None)
    with pytest.raises(NfoParseError):
        update_nfo(path, lambda ex: merge_tvshow(ex, info), root=tmp_path)
    assert path.read_bytes() == broken
    assert temp_leftovers(tmp_path) == []


def test_symlinked_nfo_is_refused_and_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(OLD)
    link = tmp_path / "tvshow.nfo"
    link.symlink_to(target)
    merge = Recorder(NEW)
    with pytest.raises(MetadataError) as err:
        update_nfo(link, merge, root=tmp_path)
    assert str(link) in str(err.value)
    assert merge.seen == []
    assert link.is_symlink()
    assert target.read_bytes() == OLD


def test_dangling_symlink_is_refused_and_not_followed(tmp_path: Path) -> None:
    link = tmp_path / "tvshow.nfo"
    link.symlink_to(tmp_path / "created-through-link")
    with pytest.raises(MetadataError):
        update_nfo(link, Recorder(NEW), root=tmp_path)
    assert not (tmp_path / "created-through-link").exists()
    assert link.is_symlink()


def test_directory_named_nfo_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "x.nfo"
    folder.mkdir()
    with pytest.raises(MetadataError):
        update_nfo(folder, Recorder(NEW), root=tmp_path)
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_fifo_named_nfo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.nfo"
    os.mkfifo(fifo)
    with pytest.raises(MetadataError):
        update_nfo(fifo, Recorder(NEW), root=tmp_path)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_oversized_nfo_is_a_parse_error_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "x.nfo"
    with path.open("wb") as handle:
        handle.truncate(MAX_NFO_BYTES + 1)
    merge = Recorder(NEW)
    with pytest.raises(NfoParseError):
        update_nfo(path, merge, root=tmp_path)
    assert merge.seen == []
    assert path.stat().st_size == MAX_NFO_BYTES + 1


def test_nfo_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.nfo"
    path.write_bytes(b"a" * MAX_NFO_BYTES)
    with folder_at(tmp_path, tmp_path) as dir_fd:
        data, mode = read_existing(dir_fd, path.name, path)
    assert data is not None and len(data) == MAX_NFO_BYTES
    assert mode == stat.S_IMODE(path.stat().st_mode)


def test_read_existing_missing_file(tmp_path: Path) -> None:
    with folder_at(tmp_path, tmp_path) as dir_fd:
        assert read_existing(dir_fd, "absent.nfo", tmp_path / "absent.nfo") == (None, None)


def test_existing_mode_0600_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "x.nfo"
    path.write_bytes(OLD)
    path.chmod(0o600)
    assert update_nfo(path, Recorder(NEW), mode=0o644, root=tmp_path)[0] is NfoOutcome.WRITTEN
    assert path.read_bytes() == NEW
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_failure_propagates_and_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.nfo"
    path.write_bytes(OLD)

    def full_disk(src: object, dst: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError) as err:
        update_nfo(path, Recorder(NEW), root=tmp_path)
    monkeypatch.undo()
    assert err.value.errno == errno.ENOSPC
    assert path.read_bytes() == OLD
    assert temp_leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nfo"]


def test_write_failure_of_a_new_file_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        update_nfo(tmp_path / "new.nfo", Recorder(NEW), root=tmp_path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_read_only_file_system_raises_oserror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.nfo"
    path.write_bytes(OLD)
    real_open = os.open

    def read_only_fs(file: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only_fs)
    with pytest.raises(OSError) as err:
        update_nfo(path, Recorder(NEW), root=tmp_path)
    monkeypatch.undo()
    assert err.value.errno == errno.EROFS
    assert path.read_bytes() == OLD
    assert temp_leftovers(tmp_path) == []


def test_livestreamdvr_tvshow_nfo_is_left_alone_with_what_to_do(tmp_path: Path) -> None:
    from svimaged.nfo.merge import merge_tvshow
    from svimaged.nfo.model import ShowInfo
    from svimaged.nfo.quirks import LIVESTREAMDVR_HINT

    path = tmp_path / "tvshow.nfo"
    data = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<tvshow>\n'
        b'<title>Liam_DVR</title>\n<uniqueid type="twitch>10000007</uniqueid>\n</tvshow>'
    )
    path.write_bytes(data)
    info = ShowInfo("Liam_DVR", None, "10000007", None, None)
    with pytest.raises(NfoParseError) as exc:
        update_nfo(path, lambda existing: merge_tvshow(existing, info), root=tmp_path)
    assert LIVESTREAMDVR_HINT in str(exc.value)
    assert path.read_bytes() == data


def test_a_file_the_listing_did_not_have_is_written_without_a_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`absent`: the caller's listing had no such file, so it is not looked for again
    (a first pass writes 20,000 new NFOs); it is new, and its signature is known."""
    import svimaged.nfo.files

    def looked(*_args: object) -> None:
        raise AssertionError("read_existing called for an absent file")

    monkeypatch.setattr(svimaged.nfo.files, "read_existing", looked)
    merge = Recorder(NEW)
    with folder_at(tmp_path, tmp_path) as fd:
        found = update_nfo_at(fd, tmp_path / "new.nfo", merge, absent=True)
    assert (found.outcome, found.created, merge.seen) == (NfoOutcome.WRITTEN, True, [None])
    assert (tmp_path / "new.nfo").read_bytes() == NEW
    info = (tmp_path / "new.nfo").stat()
    assert found.sig == f"{info.st_mtime_ns}.{info.st_size}"


def test_a_file_that_appeared_after_the_listing_is_merged_not_replaced(tmp_path: Path) -> None:
    """The listing said there was no NFO, but one is there by the time of the write (the
    recorder wrote it meanwhile): the new file does not take its name; it is read and
    merged like any existing NFO."""
    (tmp_path / "show.nfo").write_bytes(OLD)
    seen: list[bytes | None] = []

    def merge(existing: bytes | None) -> bytes:  # a fresh file, else the same bytes again
        seen.append(existing)
        return NEW if existing is None else bytes(bytearray(existing))

    with folder_at(tmp_path, tmp_path) as fd:
        found = update_nfo_at(fd, tmp_path / "show.nfo", merge, absent=True)
    assert seen == [None, OLD]  # first as absent, then the file that appeared
    assert (found.outcome, found.created) == (NfoOutcome.UP_TO_DATE, False)
    assert (tmp_path / "show.nfo").read_bytes() == OLD
    assert temp_leftovers(tmp_path) == []
