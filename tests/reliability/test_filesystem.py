"""Hostile file systems: a read-only tree, a folder that cannot be listed, a recording that
vanishes mid-pass, a streamer folder renamed under a running daemon, symlink loops.

Each case says what must hold; the common core is: no exception escapes a pass, every failure
is counted, nothing the daemon cannot see is forgotten or deleted, and the daemon stays up.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.errors import IncompleteScanError
from svimaged.core.model import RecordingFiles, ShowMeta
from svimaged.demo.fake_twitch import ALICE_ID, FakeTwitch
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.library.metadata import gather_recording
from svimaged.library.scan import scan_tree
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources

from .conftest import (
    DaemonProcess,
    RecordProperty,
    build_library,
    check_integrity,
    config_data,
    wait_for,
    write_config,
)


def make_engine(fake: FakeTwitch, tmp_path: Path, **extra: Any) -> Pipeline:
    clock = FakeClock(start=time.time())
    return Pipeline(build_resources(parse_config(config_data(fake, tmp_path, **extra), {}), clock))


@pytest.fixture
def engine(fake: FakeTwitch, tmp_path: Path) -> Iterator[Pipeline]:
    eng = make_engine(fake, tmp_path)
    yield eng
    eng.close()


def snapshot(root: Path) -> dict[str, str]:
    """Every path below `root` with the sha256 of its bytes (or `dir`/`link`)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "link"
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# -- read-only tree ------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(root: Path, monkeypatch: pytest.MonkeyPatch, *, mount: bool) -> Iterator[str]:
    """Make `root` read-only: with `mount`, a read-only bind mount over itself (yields
    "bind mount"; skips the test when this process cannot mount), else EROFS injected into
    every create/link/mkdir below it ("injected")."""
    if mount:
        if os.geteuid() != 0:
            pytest.skip("a read-only bind mount needs root; the injected case runs")
        bind = subprocess.run(["mount", "--bind", str(root), str(root)], capture_output=True)
        if bind.returncode == 0:
            try:
                remount = ["mount", "-o", "remount,bind,ro", str(root)]
                if subprocess.run(remount, capture_output=True).returncode == 0:
                    yield "bind mount"
                    return
            finally:
                subprocess.run(["umount", "-l", str(root)], capture_output=True)
        pytest.skip("mount refused here; the injected case runs")
    yield from _inject_erofs(root, monkeypatch)


def _inject_erofs(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    def below(path: Any, dir_fd: int | None = None) -> bool:
        """`path` (relative to the folder open as `dir_fd`, when given) is below `root`."""
        where = os.fspath(path)
        if dir_fd is not None and not os.path.isabs(where):
            where = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), where)
        return str(where).startswith(str(root))

    def refuse(real: Callable[..., Any], when: Callable[..., bool]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if when(*args, **kwargs):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]))
            return real(*args, **kwargs)

        return call

    real_open, real_link, real_mkdir, real_os_mkdir = os.open, os.link, Path.mkdir, os.mkdir
    writes = os.O_CREAT | os.O_WRONLY | os.O_RDWR
    monkeypatch.setattr(
        os,
        "open",
        refuse(
            real_open,
            lambda p, flags, *a, dir_fd=None, **k: below(p, dir_fd) and flags & writes,
        ),
    )
    monkeypatch.setattr(
        os,
        "link",
        refuse(real_link, lambda s, d, *a, dst_dir_fd=None, **k: below(d, dst_dir_fd)),
    )
    monkeypatch.setattr(Path, "mkdir", refuse(real_mkdir, lambda p, *a, **k: below(p)))
    monkeypatch.setattr(
        os, "mkdir", refuse(real_os_mkdir, lambda p, *a, dir_fd=None, **k: below(p, dir_fd))
    )
    try:
        yield "injected"
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("mount", [True, False], ids=["bind-mount", "injected"])
def test_read_only_tree_pass_completes_with_every_failure_counted(
    mount: bool,
    fake: FakeTwitch,
    tmp_path: Path,
    engine: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    record_property: RecordProperty,
) -> None:
    """Read-only recordings (images live inside the tree, so every write fails): the pass
    returns, every image counts as failed and every NFO as an error, the tree is unchanged
    byte for byte, and the state (elsewhere) stays whole."""
    rec = tmp_path / "rec"
    lib = build_library(fake, rec, recordings=6, streamers=2, categories=2)
    before = snapshot(rec)
    with read_only(rec, monkeypatch, mount=mount) as how:
        summary = engine.full_pass()
    record_property("read_only_by", how)
    assert snapshot(rec) == before
    assert summary.cached == [] and summary.nfo_written == []
    assert summary.failed == len(lib.expected_images())
    assert summary.errors >= len(lib.expected_nfos())
    assert engine.stats()["total_failed"] == summary.failed
    assert check_integrity(rec, tmp_path / "state" / "state.db").problems == []


# -- a folder that cannot be listed --------------------------------------------------------


@pytest.fixture
def unlistable(
    fake: FakeTwitch, tmp_path: Path, engine: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, set[str]]:
    """A library after one complete pass, then `Streamer 1/Season 2026-01` raising
    PermissionError when listed (we run as root, so it is injected into the scan's
    `os.open`) and a new recording elsewhere. Returns (season folder, new video, the
    recordings the state knew in `Streamer 1`)."""
    rec = tmp_path / "rec"
    build_library(fake, rec, recordings=8, streamers=2, categories=2)
    assert engine.full_pass().failed == 0
    hidden = rec / "Streamer 1" / "Season 2026-01"
    known = set(engine.res.state.recordings.signatures("Streamer 1")["Streamer 1"])
    real_open = os.open

    def opener(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_DIRECTORY and kwargs.get("dir_fd") is None and Path(path) == hidden:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", opener)  # the scan opens each folder it lists
    new = rec / "Streamer 0" / "Season 2026-01" / "streamer_0 - S202601E09 - Late.mp4"
    new.write_bytes(b"x")
    os.utime(new, (time.time() - 3600,) * 2)
    return hidden, new, known


def test_unlistable_folder_is_counted_the_rest_is_served_and_cleanup_refuses(
    unlistable: tuple[Path, Path, set[str]], tmp_path: Path, engine: Pipeline
) -> None:
    """The pass goes on with the rest of the tree and counts the error; cleanup refuses
    to run on the incomplete scan and deletes nothing."""
    _hidden, new, _known = unlistable
    summary = engine.full_pass(full=True)  # a quick pass lists only folders that changed
    assert summary.incomplete_scan and summary.errors >= 1
    assert new.with_suffix(".nfo").exists()
    images = snapshot(tmp_path / "rec" / ".images")
    with pytest.raises(IncompleteScanError):
        engine.cleanup(dry_run=False)
    assert snapshot(tmp_path / "rec" / ".images") == images
    assert check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db").problems == []


def test_recordings_in_an_unlistable_folder_are_not_forgotten(
    unlistable: tuple[Path, Path, set[str]], engine: Pipeline
) -> None:
    """What the daemon could not list it must not forget: the state keeps those rows."""
    _hidden, _new, known = unlistable
    engine.full_pass(full=True)
    kept = engine.res.state.recordings.signatures("Streamer 1").get("Streamer 1", {})
    assert set(kept) == known
    engine.process_folder("Streamer 1")
    kept = engine.res.state.recordings.signatures("Streamer 1").get("Streamer 1", {})
    assert set(kept) == known


# -- a recording deleted between listing and processing -------------------------------------


def test_recording_deleted_mid_pass_does_not_break_the_pass_and_is_forgotten_next(
    fake: FakeTwitch, tmp_path: Path, engine: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing saw a recording that is gone when its metadata is read: no exception
    escapes, the other recordings get their NFOs, and the next pass forgets it."""
    rec = tmp_path / "rec"
    lib = build_library(fake, rec, recordings=4, streamers=1, categories=1)
    victim = sorted(rec.rglob("*.mp4"))[1]

    def gather(files: RecordingFiles, show: ShowMeta, **kw: Any) -> Any:
        if files.video == str(victim):
            victim.unlink()
            victim.with_suffix(".info.json").unlink()
        return gather_recording(files, show, **kw)

    monkeypatch.setattr("svimaged.pipeline.reading.gather_recording", gather)
    summary = engine.full_pass()
    others = lib.expected_nfos() - {victim.with_suffix(".nfo")}
    assert others <= check_integrity(rec).nfos
    assert summary.recordings == 4
    monkeypatch.undo()
    victim.with_suffix(".nfo").unlink(missing_ok=True)  # what a user removes with the video
    engine.full_pass()
    rel = str(victim.relative_to(rec))
    assert engine.res.state.recordings.get(rel) is None
    assert check_integrity(rec, tmp_path / "state" / "state.db").problems == []


# -- symlink loops ---------------------------------------------------------------------------


def test_symlink_loops_in_the_tree_do_not_stop_the_scan_or_the_pass(
    fake: FakeTwitch, tmp_path: Path, engine: Pipeline
) -> None:
    """`a -> .`, `b -> a`, a top-level link to the root and one to `/`: the scan ends, no
    link is followed (each recording is seen once) and the pass completes."""
    rec = tmp_path / "rec"
    lib = build_library(fake, rec, recordings=4, streamers=2, categories=1)
    season = rec / "Streamer 0" / "Season 2026-01"
    (season / "a").symlink_to(".")
    (season / "b").symlink_to("a")
    (rec / "Loop").symlink_to(rec)
    (rec / "Streamer 1" / "root").symlink_to("/")
    result: list[Any] = []
    worker = threading.Thread(
        target=lambda: result.append([f.name for f in scan_tree(rec)]), daemon=True
    )
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the scan did not finish within 10 s"
    assert result == [["Streamer 0", "Streamer 1"]]
    summary = engine.full_pass()
    assert summary.recordings == 4 and summary.failed == 0
    assert lib.expected_nfos() <= check_integrity(rec).nfos


# -- a streamer folder renamed while the daemon watches ---------------------------------------


def query_state(db: Path, sql: str, *args: str) -> list[tuple[Any, ...]]:
    """Rows from the daemon's state through a read-only connection (WAL lets us read while
    it writes); [] while the database or its schema does not exist yet."""
    if not db.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
            return list(c.execute(sql, args))
    except sqlite3.OperationalError:  # created but not migrated yet
        return []


def state_folders(db: Path) -> set[str]:
    return {str(name) for (name,) in query_state(db, "SELECT name FROM folders")}


def state_recordings(db: Path, folder: str) -> int:
    rows = query_state(db, "SELECT COUNT(*) FROM recordings WHERE folder = ?", folder)
    return int(rows[0][0]) if rows else 0


def test_streamer_folder_renamed_while_watched_is_processed_and_the_old_name_forgotten(
    fake: FakeTwitch, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """A real daemon (inotify, settle 0.5 s): `Alice Plays` is renamed to `Alice P`. Within
    a bounded wait the state knows `Alice P` with all its recordings, has forgotten `Alice
    Plays`, the renamed folder's NFOs are whole, and the daemon still answers and exits 0."""
    rec = tmp_path / "rec"
    build_demo_tree(rec, fake, now=time.time())
    config = write_config(
        tmp_path / "config.yaml",
        config_data(fake, tmp_path, watch={"settle_seconds": 0.5, "mode": "inotify"}),
    )
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    daemons.append(daemon)
    db = tmp_path / "state" / "state.db"
    old, new = rec / "Alice Plays", rec / "Alice P"
    wait_for(lambda: "Alice Plays" in state_folders(db), "the first pass", 15)
    wait_for(lambda: state_recordings(db, "Alice Plays") == 3, "Alice's recordings", 15)
    old.rename(new)
    wait_for(
        lambda: "Alice P" in state_folders(db) and "Alice Plays" not in state_folders(db),
        "the renamed folder to be processed and the old name forgotten",
        15,
    )
    wait_for(lambda: state_recordings(db, "Alice P") == 3, "the renamed recordings", 15)
    assert state_recordings(db, "Alice Plays") == 0
    tvshow = (new / "tvshow.nfo").read_text(encoding="utf-8")
    assert ALICE_ID in tvshow and "Alice Plays" in tvshow  # the display name from Twitch
    assert check_integrity(rec).problems == []
    assert daemon.proc.poll() is None, daemon.log()
    assert "Traceback" not in daemon.log()
    assert daemon.terminate() == 0, daemon.log()
