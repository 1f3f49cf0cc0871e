"""A real Kodi 20 scans a library svimaged processed; the tests assert what Kodi shows.

The library (`library.py`) gets one svimaged pass against the fake Twitch; one Kodi (`kodi/`)
scans it as a TV-shows source with the "Local information only" scraper. The tests read what
Kodi lists over JSON-RPC (shows, seasons, episodes and their art), check that every art URL
Kodi holds unwraps to a picture file and that Kodi's `/image/` endpoint serves it, and read
Kodi's `seasons` table, which keeps rows JSON-RPC cannot show (seasons without an episode).

Per-show and per-episode checks are parametrized, so an item nothing can give a picture is a
strict xfail of exactly that item (`GAPS`); every other item must pass. Should one start to
pass, it XPASSes and fails: remove it from `GAPS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from tests.integration import library
from tests.integration.kodi import KodiHarness, LibrarySnapshot
from tests.integration.library import BuiltLibrary

#: What no program could show: the fake Twitch has no picture at all for Eve (real Twitch
#: gives every user without an avatar its default one) and her one recording has no
#: category, no artwork and no real video to grab a frame from.
NOTHING_TO_SHOW = (
    "eve_quiet: Twitch has no picture for this user and the recording has no category, no "
    "artwork and no real video: there is no picture anywhere to show"
)
GAPS: dict[str, dict[str, str]] = {
    "show poster": {"eve_quiet": NOTHING_TO_SHOW},
    "season poster": {"eve_quiet": NOTHING_TO_SHOW},
    "episode thumb": {"eve_quiet/eve_quiet - S202611E01 - Quiet stream.flv": NOTHING_TO_SHOW},
}

#: Shows with at least one finished recording (Dana's only recording is still being written).
SHOWS_WITH_EPISODES = tuple(f for f in library.SHOW_FOLDERS if f != "dana_draws")


def cases(kind: str, items: Iterable[str]) -> list[Any]:
    """`items` as pytest params; those in GAPS[kind] are strict xfails with the gap's reason."""
    gaps = GAPS.get(kind, {})
    return [
        pytest.param(item, marks=pytest.mark.xfail(strict=True, reason=gaps[item]))
        if item in gaps
        else item
        for item in items
    ]


def explain(kodi: KodiHarness, message: str) -> str:
    """A failure message with Kodi's log attached."""
    return f"{message}\n{kodi.log_tail(40)}"


def art_problem(shown: LibrarySnapshot, item: dict[str, Any], key: str) -> str:
    """Why Kodi cannot show `item`'s `key` art, or '' when it can: the art exists, Kodi
    serves it, and a picture from svimaged's cache is a JPEG."""
    url = item.get("art", {}).get(key)
    if not url:
        return f"no {key} art"
    check = shown.check(url)
    if not check.ok:
        return f"{check.target}: {check.reason}"
    if check.target.startswith(f"{shown.root / '.images'}/") and check.format != "JPEG":
        return f"{check.target}: a {check.format} in svimaged's cache, not a JPEG"
    return ""


def not_loading(
    shown: LibrarySnapshot, items: dict[str, dict[str, Any]], key: str
) -> dict[str, str]:
    """{name: why} for the items whose `key` art Kodi cannot show."""
    found = {name: art_problem(shown, item, key) for name, item in items.items()}
    return {name: why for name, why in sorted(found.items()) if why}


def tally(shown: LibrarySnapshot, items: dict[str, dict[str, Any]], key: str) -> str:
    """'N of M have a <key> that loads; not: ...', for failure messages."""
    bad = not_loading(shown, items, key)
    lines = "".join(f"\n  {name}: {why}" for name, why in bad.items())
    return f"{len(items) - len(bad)} of {len(items)} have a {key} that loads; not:{lines}"


# --------------------------------------------------------------------------- the library


def test_the_library_table_matches_the_tree(built_library: BuiltLibrary) -> None:
    """library.py's hand-written tables are what `library.build` wrote, and the pass
    treated each kind as expected (the broken NFO is the one error)."""
    assert library.videos_on_disk(built_library.root) == set(library.ALL_VIDEOS)
    summary = built_library.summary
    assert (summary.pending, summary.errors, summary.failed) == (len(library.IN_PROGRESS), 1, 0)
    for video in library.FINISHED_WITH_NFO:
        assert (built_library.root / video).with_suffix(".nfo").is_file(), video
    for video in library.IN_PROGRESS:
        assert not (built_library.root / video).with_suffix(".nfo").exists(), video


# --------------------------------------------------------------------------------- shows


def test_kodi_lists_every_streamer_folder_as_one_show(
    kodi: KodiHarness, shown: LibrarySnapshot
) -> None:
    expected = set(library.SHOW_FOLDERS)
    listed = set(shown.shows)
    assert listed == expected, explain(
        kodi,
        f"Kodi lists {len(listed)} shows, expected {len(expected)}; "
        f"missing {sorted(expected - listed)}, extra {sorted(listed - expected)}",
    )


@pytest.mark.parametrize("folder", cases("show poster", library.SHOW_FOLDERS))
def test_show_poster_loads(kodi: KodiHarness, shown: LibrarySnapshot, folder: str) -> None:
    show = shown.shows.get(folder)
    assert show is not None, explain(kodi, f"Kodi does not list {folder!r}")
    problem = art_problem(shown, show, "poster")
    assert not problem, explain(
        kodi, f"{folder}: {problem}\nshows: {tally(shown, shown.shows, 'poster')}"
    )


@pytest.mark.parametrize("folder", cases("season poster", SHOWS_WITH_EPISODES))
def test_season_posters_load(kodi: KodiHarness, shown: LibrarySnapshot, folder: str) -> None:
    seasons = {f"{folder} season {s['season']}": s for s in shown.seasons.get(folder, [])}
    assert seasons, explain(kodi, f"Kodi lists no season of {folder!r}")
    assert not not_loading(shown, seasons, "poster"), explain(
        kodi, f"seasons: {tally(shown, seasons, 'poster')}"
    )


def test_users_own_elements_reach_kodi(kodi: KodiHarness, shown: LibrarySnapshot) -> None:
    """What the user wrote (merged NFOs) and non-ASCII names arrive in Kodi intact."""
    chloe = shown.shows.get("Chloé Café", {})
    assert (chloe.get("title"), chloe.get("tag")) == ("Chloé Café", ["my favourite"]), explain(
        kodi, f"Chloé's show as Kodi lists it: {chloe}"
    )
    ranked = shown.episodes.get(library.ALICE_NOV + "2 - Ranked grind.mp4", {})
    assert (ranked.get("plot"), ranked.get("userrating")) == (
        "Climbing to gold & beyond.",
        9,
    ), explain(kodi, f"the merged StreamVault NFO as Kodi lists it: {ranked}")
    unicode = shown.episodes.get("Chloé Café/chloe_cafe - S202611E02 - Café crème ☕ 日本語.ts", {})
    assert unicode.get("title") == "Café crème ☕ 日本語", explain(kodi, f"listed: {unicode}")


# ------------------------------------------------------------------------------ episodes


def test_kodi_lists_each_finished_recording_with_a_readable_nfo(
    kodi: KodiHarness, shown: LibrarySnapshot
) -> None:
    """Every finished recording is an episode, the locked one too. Kodi's local-only scraper
    drops a video without a readable NFO: the one whose NFO does not parse, and those still
    being written (svimaged writes their NFO once they are finished)."""
    expected = {*library.FINISHED_WITH_NFO, library.LOCKED}
    listed = set(shown.episodes)
    assert listed == expected, explain(
        kodi,
        f"Kodi lists {len(listed)} episodes, expected {len(expected)}; "
        f"missing {sorted(expected - listed)}, extra {sorted(listed - expected)}",
    )


@pytest.mark.parametrize("video", cases("episode thumb", library.FINISHED_WITH_NFO))
def test_episode_thumb_loads(kodi: KodiHarness, shown: LibrarySnapshot, video: str) -> None:
    """Every finished episode has a thumb Kodi can show; the locked and the broken NFO are
    the user's and are checked below."""
    episode = shown.episodes.get(video)
    assert episode is not None, explain(kodi, f"Kodi does not list {video!r}")
    problem = art_problem(shown, episode, "thumb")
    finished = {v: shown.episodes[v] for v in library.FINISHED_WITH_NFO if v in shown.episodes}
    assert not problem, explain(
        kodi, f"{video}: {problem}\nepisodes: {tally(shown, finished, 'thumb')}"
    )


def test_locked_nfo_is_shown_as_the_user_wrote_it(
    kodi: KodiHarness, shown: LibrarySnapshot, built_library: BuiltLibrary
) -> None:
    nfo = (built_library.root / library.LOCKED).with_suffix(".nfo")
    assert nfo.read_text(encoding="utf-8") == library.LOCKED_NFO
    episode = shown.episodes.get(library.LOCKED, {})
    assert episode.get("title") == "My own title", explain(kodi, f"listed: {episode}")
    assert "thumb" not in episode.get("art", {}), explain(kodi, f"art: {episode.get('art')}")


def test_nfo_that_does_not_parse_keeps_its_episode_out_of_kodi(
    kodi: KodiHarness, shown: LibrarySnapshot, built_library: BuiltLibrary
) -> None:
    nfo = (built_library.root / library.BROKEN).with_suffix(".nfo")
    assert nfo.read_text(encoding="utf-8") == library.BROKEN_NFO
    assert library.BROKEN not in shown.episodes, explain(kodi, "Kodi lists the broken one")


def test_recordings_still_being_written_are_not_episodes_with_art(
    kodi: KodiHarness, shown: LibrarySnapshot
) -> None:
    with_art = {
        video: shown.episodes[video].get("art", {})
        for video in library.IN_PROGRESS
        if video in shown.episodes and "thumb" in shown.episodes[video].get("art", {})
    }
    assert not with_art, explain(kodi, f"recordings still being written, with art: {with_art}")


# ------------------------------------------------------------------------------- seasons


def real_rows(shown: LibrarySnapshot, folder: str) -> list[tuple[int, int]]:
    """(season, episodes) of the show's rows in Kodi's seasons table, without the two rows
    Kodi 20.1 adds to every show: -1 ("All seasons") and an episode-less 0 (specials)."""
    return [
        (row.season, row.episodes)
        for row in shown.season_rows.get(folder, [])
        if row.season > 0 or (row.season == 0 and row.episodes > 0)
    ]


def brief(values: list[Any], head: int = 8, tail: int = 4) -> str:
    """'a b c ... y z (N)': a list that may hold thousands of season numbers, shortened."""
    if not values:
        return "none"
    words = [str(v) for v in values]
    if len(words) > head + tail:
        words = [*words[:head], "...", *words[-tail:]]
    return f"{' '.join(words)} ({len(values)})"


def season_table(shown: LibrarySnapshot) -> str:
    """Every show's season rows as 'season:episodes', for failure messages."""
    return "; ".join(
        f"{folder}: " + brief([f"{r.season}:{r.episodes}" for r in rows])
        for folder, rows in sorted(shown.season_rows.items())
    )


@pytest.mark.parametrize("folder", cases("season rows", library.SHOW_FOLDERS))
def test_no_empty_season_rows(kodi: KodiHarness, shown: LibrarySnapshot, folder: str) -> None:
    assert folder in shown.season_rows, explain(kodi, f"no season rows for {folder!r}")
    odd = [r.season for r in shown.season_rows[folder] if r.season < -1]
    empty = [season for season, episodes in real_rows(shown, folder) if episodes == 0]
    listed_empty = [s["season"] for s in shown.seasons.get(folder, []) if s["episode"] == 0]
    assert not (odd or empty or listed_empty), explain(
        kodi,
        f"{folder}: season rows without an episode: {brief(empty)}, listed by JSON-RPC: "
        f"{brief(listed_empty)}, below -1: {brief(odd)}\n"
        f"season:episodes per show: {season_table(shown)}",
    )


@pytest.mark.parametrize("folder", cases("season rows", library.SHOW_FOLDERS))
def test_season_rows_match_the_seasons_with_episodes(
    kodi: KodiHarness, shown: LibrarySnapshot, folder: str
) -> None:
    """No season-number blowup: as many rows as seasons that have episodes, and JSON-RPC
    lists exactly those."""
    with_episodes = sorted(
        {e["season"] for video, e in shown.episodes.items() if video.startswith(f"{folder}/")}
    )
    rows = [season for season, _episodes in real_rows(shown, folder)]
    listed = sorted(s["season"] for s in shown.seasons.get(folder, []))
    assert rows == listed == with_episodes, explain(
        kodi,
        f"{folder}: season rows {brief(rows)}, listed by JSON-RPC {brief(listed)}, "
        f"seasons with episodes {brief(with_episodes)}\n"
        f"season:episodes per show: {season_table(shown)}",
    )
