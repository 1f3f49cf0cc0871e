"""Shared helpers of the reliability suite: a generated library on a FakeTwitch, config files,
the integrity check every case ends with (whole JPEGs, parseable NFOs, an openable state),
a daemon subprocess, and a bounded wait.

The integrity check is the suite's definition of "nothing half-written": every file under
`.images` with a final name is a complete JPEG that Pillow decodes to the last pixel, every
NFO with a final name parses with the daemon's own safe parser, and the state database
passes `PRAGMA integrity_check`. Temporary files (`.<name>.svimaged-tmp-<hex>`) may exist;
they are counted, never judged, because cleanup removes them later.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image, ImageFile

from svimaged.core.errors import NfoParseError
from svimaged.core.names import TEMP_NAME, category_slug
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import generate_tree
from svimaged.nfo.xml import parse_xml
from svimaged.state import State

EXIT_DEADLINE = 10.0
#: The type of pytest's `record_property` fixture (figures for docs/reliability.md).
RecordProperty = Callable[[str, object], None]


@dataclass(frozen=True, slots=True)
class Library:
    """A generated library: who streams what, and where the recordings go."""

    root: Path  # the recordings folder
    streamers: list[tuple[str, str, str]]  # (user id, login, display name)
    categories: list[str]
    recordings: int

    def write(self) -> list[Path]:
        """Write the StreamVault-style tree (finished recordings); returns the videos."""
        return generate_tree(
            self.root,
            recordings=self.recordings,
            streamers=self.streamers,
            categories=self.categories,
            now=time.time(),
        )

    def expected_images(self) -> set[str]:
        """Every cache path a complete pass must produce (relative to `.images`)."""
        rels = {f"profiles/profile_avatar_{uid}.jpg" for uid, _l, _d in self.streamers}
        rels |= {f"categories/{category_slug(name, None)}.jpg" for name in self.categories}
        for n in range(self.recordings):
            uid = self.streamers[n % len(self.streamers)][0]
            rels.add(f"artwork/{uid}/stream_{50_000_000_000 + n}.jpg")
        return rels

    def expected_nfos(self) -> set[Path]:
        """Every NFO a complete pass must write: one per recording, one per streamer, one
        `season.nfo` per season folder (Jellyfin's season art, a default output)."""
        videos = list(self.root.rglob("*.mp4"))
        nfos = {p.with_suffix(".nfo") for p in videos}
        shows = {self.root / display for _u, _l, display in self.streamers}
        seasons = {p.parent / "season.nfo" for p in videos if p.parent not in shows}
        return nfos | seasons | {show / "tvshow.nfo" for show in shows}


def build_library(
    fake: FakeTwitch, root: Path, *, recordings: int, streamers: int = 20, categories: int = 10
) -> Library:
    """Users, games and one archive video per recording on `fake`, and the tree of
    `recordings` finished recordings below `root` (see `generate_tree`)."""
    people = [(str(20_000_000 + i), f"streamer_{i}", f"Streamer {i}") for i in range(streamers)]
    games = [f"Game {c}" for c in range(categories)]
    for uid, login, display in people:
        fake.add_user(uid, login, display)
    for c, name in enumerate(games):
        fake.add_game(str(600_000 + c), name)
    for n in range(recordings):
        uid = people[n % len(people)][0]
        fake.add_video(str(3_000_000_000 + n), uid, str(50_000_000_000 + n), f"Stream {n}")
    lib = Library(root, people, games, recordings)
    lib.write()
    return lib


def config_data(fake: FakeTwitch, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Config data for a tree at `tmp_path/rec` and state at `tmp_path/state`; `extra`
    sections are merged one level deep (`download={"timeout": 0.5}` keeps the other keys)."""
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    """Write `data` as YAML to `path`; returns the path."""
    path.write_text(yaml.safe_dump(dict(data)), encoding="utf-8")
    return path


# -- integrity -----------------------------------------------------------------------------


@dataclass(slots=True)
class Integrity:
    """What `check_integrity` found."""

    images: set[str] = field(default_factory=set)  # final names, relative to .images
    nfos: set[Path] = field(default_factory=set)
    temporaries: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def whole_jpeg_problem(path: Path) -> str | None:
    """None when `path` is a complete JPEG Pillow decodes fully, else the reason."""
    data = path.read_bytes()
    if not data.startswith(b"\xff\xd8\xff") or not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return f"not a whole JPEG ({len(data)} bytes): {path}"
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with Image.open(path, formats=["JPEG"]) as image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        return f"JPEG does not decode ({exc}): {path}"
    return None


def check_integrity(recordings: Path, state_db: Path | None = None) -> Integrity:
    """Judge every file below `recordings` (and the state database when given)."""
    found = Integrity()
    images = recordings / ".images"
    for path in sorted(recordings.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if TEMP_NAME.fullmatch(path.name):
            found.temporaries.append(path)
            continue
        if path.is_relative_to(images):
            found.images.add(path.relative_to(images).as_posix())
            problem = whole_jpeg_problem(path)
            if problem is not None:
                found.problems.append(problem)
        elif path.suffix == ".nfo":
            found.nfos.add(path)
            try:
                parse_xml(path.read_bytes())
            except NfoParseError as exc:
                found.problems.append(f"NFO does not parse ({exc}): {path}")
    if state_db is not None and state_db.exists():
        found.problems.extend(state_problems(state_db))
    return found


def state_problems(db: Path) -> list[str]:
    """[] when the state database passes SQLite's integrity check and `State.open` works."""
    conn = sqlite3.connect(db)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if verdict != "ok":
        return [f"state database damaged: {verdict}"]
    state = State.open(db)
    try:
        state.stats(time.time())
    finally:
        state.close()
    return []


# -- processes and waiting -----------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment without svimaged or systemd variables."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SVIMAGED_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `condition` until true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class DaemonProcess:
    """`python -m svimaged run [--once] --config F` in a subprocess; stderr in a file."""

    def __init__(self, config: Path, log_path: Path, *, once: bool = False) -> None:
        self.log_path = log_path
        args = [sys.executable, "-m", "svimaged", "run", "--config", str(config)]
        if once:
            args.insert(4, "--once")
        with log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                env=clean_env(),
                cwd=config.parent,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, timeout: float = 30.0) -> None:
        """Wait until `needle` is in the log; fails early when the process exits."""
        wait_for(lambda: needle in self.log() or self.proc.poll() is not None, needle, timeout)
        assert needle in self.log(), f"daemon exited ({self.proc.returncode}):\n{self.log()}"

    def terminate(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"daemon did not exit in time:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL (only this process, by pid) when it still runs, and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """A list the test appends its daemon processes to; all are killed afterwards."""
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()
