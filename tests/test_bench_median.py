"""`python -m bench --runs N`: one table of each figure's median run."""

from __future__ import annotations

from bench.common import Row, median_rows


def _row(figure: str, value: float | None, measured: str, ok: bool | None = True) -> Row:
    return Row(figure, "base", "<= 2x", measured, ok, value)


def test_the_median_run_of_each_figure_is_shown_with_every_value() -> None:
    runs = [
        [_row("a", 3.0, "3x", False), _row("count", None, "7")],
        [_row("a", 1.0, "1x"), _row("count", None, "7")],
        [_row("a", 2.0, "2x"), _row("count", None, "8", False)],
    ]
    a, count = median_rows(runs)
    assert (a.measured, a.ok, a.value) == ("2x (median of 3: 3, 1, 2)", True, 2.0)
    assert (count.measured, count.ok) == ("7 | 7 | 8", False)


def test_one_run_is_shown_as_it_is() -> None:
    rows = [_row("a", 1.0, "1x")]
    assert median_rows([rows]) == rows


def test_a_figure_missing_from_a_run_is_shown_from_the_others() -> None:
    a, b = median_rows([[_row("a", 1.0, "1x")], [_row("a", 5.0, "5x"), _row("b", 2.0, "2x")]])
    assert a.measured == "1x (median of 2: 1, 5)"
    assert b.measured == "2x (median of 1: 2)"


def test_counts_given_as_integers_are_shown_as_integers() -> None:
    (row,) = median_rows([[_row("n", 22000, "22000")], [_row("n", 21999, "21999")]])
    assert row.measured == "21999 (median of 2: 22000, 21999)"
