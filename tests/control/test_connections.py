"""Deadlines and RefusalLog on a fake clock: no sleeping, no sockets but a socketpair."""

from __future__ import annotations

import logging
import socket

import pytest

from svimaged.control.connections import Deadlines, RefusalLog
from svimaged.core.clock import FakeClock


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_refusals_are_one_line_a_minute_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    refusals = RefusalLog(clock, "tcp", every=60.0)
    with caplog.at_level(logging.WARNING, logger="svimaged.control"):
        for _ in range(1000):  # a flood within one second
            refusals.refused()
        clock.advance(59)
        refusals.refused()
        assert len(warnings(caplog)) == 1
        assert "listener=tcp" in warnings(caplog)[0] and "count=1 " in warnings(caplog)[0]
        clock.advance(1)
        refusals.refused()
        assert len(warnings(caplog)) == 2 and "count=1001 " in warnings(caplog)[1]
        refusals.refused()
        refusals.flush()
        refusals.flush()  # nothing left: no line
    assert [w.split("count=")[1].split()[0] for w in warnings(caplog)] == ["1", "1001", "1"]


def test_deadlines_run_on_the_clock_and_stop_while_a_route_runs() -> None:
    clock = FakeClock()
    deadlines = Deadlines(clock, timeout=10.0)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.setblocking(False)
        deadlines.start(ours)
        clock.advance(9.9)
        assert deadlines.reap() == 0
        deadlines.stop(ours)  # a route runs: no deadline at all
        clock.advance(3600)
        assert deadlines.reap() == 0
        deadlines.start(ours)
        clock.advance(10)
        assert deadlines.reap() == 1
        assert deadlines.reap() == 0  # hung up once
        theirs.settimeout(5)
        assert theirs.recv(1) == b""


def test_reap_everything_and_forget() -> None:
    deadlines = Deadlines(FakeClock(), timeout=10.0)
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        deadlines.start(a)
        deadlines.start(c)
        deadlines.forget(c)
        assert deadlines.reap(everything=True) == 1
