"""Tests for svimaged.images.retry.retry_delay: doubling from `initial`, capped, 404 at the cap."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svimaged.images.retry import retry_delay

INITIAL, MAXIMUM = 60.0, 86_400.0


def test_doubles_per_failure() -> None:
    delays = [retry_delay(n, None, INITIAL, MAXIMUM) for n in range(1, 9)]
    assert delays == [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3840.0, 7680.0]


def test_capped_at_maximum() -> None:
    assert retry_delay(11, 500, INITIAL, MAXIMUM) == 61_440.0
    assert retry_delay(12, 500, INITIAL, MAXIMUM) == MAXIMUM
    assert retry_delay(40, None, INITIAL, MAXIMUM) == MAXIMUM


@pytest.mark.parametrize("failures", [1, 2, 7])
def test_404_waits_the_cap_at_once(failures: int) -> None:
    assert retry_delay(failures, 404, INITIAL, MAXIMUM) == MAXIMUM


@pytest.mark.parametrize("status", [None, 400, 403, 410, 429, 500, 503])
def test_other_statuses_back_off_normally(status: int | None) -> None:
    assert retry_delay(1, status, INITIAL, MAXIMUM) == INITIAL
    assert retry_delay(2, status, INITIAL, MAXIMUM) == 2 * INITIAL


@pytest.mark.parametrize("failures", [0, -5])
def test_no_failure_yet_means_initial(failures: int) -> None:
    assert retry_delay(failures, None, INITIAL, MAXIMUM) == INITIAL


@pytest.mark.parametrize("failures", [63, 64, 65, 1024, 10**6, 10**18])
def test_huge_failure_counts_do_not_overflow(failures: int) -> None:
    delay = retry_delay(failures, None, INITIAL, MAXIMUM)
    assert delay == MAXIMUM
    assert isinstance(delay, float)


def test_integer_config_values_give_floats() -> None:
    assert retry_delay(3, None, 60, 86400) == 240.0
    assert isinstance(retry_delay(3, None, 60, 86400), float)


@given(
    failures=st.integers(min_value=-10, max_value=10**9),
    initial=st.floats(min_value=0.001, max_value=1e6),
    maximum=st.floats(min_value=0.001, max_value=1e9),
)
def test_always_finite_and_within_bounds(failures: int, initial: float, maximum: float) -> None:
    delay = retry_delay(failures, None, initial, maximum)
    assert math.isfinite(delay)
    assert delay <= maximum
    assert delay >= min(initial, maximum)


@given(failures=st.integers(min_value=1, max_value=200))
def test_monotonic_in_failures(failures: int) -> None:
    assert retry_delay(failures + 1, None, INITIAL, MAXIMUM) >= retry_delay(
        failures, None, INITIAL, MAXIMUM
    )
