"""A real Kodi 20 on a StreamVault library migrated without Twitch credentials: every show has
a poster, every season a poster, every episode a thumb that Kodi loads, and no season row
without an episode. (Fixtures and helpers: `conftest.py`, `test_kodi.py`.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.streamvault_tree import STREAMS, build_streamvault_tree, season_folder, stem_of
from svimaged.images.store import ImageStore
from svimaged.migrate.importer import migrate
from svimaged.pipeline import run_once
from svimaged.state import State
from tests.integration.conftest import scanned_kodi
from tests.integration.kodi import Binaries, KodiHarness, LibrarySnapshot
from tests.integration.test_kodi import explain, not_loading, tally


@pytest.fixture(scope="module")
def streamvault_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """StreamVault's tree, `svimaged migrate`, then one pass; no credentials anywhere."""
    base = tmp_path_factory.mktemp("streamvault")
    root = base / "recordings"
    build_streamvault_tree(root, finished_mtime=time.time() - 3600)
    state = State.open(base / "state" / "state.db")
    try:
        report = migrate(root, ImageStore(root / ".images"), state, clock=FakeClock())
    finally:
        state.close()
    assert report.summary() == "imported 12, skipped 0, errors 0"
    data = {"recordings": str(root), "state_dir": str(base / "state")}
    clock = FakeClock(time.time())
    summary = run_once(parse_config({**data, "artwork": {"ffmpeg": False}}, {}), clock)
    assert (summary.errors, summary.failed) == (0, 0)
    # every NFO merged: 2 tvshow.nfo, 3 season.nfo, 4 episode NFOs (absolute paths now)
    assert len(summary.nfo_written) == 9 and summary.pending == 0
    return root


@pytest.fixture(scope="module")
def sv_kodi(
    kodi_binaries: Binaries, streamvault_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KodiHarness]:
    with scanned_kodi(tmp_path_factory.mktemp("kodi-sv"), streamvault_root, kodi_binaries) as k:
        yield k


@pytest.fixture(scope="module")
def sv_shown(sv_kodi: KodiHarness, streamvault_root: Path) -> LibrarySnapshot:
    return LibrarySnapshot.take(sv_kodi, streamvault_root)


def test_every_streamvault_show_has_a_poster_kodi_loads(
    sv_kodi: KodiHarness, sv_shown: LibrarySnapshot
) -> None:
    expected = {streamer.folder for streamer in STREAMS}
    assert set(sv_shown.shows) == expected, explain(sv_kodi, f"shows: {sorted(sv_shown.shows)}")
    assert not not_loading(sv_shown, sv_shown.shows, "poster"), explain(
        sv_kodi, tally(sv_shown, sv_shown.shows, "poster")
    )


def test_every_streamvault_season_has_a_poster_and_no_row_is_empty(
    sv_kodi: KodiHarness, sv_shown: LibrarySnapshot
) -> None:
    for streamer, streams in STREAMS.items():
        wanted = {int(season_folder(s).split()[1].replace("-", "")) for s in streams}
        seasons = {
            f"{streamer.folder} season {s['season']}": s
            for s in sv_shown.seasons.get(streamer.folder, [])
        }
        assert {s["season"] for s in seasons.values()} == wanted, explain(sv_kodi, str(seasons))
        assert not not_loading(sv_shown, seasons, "poster"), explain(
            sv_kodi, tally(sv_shown, seasons, "poster")
        )
        rows = sv_shown.season_rows.get(streamer.folder, [])
        numbered = {row.season for row in rows if row.season > 0}
        assert numbered == wanted, explain(sv_kodi, f"{streamer.folder} season rows: {rows}")
        assert all(row.episodes > 0 for row in rows if row.season > 0), explain(sv_kodi, str(rows))


def test_every_streamvault_episode_has_a_thumb_kodi_loads(
    sv_kodi: KodiHarness, sv_shown: LibrarySnapshot
) -> None:
    expected = {
        f"{streamer.folder}/{season_folder(s)}/{stem_of(streamer, s)}.mp4"
        for streamer, streams in STREAMS.items()
        for s in streams
    }
    assert set(sv_shown.episodes) == expected, explain(sv_kodi, str(sorted(sv_shown.episodes)))
    assert not not_loading(sv_shown, sv_shown.episodes, "thumb"), explain(
        sv_kodi, tally(sv_shown, sv_shown.episodes, "thumb")
    )
