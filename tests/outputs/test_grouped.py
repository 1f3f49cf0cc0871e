"""`outputs.grouped`: many folders written on one thread, their NFOs made durable in batches
that share their syncs. What must hold: nothing is renamed before a sync that started after
it was staged has finished; folders come back once each, in order, only after the sync of
their renames; a failure or an error in the pass leaves old files and no temporaries."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from svimaged.core.clock import FakeClock
from svimaged.core.groupsync import GroupSync
from svimaged.images.store import ImageStore
from svimaged.nfo.files import NfoOutcome
from svimaged.outputs.apply import Done, OutputWriter, Planned
from svimaged.outputs.base import NfoFile
from svimaged.outputs.grouped import GroupedWrites
from svimaged.state import State

TMP = ".svimaged-tmp-"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    rec = tmp_path / "rec"
    rec.mkdir()
    return rec


@pytest.fixture
def writer(root: Path, state: State) -> OutputWriter:
    return OutputWriter(state, ImageStore(root / ".images"), FakeClock(), root, "copy")


@pytest.fixture
def syncs() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


def folder(root: Path, name: str, count: int) -> list[Planned]:
    """`count` NFOs to write in a new folder `name`: each says its own name."""
    (root / name).mkdir()
    return [
        Planned(NfoFile(str(root / name), f"{n}.nfo", lambda _old, n=n: f"<e>{n}</e>\n".encode()))
        for n in range(count)
    ]


def names(root: Path) -> tuple[list[str], list[str]]:
    """(NFOs in place, temporaries) below `root`."""
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return [f for f in files if TMP not in f], [f for f in files if TMP in f]


class Recorder:
    """A `syncfs` that notes what is in place and what is staged when each sync starts."""

    def __init__(self, root: Path, fail: OSError | None = None) -> None:
        self.root = root
        self.fail = fail
        self.seen: list[tuple[list[str], list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        with self.lock:
            self.seen.append(names(self.root))
        if self.fail is not None:
            raise self.fail


def test_batches_rename_only_after_a_shared_sync_and_come_back_in_order(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    recorder = Recorder(root)
    group = GroupSync(-1, recorder)
    grouped: GroupedWrites[str] = GroupedWrites(writer, group, syncs, batch_files=4)
    back: list[tuple[str, list[Done]]] = []
    try:
        for name in ("a", "b", "c", "d", "e"):
            back.extend(grouped.add(name, folder(root, name, 2)))
        back.extend(grouped.finish())
    finally:
        grouped.close()
    assert [key for key, _done in back] == ["a", "b", "c", "d", "e"]
    for _key, done in back:
        assert [d.outcome for d in done] == [NfoOutcome.WRITTEN] * 2
        assert all(d.staged is None and d.created for d in done)
    assert names(root) == ([f"{n}/{i}.nfo" for n in "abcde" for i in (0, 1)], [])
    # Three batches (a+b, c+d, e): a data sync and a sync of the renames each, at most.
    assert 3 <= group.syncs <= 6
    for index, (finals, _temporaries) in enumerate(recorder.seen):
        for final in finals:  # in place at a sync: staged when an earlier one started
            assert any(_staged(t, final) for _f, t in recorder.seen[:index]), final


def _staged(temporaries: list[str], final: str) -> bool:
    folder, name = final.split("/")
    return any(t.startswith(f"{folder}/.{name}{TMP}") for t in temporaries)


def test_a_folder_is_handed_back_only_after_the_sync_of_its_renames(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    """The caller records a folder as written when it comes back: by then its renames
    must be durable too, so the last sync saw every file in place."""
    recorder = Recorder(root)
    grouped: GroupedWrites[str] = GroupedWrites(writer, GroupSync(-1, recorder), syncs)
    try:
        assert grouped.add("a", folder(root, "a", 3)) == []  # below a batch: waits
        finals, temporaries = names(root)
        assert finals == [] and len(temporaries) == 3
        back = grouped.finish()
    finally:
        grouped.close()
    assert [key for key, _ in back] == ["a"]
    assert recorder.seen[0][0] == [] and len(recorder.seen[0][1]) == 3  # data first
    assert recorder.seen[-1] == (["a/0.nfo", "a/1.nfo", "a/2.nfo"], [])  # then the renames


def test_a_failed_shared_sync_leaves_old_files_and_no_temporaries(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    planned = folder(root, "a", 2)
    (root / "a" / "0.nfo").write_bytes(b"<e>old</e>\n")
    broken = Recorder(root, OSError(errno.EIO, "Input/output error"))
    grouped: GroupedWrites[str] = GroupedWrites(writer, GroupSync(-1, broken), syncs)
    try:
        grouped.add("a", planned)
        ((_key, done),) = grouped.finish()
    finally:
        grouped.close()
    assert all(isinstance(d.error, OSError) and d.outcome is None for d in done)
    assert names(root) == (["a/0.nfo"], [])
    assert (root / "a" / "0.nfo").read_bytes() == b"<e>old</e>\n"


def test_where_syncfs_is_refused_each_staged_file_is_fsynced_on_its_own(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    fsynced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(fd), real(fd))[1])
    refused = Recorder(root, OSError(errno.EPERM, "Operation not permitted"))
    group = GroupSync(-1, refused)
    grouped: GroupedWrites[str] = GroupedWrites(writer, group, syncs)
    try:
        grouped.add("a", folder(root, "a", 2))
        ((_key, done),) = grouped.finish()
    finally:
        grouped.close()
    assert group.unsupported
    assert [d.outcome for d in done] == [NfoOutcome.WRITTEN] * 2
    assert names(root) == (["a/0.nfo", "a/1.nfo"], [])
    assert len(fsynced) == 2 + 1  # each file, then its folder


def test_an_error_in_the_pass_removes_what_is_staged(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    """The pass fails (or is stopped) between `add` and `finish`: `close` removes the
    staged files, none of which were renamed, and the old ones stay."""
    (root / "a").mkdir()
    (root / "a" / "0.nfo").write_bytes(b"<e>old</e>\n")
    planned = [Planned(NfoFile(str(root / "a"), "0.nfo", lambda _old: b"<e>new</e>\n"))]
    grouped: GroupedWrites[str] = GroupedWrites(writer, GroupSync(-1, lambda fd: None), syncs)
    with pytest.raises(KeyboardInterrupt):
        try:
            grouped.add("a", planned)
            assert len(names(root)[1]) == 1
            raise KeyboardInterrupt
        finally:
            grouped.close()
    assert names(root) == (["a/0.nfo"], [])
    assert (root / "a" / "0.nfo").read_bytes() == b"<e>old</e>\n"


def test_up_to_date_folders_need_no_sync(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    planned = folder(root, "a", 2)
    for n in range(2):
        (root / "a" / f"{n}.nfo").write_bytes(f"<e>{n}</e>\n".encode())
    group = GroupSync(-1, lambda fd: None)
    grouped: GroupedWrites[str] = GroupedWrites(writer, group, syncs)
    try:
        grouped.add("a", planned)
        ((_key, done),) = grouped.finish()
    finally:
        grouped.close()
    assert [d.outcome for d in done] == [NfoOutcome.UP_TO_DATE] * 2
    assert group.syncs == 0


def test_many_batches_in_flight_make_add_wait_for_the_oldest(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    """A sync slower than the staging: `add` hands back folders as their batches finish
    instead of piling up batches (each holds its folders open)."""
    gate = threading.Event()
    group = GroupSync(-1, lambda fd: gate.wait(5) and None)
    grouped: GroupedWrites[int] = GroupedWrites(writer, group, syncs, batch_files=1)
    back: list[int] = []
    try:
        for n in range(3):
            back.extend(key for key, _ in grouped.add(n, folder(root, f"f{n}", 1)))
        assert back == []  # all waiting for the first sync
        gate.set()
        for n in range(3, 8):
            back.extend(key for key, _ in grouped.add(n, folder(root, f"f{n}", 1)))
        assert back[:1] == [0]  # the oldest came back while later ones were added
        back.extend(key for key, _ in grouped.finish())
    finally:
        grouped.close()
    assert back == list(range(8))
    assert names(root)[1] == []


def test_an_nfo_that_appeared_while_staged_is_merged_not_replaced(
    root: Path, writer: OutputWriter, syncs: ThreadPoolExecutor
) -> None:
    """The scan saw no NFO (`absent`), so the new one was staged without a look; the
    recorder writes its own before the batch is committed: that file is kept and merged."""
    (root / "a").mkdir()
    target = root / "a" / "0.nfo"

    def merge(existing: bytes | None) -> bytes:
        return b"<e>ours</e>\n" if existing is None else existing + b"<!-- merged -->\n"

    planned = [Planned(NfoFile(str(target.parent), target.name, merge, absent=True))]
    grouped: GroupedWrites[str] = GroupedWrites(writer, GroupSync(-1, lambda fd: None), syncs)
    try:
        grouped.add("a", planned)
        target.write_bytes(b"<e>the recorder's</e>\n")  # between the scan and the commit
        ((_key, done),) = grouped.finish()
    finally:
        grouped.close()
    assert [(d.outcome, d.created, d.error) for d in done] == [(NfoOutcome.WRITTEN, False, None)]
    assert target.read_bytes() == b"<e>the recorder's</e>\n<!-- merged -->\n"
    assert names(root) == (["a/0.nfo"], [])
