"""RefusalLog on a fake clock: no sleeping."""

from __future__ import annotations

import logging

import pytest

from svimaged.control.connections import RefusalLog
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
