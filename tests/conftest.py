"""Shared fixtures: a fake Twitch (Helix + CDN) on 127.0.0.1 with the sample library, a fake
clock, and a fresh state database in `tmp_path`."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from svimaged.core.clock import FakeClock
from svimaged.core.log import CHATTY_LIBRARIES
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.state import State

# Property tests: deterministic by default (CI runs the same examples every time, so a
# failure is reproducible and never a flake); `HYPOTHESIS_PROFILE=long` runs many more
# random examples by hand (docs/reliability.md).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("long", derandomize=False, deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def fake() -> Iterator[FakeTwitch]:
    """A started FakeTwitch filled with `sample_library`; stopped after the test."""
    with FakeTwitch() as server:
        sample_library(server)
        yield server


@pytest.fixture
def fake_twitch(fake: FakeTwitch) -> FakeTwitch:
    """The same fake, under the name the unit tests of the lower layers use."""
    return fake


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    """A new state database in `tmp_path`, closed after the test."""
    db = State.open(tmp_path / "state" / "state.db")
    yield db
    db.close()


@pytest.fixture(autouse=True)
def no_leaked_log_handlers() -> Iterator[None]:
    """Remove the handler `setup_logging` installs (CLI and demo tests call it) and put the
    levels it sets back, so no test sees another test's logging set-up (a test that ran
    `log_level: error` would otherwise hide the warnings a later test reads in caplog)."""
    names = ["", *CHATTY_LIBRARIES]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if type(handler).__name__ == "_SvimagedHandler":
            root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
