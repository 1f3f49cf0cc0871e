"""Tests for svimaged.library.names: metadata from file and folder names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svimaged.core.model import RecordingMeta
from svimaged.library.names import LOGIN_RE, normalize_login, parse_recording_name


def test_streamvault_name() -> None:
    meta = parse_recording_name("Alice_Plays - S202611E03 - Speedrun - Any%", "Alice Plays")
    assert meta == RecordingMeta(
        login="alice_plays",
        display_name="Alice Plays",
        title="Speedrun - Any%",
        season=202611,
        episode=3,
    )


@pytest.mark.parametrize(
    ("stem", "season", "episode"),
    [
        ("bob - S202611E03 - x", 202611, 3),
        ("bob - S202612E100 - x", 202612, 100),
        ("bob - S202601E00 - x", 202601, 0),
        ("bob - s202611e07 - x", 202611, 7),
    ],
)
def test_season_episode_exactly_as_named(stem: str, season: int, episode: int) -> None:
    meta = parse_recording_name(stem, "Bob")
    assert (meta.season, meta.episode, meta.login) == (season, episode, "bob")


def test_without_title() -> None:
    meta = parse_recording_name("bob - S202611E03", "Bob")
    assert (meta.login, meta.season, meta.episode, meta.title) == ("bob", 202611, 3, None)


def test_only_season_episode_part() -> None:
    meta = parse_recording_name("S202611E03", "carol")
    assert (meta.login, meta.season, meta.episode, meta.title) == ("carol", 202611, 3, None)


def test_season_episode_inside_other_text() -> None:
    meta = parse_recording_name("My Show - S202611E04 - The Title", "Some Folder")
    assert (meta.season, meta.episode, meta.title) == (202611, 4, "The Title")
    assert meta.login is None
    meta = parse_recording_name("night stream S202611E05", "dave")
    assert (meta.season, meta.episode, meta.title, meta.login) == (
        202611,
        5,
        "night stream",
        "dave",
    )


@pytest.mark.parametrize("stem", ["XS202611E03", "S202611E03X1", "S2026111E03 x", "v123456789"])
def test_glued_or_too_long_is_not_a_season(stem: str) -> None:
    meta = parse_recording_name(stem, "Bob")
    assert (meta.season, meta.episode) == (None, None)


def test_no_pattern_title_is_stem_and_login_from_folder() -> None:
    meta = parse_recording_name("  v2233445566  ", "bob")
    assert meta == RecordingMeta(login="bob", display_name="bob", title="v2233445566")


def test_folder_login_only_when_valid() -> None:
    assert parse_recording_name("x", "Streamer Name").login is None
    assert parse_recording_name("x", "BOB").login == "bob"
    assert parse_recording_name("x", "a" * 26).login is None
    assert parse_recording_name("x", "").display_name is None


def test_name_login_beats_folder_login() -> None:
    assert parse_recording_name("alice - S202611E03 - t", "bob").login == "alice"


def test_invalid_name_login_falls_back_to_folder() -> None:
    meta = parse_recording_name("al!ce - S202611E03 - t", "carol")
    assert (meta.login, meta.season, meta.title) == ("carol", 202611, "t")


@pytest.mark.parametrize(
    "digits", ["\u0662\u0660\u0662\u0666\u0661\u0661", "\uff12\uff10\uff12\uff16\uff11\uff11"]
)
def test_non_ascii_digits_are_not_a_season(digits: str) -> None:
    meta = parse_recording_name(f"bob - S{digits}E03 - t", "bob")
    assert meta.season is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Alice", "alice"), (" bob ", "bob"), ("a_1", "a_1"), ("", None), ("a b", None), (None, None)],
)
def test_normalize_login(value: str | None, expected: str | None) -> None:
    assert normalize_login(value) == expected


def test_newline_in_stem() -> None:
    meta = parse_recording_name("bob - S202611E03 - two\nlines", "x")
    assert (meta.login, meta.title) == ("bob", "two\nlines")
    assert parse_recording_name("bo\nb - S202611E03 - t", "Not A Login").login is None


@settings(max_examples=500, deadline=None)
@given(st.text(), st.text())
def test_arbitrary_text_never_raises_and_logins_are_valid(stem: str, folder: str) -> None:
    meta = parse_recording_name(stem, folder)
    assert meta.login is None or LOGIN_RE.fullmatch(meta.login)
    assert meta.season is None or meta.season >= 0
    assert meta.title is None or meta.title == meta.title.strip()


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(LOGIN_RE, fullmatch=True),
    st.integers(0, 999999),
    st.integers(0, 9999),
    st.text(max_size=40),
)
def test_roundtrip_streamvault_names(login: str, season: int, episode: int, title: str) -> None:
    stem = f"{login} - S{season:06d}E{episode:02d} - {title}"
    meta = parse_recording_name(stem, "Folder Name")
    assert (meta.login, meta.season, meta.episode) == (login, season, episode)
    assert meta.title == (title.strip() or None)


def test_streamlink_recorder_name_in_the_configured_zone() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    stem = "Sam_Records - 2026-11-28 20h02m24s - Sams speedrun  chill  discord 3"
    meta = parse_recording_name(stem, "sam_records", tz=ZoneInfo("Europe/Berlin"))
    assert (meta.login, meta.title) == ("sam_records", "Sams speedrun  chill  discord 3")
    assert meta.started_at == datetime(2026, 11, 28, 19, 2, 24, tzinfo=UTC)
    assert parse_recording_name(stem, "x", tz=UTC).started_at == datetime(
        2026, 11, 28, 20, 2, 24, tzinfo=UTC
    )


def test_a_date_and_time_anywhere_is_a_start_and_z_means_utc() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    lsdvr = parse_recording_name("liam_dvr_2026-11-28T18_02_11Z_40000000041", "liam_dvr", tz=berlin)
    assert lsdvr.started_at == datetime(2026, 11, 28, 18, 2, 11, tzinfo=UTC)
    compact = parse_recording_name("rec_20261128_190224", "x", tz=UTC)
    assert compact.started_at == datetime(2026, 11, 28, 19, 2, 24, tzinfo=UTC)
    assert parse_recording_name("rec_20261399_190224", "x").started_at is None  # no such day
    assert parse_recording_name("2637788990_319876543210", "x").started_at is None


def test_twitch_archiver_folder_names() -> None:
    from datetime import UTC, datetime

    from svimaged.library.names import parse_archive_folder

    meta = parse_archive_folder("2026-11-16_19-30-07 - Tara_s night - with - dashes - 2000000021")
    assert (meta.title, meta.local_id) == ("Tara_s night - with - dashes", "2000000021")
    assert meta.started_at == datetime(2026, 11, 16, 19, 30, 7, tzinfo=UTC)
    assert parse_archive_folder("2026-11-18_21-00-05 - x - STREAM_ONLY").local_id is None
    assert parse_archive_folder("Season 2026-11").title is None


def test_season_folder_names() -> None:
    from svimaged.library.names import is_season_folder

    for name in ("Season 2026-11", "season 3", "Staffel 2", "S3", "2026-11", "202611", "Specials"):
        assert is_season_folder(name), name
    for name in (
        "2026-11-28-2637788990-archive-3c1e6a52-cd4b-11f1-8f0e-0242ac120004",
        "alice_plays_2026-11-28T18_02_11Z_319876543210",
        "2026-11-16_19-30-07 - t - 3",
        "Seasonal",
        "clips",
    ):
        assert not is_season_folder(name), name
