"""`kill -9` at random moments of `svimaged run --once`, 20 times.

What must hold after every kill, whatever the moment: every file under `.images` with a
final name is a whole JPEG (Pillow decodes it to the end), every NFO with a final name parses,
the state database passes SQLite's integrity check and opens. Temporary files may remain;
they never carry a final name, and cleanup removes them. After the kills one uninterrupted
run completes all the work: every expected image and NFO is present and the NFOs point at the
cached files, not at URLs.

The kill moments are points of progress, not of time: a seeded random number of work units
(images the fake CDN served plus NFOs on disk) between the run's start and the end of its
remaining work. So the kills land in the middle of a run on a slow or a fast machine alike,
and the test asserts that at least half of them hit a running process (a kill that finds the
run over checks nothing).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from svimaged.config import parse_config
from svimaged.core.clock import SystemClock
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources

from .conftest import (
    DaemonProcess,
    Library,
    RecordProperty,
    build_library,
    check_integrity,
    config_data,
    write_config,
)

KILLS = 20
ROUNDS = 10  # a fresh tree this many times, KILLS / ROUNDS kills and one full run each
RECORDINGS = 200
SEED = 20261103
#: Longest a run may take to reach its kill moment before it is killed anyway (a generous
#: bound: the whole run takes about 1 s here).
KILL_DEADLINE = 60.0


def reset(tmp_path: Path, lib: Library) -> None:
    """Remove the tree, the cache and the state, and write the tree again."""
    for name in ("rec", "state"):
        shutil.rmtree(tmp_path / name, ignore_errors=True)
    lib.write()


class Progress:
    """Work units of the runs on one tree: images the fake CDN served since `start()`, plus
    NFOs with a final name on disk."""

    def __init__(self, fake: FakeTwitch, lib: Library) -> None:
        self.fake = fake
        self.lib = lib
        self.served_before = 0

    def start(self) -> None:
        self.served_before = self.fake.hits["cdn"]

    def now(self) -> int:
        nfos = sum(1 for path in self.lib.expected_nfos() if path.exists())
        return self.fake.hits["cdn"] - self.served_before + nfos

    def left(self) -> int:
        """Work units the next complete run still has to do."""
        images = self.lib.root / ".images"
        missing = sum(1 for rel in self.lib.expected_images() if not (images / rel).exists())
        return missing + sum(1 for path in self.lib.expected_nfos() if not path.exists())


def kill_at(config: Path, log: Path, progress: Progress, units: int) -> bool:
    """Start `run --once` and SIGKILL it once it has done `units` more work units (or after
    `KILL_DEADLINE` s); True when it was still running then, False when it ended first."""
    target = progress.now() + units
    daemon = DaemonProcess(config, log, once=True)
    deadline = time.monotonic() + KILL_DEADLINE
    while progress.now() < target and time.monotonic() < deadline:
        try:
            daemon.proc.wait(0.01)
        except subprocess.TimeoutExpired:
            continue
        return False  # the run ended before its kill moment
    daemon.kill()
    return True


def assert_whole(tmp_path: Path, when: str) -> int:
    """The integrity check after a kill; returns the number of leftover temporaries."""
    found = check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db")
    assert found.problems == [], f"{when}: {found.problems[:5]}"
    for temp in found.temporaries:
        assert ".svimaged-tmp-" in temp.name and temp.name.startswith(".")
    return len(found.temporaries)


def run_cleanup(data: dict[str, Any]) -> dict[str, object]:
    """`Pipeline.cleanup` (what `svimaged cleanup` asks the daemon for) over `data`."""
    engine = Pipeline(build_resources(parse_config(data, {}), SystemClock()))
    try:
        return engine.cleanup(dry_run=False)
    finally:
        engine.close()


def assert_complete(tmp_path: Path, lib: Library) -> None:
    found = check_integrity(tmp_path / "rec", tmp_path / "state" / "state.db")
    assert found.problems == []
    assert lib.expected_images() <= found.images, sorted(lib.expected_images() - found.images)[:5]
    missing = lib.expected_nfos() - found.nfos
    assert not missing, sorted(missing)[:5]
    for nfo in lib.expected_nfos():
        text = nfo.read_text(encoding="utf-8")
        assert "http://" not in text and str(tmp_path / "rec" / ".images") in text, nfo


def test_kill_9_twenty_times_leaves_nothing_half_written_and_the_next_run_completes(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    """After each SIGKILL nothing is half-written; one clean run then completes the work;
    cleanup removes the temporaries the kills left."""
    rng = random.Random(SEED)
    hits = temporaries = 0
    started = time.monotonic()
    with FakeTwitch(latency=0.005) as fake:
        config = tmp_path / "config.yaml"
        write_config(config, config_data(fake, tmp_path))
        lib = build_library(fake, tmp_path / "rec", recordings=RECORDINGS)
        progress = Progress(fake, lib)
        for round_no in range(ROUNDS):
            if round_no:
                reset(tmp_path, lib)
            progress.start()
            for kill_no in range(KILLS // ROUNDS):
                units = rng.randint(1, max(1, progress.left()))
                hits += kill_at(config, tmp_path / "run.log", progress, units)
                temporaries += assert_whole(tmp_path, f"round {round_no} kill {kill_no}")
            final = DaemonProcess(config, tmp_path / "run.log", once=True)
            assert final.proc.wait(30) == 0, final.log()[-2000:]
            assert_complete(tmp_path, lib)
        leftovers = check_integrity(tmp_path / "rec").temporaries
        for temp in leftovers:  # "later": past cleanup's grace period for temporaries
            os.utime(temp, (time.time() - 7200,) * 2)
        result = run_cleanup(config_data(fake, tmp_path))
    after = check_integrity(tmp_path / "rec")
    assert after.problems == []
    images = tmp_path / "rec" / ".images"
    assert [t for t in after.temporaries if t.is_relative_to(images)] == []
    assert result["total_cleaned"] == 0  # nothing the library uses was deleted
    assert_complete(tmp_path, lib)
    assert hits >= KILLS // 2, f"only {hits} of {KILLS} kills hit a running process"
    nfo_leftovers = len(after.temporaries)
    record_property("kills_while_running", hits)
    record_property("temporaries_seen", temporaries)
    record_property("nfo_temporaries_left_by_cleanup", nfo_leftovers)
    record_property("seconds", round(time.monotonic() - started, 1))


def test_cleanup_removes_nfo_temporaries_a_kill_left_in_the_tree(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    """What a kill between the temporary write and the rename of an episode NFO leaves:
    cleanup (after the grace period) must remove the daemon's own leftover, nothing else."""
    lib = build_library(fake, tmp_path / "rec", recordings=2, streamers=1, categories=1)
    nfo = next(iter(lib.expected_nfos() - {tmp_path / "rec" / "Streamer 0" / "tvshow.nfo"}))
    leftover = nfo.with_name(f".{nfo.name}.svimaged-tmp-0123456789ab")
    leftover.write_bytes(b"<?xml version='1.0'?><episodedetails><tit")
    foreign = nfo.with_name(".user-notes.txt")
    foreign.write_bytes(b"mine")
    for path in (leftover, foreign):
        os.utime(path, (time.time() - 7200,) * 2)
    run_cleanup(config_data(fake, tmp_path))
    assert foreign.exists()
    assert not leftover.exists()
