"""Tests for svimaged.library.numbering: season = the month a recording started (in the
configured zone), episode = its place in that month, numbers of its own kept and skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from svimaged.library.numbering import Dated, number, season_of


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_month_and_order() -> None:
    recordings = [
        Dated("b", at("2026-11-20T10:00:00+00:00"), 0),
        Dated("a", at("2026-11-03T10:00:00+00:00"), 0),
        Dated("c", at("2026-12-01T00:30:00+00:00"), 0),
        Dated("d", None, at("2026-11-25T10:00:00+00:00")),  # no start known: its mtime
    ]
    assert number(recordings, UTC) == {
        "a": (202611, 1),
        "b": (202611, 2),
        "d": (202611, 3),
        "c": (202612, 1),
    }


def test_the_zone_decides_the_month() -> None:
    late = Dated("x", at("2026-11-30T23:30:00+00:00"), 0)
    assert number([late], UTC) == {"x": (202611, 1)}
    assert number([late], ZoneInfo("Europe/Berlin")) == {"x": (202612, 1)}
    assert season_of(at("2026-12-01T02:00:00+00:00"), ZoneInfo("America/New_York")) == 202611


def test_own_numbers_are_kept_and_skipped() -> None:
    recordings = [
        Dated("lsdvr", at("2026-11-05T10:00:00+00:00"), 0, own=(202611, 2)),
        Dated("one", at("2026-11-01T10:00:00+00:00"), 0),
        Dated("two", at("2026-11-09T10:00:00+00:00"), 0),
    ]
    assert number(recordings, UTC) == {"one": (202611, 1), "two": (202611, 3)}


def test_same_start_is_ordered_by_path() -> None:
    moment = at("2026-11-01T10:00:00+00:00")
    found = number([Dated("z", moment, 0), Dated("a", moment, 0)], UTC)
    assert found == {"a": (202611, 1), "z": (202611, 2)}


@given(
    st.lists(
        st.tuples(st.integers(1_700_000_000, 1_900_000_000), st.booleans()),
        max_size=40,
    )
)
def test_numbers_are_unique_per_season_and_follow_time(items: list[tuple[int, bool]]) -> None:
    recordings = [
        Dated(f"r{i:03d}", float(t), 0, own=(season_of(t, UTC), 1) if mine else None)
        for i, (t, mine) in enumerate(items)
    ]
    found = number(recordings, UTC)
    taken = {r.own for r in recordings if r.own}
    pairs = list(found.values())
    assert len(pairs) == len(set(pairs)) and not set(pairs) & taken
    numbered = [r for r in recordings if r.rel in found]
    for a in numbered:
        for b in numbered:
            same_season = found[a.rel][0] == found[b.rel][0]
            if same_season and (a.when, a.rel) < (b.when, b.rel):
                assert found[a.rel][1] < found[b.rel][1]
