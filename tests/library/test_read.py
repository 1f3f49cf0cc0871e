"""`read_bounded`: one read for a small file, the bound and the file-type check for the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from svimaged.core.errors import MetadataError
from svimaged.library import read as read_module
from svimaged.library.read import FIRST_READ, read_bounded

SIZES = [0, 1, FIRST_READ - 1, FIRST_READ, FIRST_READ + 1, 3 * FIRST_READ + 7, (1 << 20) + 5]


@pytest.mark.parametrize("size", SIZES)
def test_whole_file_under_the_limit(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "x.json").write_bytes(data)
    assert read_bounded(tmp_path / "x.json", 4 << 20) == data


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("limit", [0, 10, FIRST_READ - 1, FIRST_READ, FIRST_READ * 2])
def test_at_most_one_byte_over_the_limit(tmp_path: Path, size: int, limit: int) -> None:
    data = os.urandom(size)
    (tmp_path / "x.json").write_bytes(data)
    assert read_bounded(str(tmp_path / "x.json"), limit) == data[: limit + 1]


def test_small_file_needs_no_fstat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.json").write_bytes(b"{}")
    calls: list[int] = []
    real = os.fstat

    def counting(fd: int) -> os.stat_result:
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(read_module.os, "fstat", counting)
    assert read_bounded(tmp_path / "x.json", 100) == b"{}"
    assert calls == []
    (tmp_path / "y.json").write_bytes(b"")
    assert read_bounded(tmp_path / "y.json", 100) == b""
    assert len(calls) == 1  # an empty answer is checked: an empty file, not an empty FIFO


def test_empty_fifo_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(MetadataError, match=r"not a regular file: .*fifo\.json"):
        read_bounded(tmp_path / "fifo.json", 1 << 20)


def test_full_fifo_refused_after_its_first_read(tmp_path: Path) -> None:
    """A FIFO with more than `FIRST_READ` bytes waiting is refused, not drained."""
    path = tmp_path / "fifo.json"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # so the writer's open returns
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        written = 0
        while written < FIRST_READ:
            try:
                written += os.write(writer, b"x" * 4096)
            except BlockingIOError:
                break
        assert written >= FIRST_READ
        with pytest.raises(MetadataError, match="not a regular file"):
            read_bounded(path, 8 << 20)
    finally:
        os.close(writer)
        os.close(reader)


def test_missing_and_folder_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"cannot open .*gone\.json"):
        read_bounded(tmp_path / "gone.json", 10)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(MetadataError, match=r"dir\.json"):
        read_bounded(tmp_path / "dir.json", 10)
