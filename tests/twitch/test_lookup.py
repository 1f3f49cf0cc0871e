"""Tests for svimaged.twitch.lookup.TwitchLookup against the fake Twitch: batching, the state as a
cache (positive and negative), no-credentials accounting and Helix failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from svimaged.core.clock import FakeClock
from svimaged.demo.fake_twitch import (
    ALICE_ID,
    BOB_ID,
    JUST_CHATTING_ID,
    MINECRAFT_ID,
    NO_ART_GAME_ID,
    SAM_ID,
    FakeTwitch,
)
from svimaged.state import State
from svimaged.twitch.helix import HelixClient
from svimaged.twitch.lookup import TwitchLookup

RECHECK = 3600.0


@pytest.fixture
def helix(fake_twitch: FakeTwitch, fake_clock: FakeClock) -> Iterator[HelixClient]:
    client = HelixClient(
        client_id=fake_twitch.client_id,
        client_secret=fake_twitch.client_secret,
        api_base=fake_twitch.api_base,
        auth_url=fake_twitch.auth_url,
        clock=fake_clock,
        timeout=5.0,
    )
    yield client
    client.close()


@pytest.fixture
def lookup(helix: HelixClient, state: State, fake_clock: FakeClock) -> TwitchLookup:
    return TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)


def helix_hits(fake: FakeTwitch) -> int:
    return sum(fake.hits[route] for route in ("users", "games", "videos", "token"))


# -- users -------------------------------------------------------------------------------


def test_250_unknown_logins_cost_three_calls(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock
) -> None:
    logins = [f"ghost{i:03d}" for i in range(250)]
    lookup.users(logins=logins)
    assert fake_twitch.hits["users"] == 3
    assert all(state.twitch.missing_since("login", login) == fake_clock.now for login in logins)
    assert lookup.counts.errors == 0


def test_known_logins_are_stored_and_not_asked_again(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock
) -> None:
    lookup.users(logins=["Alice_Plays", "bob_speedruns", "ghost"])
    assert fake_twitch.hits["users"] == 1
    alice = lookup.user(login="alice_plays", user_id=None)
    assert alice is not None and alice.id == ALICE_ID and alice.display_name == "Alice Plays"
    assert lookup.user(login=None, user_id=BOB_ID) is not None
    assert state.twitch.missing_since("login", "alice_plays") is None
    assert state.twitch.missing_since("login", "ghost") is not None
    fake_clock.advance(RECHECK - 1)
    lookup.users(logins=["alice_plays", "BOB_SPEEDRUNS", "ghost"])
    assert fake_twitch.hits["users"] == 1


def test_stale_users_are_asked_again(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock
) -> None:
    lookup.users(logins=["alice_plays"])
    fake_clock.advance(RECHECK)
    lookup.users(logins=["alice_plays"])
    assert fake_twitch.hits["users"] == 2
    assert state.twitch.logins_fetched_at(["alice_plays"]) == {"alice_plays": fake_clock.now}


def test_known_users_answer_as_user_does(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State
) -> None:
    """`known_users` (the pass's bulk form) gives what `user` gives for each pair: by id
    first, by login when the id is unknown or missing."""
    lookup.users(logins=["alice_plays"], ids=[BOB_ID])
    alice = lookup.user(login="alice_plays", user_id=None)
    assert alice is not None
    pairs: list[tuple[str | None, str | None]] = [
        (None, "alice_plays"),
        (None, "ALICE_PLAYS"),
        (BOB_ID, None),
        (BOB_ID, "alice_plays"),  # the id wins
        ("999999", "alice_plays"),  # an unknown id: the login
        ("999999", None),
        (None, "nobody"),
        (None, None),
    ]
    assert lookup.known_users(pairs) == [lookup.user(user_id=u, login=n) for u, n in pairs]
    assert lookup.known_users(pairs)[3] == lookup.user(login=None, user_id=BOB_ID) != alice


def test_unknown_login_negative_cache_expires(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock
) -> None:
    lookup.users(logins=["ghost"])
    first = state.twitch.missing_since("login", "ghost")
    fake_clock.advance(RECHECK - 1)
    lookup.users(logins=["ghost"])
    assert fake_twitch.hits["users"] == 1
    fake_clock.advance(1)
    lookup.users(logins=["ghost"])
    assert fake_twitch.hits["users"] == 2
    assert state.twitch.missing_since("login", "ghost") == fake_clock.now != first


def test_login_that_appears_later_is_found(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock
) -> None:
    lookup.users(logins=["newbie"])
    fake_twitch.add_user("10000099", "newbie", "Newbie")
    fake_clock.advance(RECHECK)
    lookup.users(logins=["newbie"])
    found = lookup.user(login="newbie", user_id=None)
    assert found is not None and found.id == "10000099"
    assert state.twitch.missing_since("login", "newbie") is None


def test_users_by_id_batched_with_logins(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, helix: HelixClient
) -> None:
    lookup.users(ids=[ALICE_ID, BOB_ID], logins=["chloe_cafe"])
    assert fake_twitch.hits["users"] == 1 and helix.calls == 1
    lookup.users(ids=[ALICE_ID, BOB_ID], logins=["chloe_cafe"])
    assert fake_twitch.hits["users"] == 1


def test_unknown_user_id_is_negatively_cached(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, fake_clock: FakeClock
) -> None:
    lookup.users(ids=["99999999"])
    lookup.users(ids=["99999999"])
    assert fake_twitch.hits["users"] == 1
    fake_clock.advance(RECHECK)
    lookup.users(ids=["99999999"])
    assert fake_twitch.hits["users"] == 2


@pytest.mark.parametrize("bad", ["abc", "../1", "1 2", "", "12\x00"])
def test_non_numeric_ids_are_never_sent(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, bad: str
) -> None:
    lookup.users(ids=[bad])
    assert helix_hits(fake_twitch) == 0
    assert lookup.counts.errors == 0


def test_helix_500_is_counted_not_raised_and_not_cached(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State
) -> None:
    fake_twitch.fail("users", 500, times=2)  # the client retries a 5xx once
    lookup.users(logins=["alice_plays", "ghost"])
    assert lookup.counts.errors == 1
    assert state.twitch.missing_since("login", "ghost") is None  # a failure is not "unknown"
    assert lookup.user(login="alice_plays", user_id=None) is None
    lookup.users(logins=["alice_plays", "ghost"])
    assert lookup.user(login="alice_plays", user_id=None) is not None
    assert lookup.counts.errors == 1


def test_token_failure_is_counted(lookup: TwitchLookup, fake_twitch: FakeTwitch) -> None:
    fake_twitch.fail("token", 500)
    lookup.users(logins=["alice_plays"])
    lookup.games(["Just Chatting"])
    assert lookup.counts.errors == 1  # the games call gets a fresh token
    assert lookup.game("Just Chatting") is not None


# -- no credentials ----------------------------------------------------------------------


@pytest.mark.parametrize("configured", [False, True])
def test_without_credentials_nothing_is_sent(
    fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock, configured: bool
) -> None:
    helix = (
        HelixClient(
            client_id="",
            client_secret="  ",
            api_base=fake_twitch.api_base,
            auth_url=fake_twitch.auth_url,
            clock=fake_clock,
        )
        if configured
        else None
    )
    lookup = TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)
    assert lookup.online is False
    lookup.users(logins=["alice_plays", "ghost"], ids=[BOB_ID])
    lookup.games(["Just Chatting"])
    assert lookup.stream_thumbnail(ALICE_ID, "40000000001") is None
    assert lookup.counts.needs_credentials == {
        "user:alice_plays",
        "user:ghost",
        f"user:{BOB_ID}",
        "category:Just Chatting",
        f"video:{ALICE_ID}/40000000001",
    }
    assert lookup.counts.errors == 0
    assert helix_hits(fake_twitch) == 0
    assert state.twitch.missing_since("login", "ghost") is None


def test_without_credentials_known_users_are_not_counted(
    state: State, fake_clock: FakeClock, lookup: TwitchLookup
) -> None:
    lookup.users(logins=["alice_plays"])
    offline = TwitchLookup(None, state, fake_clock, recheck_after=RECHECK)
    offline.users(logins=["alice_plays"])
    assert offline.counts.needs_credentials == set()
    assert offline.user(login="alice_plays", user_id=None) is not None


# -- games -------------------------------------------------------------------------------


def test_games_batched_and_cached(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, state: State, fake_clock: FakeClock
) -> None:
    names = ["Just Chatting", "Obscure Jam Game"] + [f"Unknown Game {i}" for i in range(148)]
    lookup.games(names)
    assert fake_twitch.hits["games"] == 2
    chatting = lookup.game("just chatting")
    assert chatting is not None and chatting.id == JUST_CHATTING_ID
    assert chatting.box_art_url is not None and chatting.box_art_url.endswith("-285x380.jpg")
    obscure = lookup.game("Obscure Jam Game")
    assert obscure is not None and obscure.id == NO_ART_GAME_ID and obscure.box_art_url is None
    assert state.twitch.missing_since("game", "unknown game 7") == fake_clock.now
    lookup.games(names)
    assert fake_twitch.hits["games"] == 2
    fake_clock.advance(RECHECK)
    lookup.games(["Just Chatting", "Unknown Game 7"])
    assert fake_twitch.hits["games"] == 3


def test_games_helix_failure_counted(lookup: TwitchLookup, fake_twitch: FakeTwitch) -> None:
    fake_twitch.fail("games", 503, times=2)
    lookup.games(["Just Chatting"])
    assert lookup.counts.errors == 1
    assert lookup.game("Just Chatting") is None


# -- stream thumbnails -------------------------------------------------------------------


def test_stream_thumbnail_asks_once_per_user(lookup: TwitchLookup, fake_twitch: FakeTwitch) -> None:
    first = lookup.stream_thumbnail(ALICE_ID, "40000000001")
    second = lookup.stream_thumbnail(ALICE_ID, "40000000002")
    assert first is not None and first.endswith("thumb0-1280x720.jpg")
    assert second is not None and second != first
    assert fake_twitch.hits["videos"] == 1
    assert lookup.stream_thumbnail(BOB_ID, "40000000004") is not None
    assert fake_twitch.hits["videos"] == 2


def test_missing_stream_is_cached_in_state(
    lookup: TwitchLookup,
    fake_twitch: FakeTwitch,
    helix: HelixClient,
    state: State,
    fake_clock: FakeClock,
) -> None:
    assert lookup.stream_thumbnail(ALICE_ID, "49999999999") is None
    assert state.twitch.missing_since("video", f"{ALICE_ID}/49999999999") == fake_clock.now
    later = TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)
    assert later.stream_thumbnail(ALICE_ID, "49999999999") is None
    assert fake_twitch.hits["videos"] == 1
    assert later.stream_thumbnail(ALICE_ID, "40000000003") is not None  # a new pass asks
    assert fake_twitch.hits["videos"] == 2
    fake_clock.advance(RECHECK)
    again = TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)
    assert again.stream_thumbnail(ALICE_ID, "49999999999") is None
    assert fake_twitch.hits["videos"] == 3


def test_videos_failure_asked_once_per_pass_and_not_cached(
    lookup: TwitchLookup,
    fake_twitch: FakeTwitch,
    helix: HelixClient,
    state: State,
    fake_clock: FakeClock,
) -> None:
    fake_twitch.fail("videos", 500, times=2)
    assert lookup.stream_thumbnail(ALICE_ID, "40000000001") is None
    assert lookup.stream_thumbnail(ALICE_ID, "40000000002") is None
    assert fake_twitch.hits["videos"] == 2  # one logical call, retried once by the client
    assert lookup.counts.errors == 1
    assert state.twitch.missing_since("video", f"{ALICE_ID}/40000000001") is None
    later = TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)
    assert later.stream_thumbnail(ALICE_ID, "40000000001") is not None


def test_stream_thumbnail_non_numeric_user_sends_nothing(
    lookup: TwitchLookup, fake_twitch: FakeTwitch
) -> None:
    assert lookup.stream_thumbnail("../etc", "1") is None
    assert helix_hits(fake_twitch) == 0


# -- matching archive videos by id and by time --------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_video_at_finds_the_stream_live_then_and_the_closest_start(
    lookup: TwitchLookup, fake_twitch: FakeTwitch
) -> None:
    # SAM's sample videos: 2026-11-28T19:02:04Z for 2h46m40s, 2026-12-02T20:00:01Z for 1h23m45s
    found = lookup.video_at(SAM_ID, _at("2026-11-28T19:02:24+00:00"))  # 20 s after the start
    assert found is not None and found.stream_id == "40000000031"
    assert lookup.video_at(SAM_ID, _at("2026-11-28T21:30:00+00:00")) == found  # mid-stream
    assert lookup.video_at(SAM_ID, _at("2026-11-28T18:50:00+00:00")) == found  # 12 min early
    assert lookup.video_at(SAM_ID, _at("2026-12-02T20:00:17+00:00")).stream_id == "40000000032"  # type: ignore[union-attr]
    assert fake_twitch.hits["videos"] == 1  # one listing per user and pass


def test_video_at_without_a_match_is_not_asked_again(
    lookup: TwitchLookup,
    fake_twitch: FakeTwitch,
    helix: HelixClient,
    state: State,
    fake_clock: FakeClock,
) -> None:
    moment = _at("2026-11-28T12:00:00+00:00")  # hours before the stream, after nothing
    assert lookup.video_at(SAM_ID, moment) is None
    assert lookup.video_at(SAM_ID, _at("2026-11-28T18:40:00+00:00")) is None  # 22 min early
    later = TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)
    assert later.video_at(SAM_ID, moment) is None
    assert fake_twitch.hits["videos"] == 1


def test_video_by_id_and_a_highlights_id_is_remembered_as_missing(
    lookup: TwitchLookup, fake_twitch: FakeTwitch, helix: HelixClient, state: State,
    fake_clock: FakeClock,
) -> None:  # fmt: skip
    found = lookup.video_by_id(BOB_ID, "2000000004")
    assert found is not None and found.stream_id == "40000000004" and found.duration == 11313
    assert lookup.video_by_id(BOB_ID, "2999999999") is None  # not an archive Twitch lists
    assert lookup.video_by_id(BOB_ID, "../x") is None
    later = TwitchLookup(helix, state, fake_clock, recheck_after=RECHECK)
    assert later.video_by_id(BOB_ID, "2999999999") is None
    assert fake_twitch.hits["videos"] == 1


def test_without_credentials_time_matching_is_counted_not_sent(
    state: State, fake_clock: FakeClock, fake_twitch: FakeTwitch
) -> None:
    offline = TwitchLookup(None, state, fake_clock, recheck_after=RECHECK)
    assert offline.video_at(SAM_ID, _at("2026-11-28T19:02:24+00:00")) is None
    assert offline.counts.needs_credentials and helix_hits(fake_twitch) == 0


def test_games_by_id_where_a_source_gave_no_name(
    lookup: TwitchLookup, fake_twitch: FakeTwitch
) -> None:
    lookup.games([], [MINECRAFT_ID, "abc"])
    assert lookup.game_name(MINECRAFT_ID) == "Minecraft"
    lookup.games([], [MINECRAFT_ID])  # known now: not asked again
    lookup.games([], ["1777777777"])  # Twitch has none: remembered
    lookup.games([], ["1777777777"])
    assert fake_twitch.hits["games"] == 2
    assert lookup.game_name("1777777777") is None
