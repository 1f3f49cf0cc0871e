"""`kill -9` at random moments of `svimaged run --once`, 20 times.

What must hold after every kill, whatever the moment: every file under `.images` with a
final name is a whole JPEG (Pillow decodes it to the end), every NFO with a final name parses,
the state database passes SQLite's integrity check and opens. Temporary files may remain;
they never carry a final name, and cleanup removes them. After the kills one uninterrupted
run completes all the work: every expected image and NFO is present and the NFOs point at the
cached files, not at URLs.

The kill moments come from a seeded random generator (0.05-1.5 s after the start). The
assertions hold for any moment, so the test is deterministic in what it checks even though
the moments land on different work on a slower or faster machine.
"""

from __future__ import annotations

import os
import random
import shutil
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


def reset(tmp_path: Path, lib: Library) -> None:
    """Remove the tree, the cache and the state, and write the tree again."""
    for name in ("rec", "state"):
        shutil.rmtree(tmp_path / name, ignore_errors=True)
    lib.write()


def kill_at(config: Path, log: Path, delay: float) -> bool:
    """Start `run --once`, SIGKILL it after `delay` s; True when it was still running."""
    daemon = DaemonProcess(config, log, once=True)
    try:
        daemon.proc.wait(delay)
    except Exception:
        daemon.kill()
        return True
    return False


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
        for round_no in range(ROUNDS):
            if round_no:
                reset(tmp_path, lib)
            for kill_no in range(KILLS // ROUNDS):
                delay = rng.uniform(0.05, 1.5)
                hits += kill_at(config, tmp_path / "run.log", delay)
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
