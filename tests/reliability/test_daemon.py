"""The daemon process under stress from outside: SIGTERM while the CDN is slow, a damaged
state database at start, and two processes on one state folder.

Every case runs the real `python -m svimaged run` in a subprocess against the FakeTwitch on
127.0.0.1 and waits for conditions, never for a fixed time.
"""

from __future__ import annotations

import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from svimaged.control.client import ControlClient
from svimaged.demo.config import control_socket_for
from svimaged.demo.fake_twitch import FakeTwitch

from .conftest import (
    EXIT_DEADLINE,
    DaemonProcess,
    RecordProperty,
    build_library,
    check_integrity,
    clean_env,
    config_data,
    state_problems,
    wait_for,
    write_config,
)

#: The CDN holds every image this long; `download.timeout` is longer than the test, so no
#: transfer ends on its own while the test runs.
SLOW_IMAGE = 60.0


def test_sigterm_with_slow_downloads_in_flight_exits_0_within_10_s(
    tmp_path: Path, fake: FakeTwitch, daemons: list[DaemonProcess], record_property: RecordProperty
) -> None:
    """SIGTERM while the workers' transfers and a sync job's wait on a CDN that answers after
    60 s: the daemon exits 0 within 10 s, cuts the transfers off (no partial file, no
    temporary left, no failure recorded for them) and logs no traceback, in particular no
    "Cannot operate on a closed database"."""
    rec, state = tmp_path / "rec", tmp_path / "state"
    build_library(fake, rec, recordings=40, streamers=4, categories=2)
    fake.delay("cdn", SLOW_IMAGE)
    data = config_data(fake, tmp_path, download={"timeout": 30})
    daemon = DaemonProcess(write_config(tmp_path / "config.yaml", data), tmp_path / "d.log")
    daemons.append(daemon)
    wait_for(lambda: fake.delayed["cdn"] >= 4, "transfers in flight")
    client = ControlClient(control_socket_for(state))
    job = client.json("POST", "/api/images/sync")
    assert isinstance(job, dict) and job["queued"] is True
    started = time.monotonic()
    code = daemon.terminate()  # fails the test after EXIT_DEADLINE (10 s)
    seconds = time.monotonic() - started
    log = daemon.log()
    assert code == 0, log
    assert seconds < EXIT_DEADLINE
    assert "Traceback" not in log, log
    assert "closed database" not in log, log
    assert "image failed" not in log, log  # a cut-off transfer is not a failed image
    assert "INFO svimaged.daemon.lifecycle: stopped" in log
    found = check_integrity(rec, state / "state.db")
    assert found.problems == []
    assert found.temporaries == []
    record_property("sigterm_exit_seconds", round(seconds, 2))


def corrupt_pages(db: Path, tables: tuple[str, ...], seed: int) -> bytes:
    """Overwrite the root page of each of `tables` with seeded garbage (what a bad disk or a
    stray write leaves); returns the damaged file's bytes."""
    raw = sqlite3.connect(db)
    try:
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            raw.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0]
            for t in tables
        ]
    finally:
        raw.close()
    rng = random.Random(seed)
    with db.open("r+b") as f:
        for root in roots:
            f.seek((root - 1) * page_size)
            f.write(rng.randbytes(page_size))
    return db.read_bytes()


@pytest.mark.parametrize("how", ["run --once", "daemon"])
def test_a_state_with_damaged_pages_is_moved_aside_and_rebuilt(
    tmp_path: Path, fake: FakeTwitch, daemons: list[DaemonProcess], how: str
) -> None:
    """A real state file (one complete pass) with the root pages of three tables
    overwritten: the next start logs one line naming the damaged file and where it went,
    keeps its bytes under `state.db.corrupt-<UTC time>`, and rebuilds a whole state from
    the tree (every image and NFO present, state integrity clean)."""
    rec, state = tmp_path / "rec", tmp_path / "state"
    lib = build_library(fake, rec, recordings=12, streamers=3, categories=2)
    config = write_config(tmp_path / "config.yaml", config_data(fake, tmp_path))
    first = DaemonProcess(config, tmp_path / "first.log", once=True)
    assert first.proc.wait(60) == 0, first.log()
    db = state / "state.db"
    damaged = corrupt_pages(db, ("images", "recordings", "twitch_users"), seed=12)
    assert state_problems_or_error(db) != []
    log_path = tmp_path / "second.log"
    if how == "run --once":
        second = DaemonProcess(config, log_path, once=True)
        assert second.proc.wait(60) == 0, second.log()
    else:
        second = DaemonProcess(config, log_path)
        daemons.append(second)
        second.wait_log("daemon ready")
        wait_for(lambda: len(state_folders(db)) == 3, "the rebuilt state")
        assert second.terminate() == 0, second.log()
    log = second.log()
    assert "Traceback" not in log, log
    (line,) = [x for x in log.splitlines() if "moved aside" in x]
    (aside,) = [
        p for p in state.glob("state.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    assert re.fullmatch(r"state\.db\.corrupt-\d{8}T\d{6}Z", aside.name)
    assert line.startswith("ERROR ") and f"path={db}" in line and f"moved_to={aside}" in line
    assert aside.read_bytes() == damaged
    found = check_integrity(rec, db)
    assert found.problems == []
    assert lib.expected_images() <= found.images
    assert lib.expected_nfos() <= found.nfos


def state_problems_or_error(db: Path) -> list[str]:
    """`state_problems`, with SQLite's own refusal counted as a problem."""
    try:
        return state_problems(db)
    except sqlite3.DatabaseError as exc:
        return [str(exc)]


def state_folders(db: Path) -> list[str]:
    """The streamer folders the state knows (read-only; [] while it cannot be read)."""
    try:
        raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return [row[0] for row in raw.execute("SELECT name FROM folders")]
        finally:
            raw.close()
    except sqlite3.Error:
        return []


def test_a_second_process_on_the_same_state_folder_stops_at_start(
    tmp_path: Path, fake: FakeTwitch, daemons: list[DaemonProcess]
) -> None:
    """A daemon runs. A second daemon (on its own socket, so only the state is shared) and a
    `run --once` on the same state folder exit 1 with one line naming the folder and the
    first daemon's pid, and change nothing; `svimaged stats` still talks to the first one;
    once it stopped, `run --once` runs."""
    rec, state = tmp_path / "rec", tmp_path / "state"
    build_library(fake, rec, recordings=4, streamers=2, categories=1)
    data = config_data(fake, tmp_path)
    config = write_config(tmp_path / "config.yaml", data)
    first = DaemonProcess(config, tmp_path / "first.log")
    daemons.append(first)
    first.wait_log("daemon ready")
    wait_for(lambda: len(state_folders(state / "state.db")) == 2, "the first pass")
    other_socket = {"socket": str(tmp_path / "other.sock")}
    second_config = write_config(tmp_path / "second.yaml", {**data, "control": other_socket})
    expected = f"svimaged: state folder {state} is in use by another svimaged (pid "
    for args in (
        ["run", "--config", str(second_config)],
        ["run", "--once", "--config", str(config)],
    ):
        result = run_cli(args, tmp_path)
        assert result.returncode == 1, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("svimaged: ")]
        assert lines == [
            f"{expected}{first.proc.pid}): stop it first, or give this one its own state_dir"
        ], result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "other.sock").exists()
    stats = run_cli(["stats", "--json", "--config", str(config)], tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert first.terminate() == 0, first.log()
    assert run_cli(["run", "--once", "--config", str(config)], tmp_path).returncode == 0


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m svimaged <args>`, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "svimaged", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )
