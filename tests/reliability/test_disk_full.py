"""A full disk under the recordings tree (and so under `.images`).

As root the tree lives on a tiny tmpfs that is filled up to a few pages, so the first writes
succeed and later ones hit a real ENOSPC part-way. Where mounting is not possible, the same
happens through an injected ENOSPC: the file object of an atomic write writes what fits in a
byte budget and then raises `OSError(ENOSPC)`.

What must hold: no file with a final name is partial and no temporary is left behind, each
failure is logged with a clear message naming the file and counted (images in
`summary.failed` and the state's `total_failed`, NFOs in `summary.errors`), no exception
escapes the pass, and once there is space again a sync (`full_pass(retry_failed_now=True)`,
what `POST /api/images/sync` runs) completes every image and every NFO.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core import atomic
from svimaged.core.clock import FakeClock
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.pipeline import Pipeline
from svimaged.pipeline.passes import GROUP_SYNC_FOLDERS
from svimaged.pipeline.resources import build_resources

from .conftest import Library, RecordProperty, build_library, check_integrity, config_data

NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"
FREE_BYTES = 3 * 4096  # room for a few images, then the disk is full


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str) -> Iterator[bool]:
    """Mount a tmpfs of `size` on `where` (yields True), or yield False when this process
    cannot mount. Always unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield False
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill_up(folder: Path, leave: int) -> Path:
    """Write a ballast file until only about `leave` bytes are free on `folder`'s fs."""
    ballast = folder / "ballast.bin"
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with ballast.open("wb") as handle, contextlib.suppress(OSError):
        handle.write(b"\0" * max(0, free - leave))
    return ballast


class _Budget:
    """Bytes that may still be written by an atomic write before ENOSPC."""

    def __init__(self, left: int) -> None:
        self.left = left


def budgeted_write_all(
    budget: _Budget, applies: Callable[[], bool] = lambda: True
) -> Callable[[int, bytes], None]:
    """`atomic._write_all` that, while `applies()`, writes what fits in the budget, then
    fails with ENOSPC (the part that fitted really is on disk)."""
    real_write_all: Callable[[int, bytes], None] = atomic._write_all

    def write_all(fd: int, data: bytes) -> None:
        if not applies():
            real_write_all(fd, data)
            return
        fits = max(0, min(len(data), budget.left))
        real_write_all(fd, data[:fits])
        budget.left -= fits
        if fits < len(data):
            raise OSError(errno.ENOSPC, NO_SPACE)

    return write_all


def inject_full_disk(monkeypatch: pytest.MonkeyPatch, budget: _Budget) -> None:
    """Every atomic write (NFOs and images alike) hits the budget."""
    monkeypatch.setattr(atomic, "_write_all", budgeted_write_all(budget))


@pytest.fixture(params=["tmpfs", "injected"])
def full_disk(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTwitch
) -> Iterator[tuple[Library, Callable[[], None]]]:
    """A library whose tree sits on a (nearly) full file system; yields the library and a
    function that gives the space back."""
    rec = tmp_path / "rec"
    with tiny_tmpfs(rec, "1m") as mounted:
        if request.param == "tmpfs":
            if not mounted:
                pytest.skip("cannot mount a tmpfs here (needs root); the injected case runs")
            lib = build_library(fake, rec, recordings=20, streamers=2, categories=2)
            ballast = fill_up(rec, FREE_BYTES)
            yield lib, ballast.unlink
        else:
            if mounted:
                subprocess.run(["umount", "-l", str(rec)], check=False)
            lib = build_library(fake, rec, recordings=20, streamers=2, categories=2)
            budget = _Budget(FREE_BYTES)
            monkeypatch = pytest.MonkeyPatch()
            inject_full_disk(monkeypatch, budget)
            try:
                yield lib, monkeypatch.undo
            finally:
                monkeypatch.undo()


def test_full_disk_fails_cleanly_and_a_sync_completes_when_space_returns(
    full_disk: tuple[Library, Callable[[], None]],
    tmp_path: Path,
    fake: FakeTwitch,
    caplog: pytest.LogCaptureFixture,
    record_property: RecordProperty,
) -> None:
    """Full disk: no partial final-named file, no temporary left, each failure logged
    naming the file and counted; with space back a sync completes everything."""
    lib, free_space = full_disk
    clock = FakeClock(start=time.time())
    engine = Pipeline(build_resources(parse_config(config_data(fake, tmp_path), {}), clock))
    try:
        with caplog.at_level(logging.INFO):
            first = engine.full_pass()
        found = check_integrity(lib.root, tmp_path / "state" / "state.db")
        assert found.problems == [] and found.temporaries == []
        image_fails = [r.getMessage() for r in caplog.records if "image failed" in r.getMessage()]
        nfo_fails = [r.getMessage() for r in caplog.records if "nfo write failed" in r.getMessage()]
        assert first.failed > 0 and len(image_fails) == first.failed
        assert engine.stats()["total_failed"] == first.failed
        assert all(NO_SPACE in m and "cannot write image " in m for m in image_fails)
        assert all("key=" in m and "retry_in=" in m for m in image_fails)
        assert nfo_fails and first.errors >= len(nfo_fails)
        assert all(NO_SPACE in m and ".nfo" in m for m in nfo_fails)
        assert len(found.images) == len(first.cached) < len(lib.expected_images())
        record_property(
            "first_pass",
            f"cached={len(first.cached)} failed={first.failed} "
            f"nfo_written={len(first.nfo_written)} nfo_failed={len(nfo_fails)}",
        )

        free_space()
        clock.advance(1)
        second = engine.full_pass(retry_failed_now=True)
        found = check_integrity(lib.root, tmp_path / "state" / "state.db")
        assert found.problems == [] and found.temporaries == []
        assert second.failed == 0 and engine.stats()["total_failed"] == 0
        assert lib.expected_images() <= found.images
        missing = sorted(str(p) for p in lib.expected_nfos() - found.nfos)
        assert missing == [], f"{len(missing)} NFOs never written after space came back"
    finally:
        engine.close()


def test_nfo_writes_that_hit_a_full_disk_are_retried_when_space_returns(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every image fits, then the disk is full for the NFOs only (a recorder filled it in
    between). The failed NFO writes are counted; the next sync writes them all."""
    lib = build_library(fake, tmp_path / "rec", recordings=6, streamers=2, categories=2)
    budget = _Budget(0)
    real_stage = atomic.stage_at
    nfo_writing = threading.local()  # folders are written on several threads at once
    write_all = budgeted_write_all(budget, lambda: bool(getattr(nfo_writing, "on", False)))

    def nfo_write(
        dir_fd: int, name: str, data: bytes, mode: int = 0o644, **how: bool
    ) -> tuple[str, os.stat_result]:
        nfo_writing.on = True
        try:
            return real_stage(dir_fd, name, data, mode, **how)
        finally:
            nfo_writing.on = False

    monkeypatch.setattr(atomic, "_write_all", write_all)
    monkeypatch.setattr("svimaged.nfo.files.stage_at", nfo_write)
    clock = FakeClock(start=time.time())
    engine = Pipeline(build_resources(parse_config(config_data(fake, tmp_path), {}), clock))
    try:
        first = engine.full_pass()
        assert first.failed == 0 and len(first.cached) == len(lib.expected_images())
        assert first.nfo_written == [] and first.errors == len(lib.expected_nfos())
        found = check_integrity(lib.root)
        assert found.nfos == set() and found.temporaries == [] and found.problems == []
        budget.left = 10**9  # space is back
        clock.advance(60)
        second = engine.full_pass(retry_failed_now=True)
        found = check_integrity(lib.root)
        assert found.problems == []
        missing = sorted(str(p.relative_to(lib.root)) for p in lib.expected_nfos() - found.nfos)
        assert missing == [], f"{len(missing)} NFOs never retried: {missing[:3]}"
        assert second.errors == 0
    finally:
        engine.close()


def test_a_full_disk_during_writes_in_groups_leaves_no_partial_nfo(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass over many folders stages its NFOs and syncs them together
    (`core.groupsync`); the disk fills up halfway through the staging. The NFOs that did
    not fit fail, nothing partial gets a final name, no temporary stays, and with space
    back the next pass writes the rest."""
    lib = build_library(fake, tmp_path / "rec", recordings=40, streamers=GROUP_SYNC_FOLDERS)
    clock = FakeClock(start=time.time())
    engine = Pipeline(build_resources(parse_config(config_data(fake, tmp_path), {}), clock))
    try:
        engine.full_pass()  # images and NFOs in place
        for nfo in lib.expected_nfos():
            nfo.unlink()
        budget = _Budget(20 * 1024)  # about half of the NFOs fit
        monkeypatch.setattr(atomic, "_write_all", budgeted_write_all(budget))
        engine.res.state.recordings.invalidate_all()
        clock.advance(60)
        first = engine.full_pass()
        found = check_integrity(lib.root, tmp_path / "state" / "state.db")
        assert found.problems == [] and found.temporaries == []
        assert 0 < len(first.nfo_written) < len(lib.expected_nfos()) and first.errors > 0
        group = engine.res.group_sync()
        assert group is None or group.syncs > 0  # the writes went through shared syncs here
        monkeypatch.undo()
        clock.advance(60)
        engine.full_pass(retry_failed_now=True)
        found = check_integrity(lib.root, tmp_path / "state" / "state.db")
        assert found.problems == [] and lib.expected_nfos() <= found.nfos
    finally:
        engine.close()
