"""The daemon process under stress from outside: SIGTERM while the CDN is slow, a damaged
state database at start, and two processes on one state folder.

Every case runs the real `python -m svimaged run` in a subprocess against the FakeTwitch on
127.0.0.1 and waits for conditions, never for a fixed time.
"""

from __future__ import annotations

import time
from pathlib import Path

from svimaged.control.client import ControlClient
from svimaged.demo.config import control_socket_for
from svimaged.demo.fake_twitch import FakeTwitch

from .conftest import (
    EXIT_DEADLINE,
    DaemonProcess,
    RecordProperty,
    build_library,
    check_integrity,
    config_data,
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
    wait_for(lambda: fake.delayed["cdn"] >= 4, "transfers in flight", 20)
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
