"""A real Kodi 20 on the trees of the other archivers (ganymede, LiveStreamDVR, twitch-archiver,
a streamlink recorder) under one root, after one svimaged pass with the default rules: every
show has a poster, every episode a thumb Kodi loads and the season and episode numbers
svimaged wrote, and nothing that is not an episode (chat renders, side videos, download
leftovers) shows up.

What this measured (docs/layouts.md): Kodi takes the numbers from the episode NFO for files
whose path holds a date (all four archivers' paths do), and Kodi 20.1 reads ganymede's
`<movie>` NFO as the episode's NFO, so the default `nfo.movie_nfo: merge` is enough for Kodi.
(Fixtures and helpers: `conftest.py`, `test_kodi.py`.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.archiver_trees import Built, mixed_tree
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.pipeline import run_once
from tests.integration.conftest import scanned_kodi
from tests.integration.kodi import Binaries, KodiHarness, LibrarySnapshot
from tests.integration.test_kodi import explain, not_loading, tally
from tests.servers.rules import nfo_numbers


@pytest.fixture(scope="module")
def archivers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built]:
    """The four archivers' trees under one root, then one pass against the fake Twitch."""
    base = tmp_path_factory.mktemp("archivers")
    root = base / "recordings"
    now = time.time()
    with FakeTwitch() as fake:
        sample_library(fake)
        built = mixed_tree(root, now=now)
        data = fake_config_data(fake, root, base / "state")
        data["timezone"] = "UTC"
        summary = run_once(parse_config(data, {}), FakeClock(start=now))
    assert summary.failed == 0
    assert summary.errors == 1  # LiveStreamDVR's broken tvshow.nfo, left alone
    return root, built


@pytest.fixture(scope="module")
def archiver_kodi(
    kodi_binaries: Binaries,
    archivers: tuple[Path, Built],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KodiHarness]:
    with scanned_kodi(tmp_path_factory.mktemp("kodi-archivers"), archivers[0], kodi_binaries) as k:
        yield k


@pytest.fixture(scope="module")
def shown(archiver_kodi: KodiHarness, archivers: tuple[Path, Built]) -> LibrarySnapshot:
    return LibrarySnapshot.take(archiver_kodi, archivers[0])


def episode_videos(root: Path, built: Built) -> set[str]:
    return {str(v.relative_to(root)) for v in built.videos if v.suffix != ".m3u8"}


def test_every_archiver_show_has_a_poster_kodi_loads(
    archiver_kodi: KodiHarness, shown: LibrarySnapshot
) -> None:
    assert set(shown.shows) == {"gwen_vods", "liam_dvr", "tara_archive", "sam_records"}
    assert not not_loading(shown, shown.shows, "poster"), explain(
        archiver_kodi, tally(shown, shown.shows, "poster")
    )


def test_only_episodes_show_and_each_has_a_thumb_kodi_loads(
    archiver_kodi: KodiHarness, shown: LibrarySnapshot, archivers: tuple[Path, Built]
) -> None:
    root, built = archivers
    assert set(shown.episodes) == episode_videos(root, built), explain(
        archiver_kodi, str(sorted(shown.episodes))
    )
    assert not not_loading(shown, shown.episodes, "thumb"), explain(
        archiver_kodi, tally(shown, shown.episodes, "thumb")
    )


def test_kodi_numbers_every_episode_as_its_nfo_says(
    archiver_kodi: KodiHarness, shown: LibrarySnapshot, archivers: tuple[Path, Built]
) -> None:
    root, _built = archivers
    for name, episode in shown.episodes.items():
        wanted = nfo_numbers((root / name).with_suffix(".nfo"))
        assert wanted is not None, name
        got = (episode.get("season"), episode.get("episode"))
        assert got == wanted, explain(archiver_kodi, f"{name}: Kodi {got}, NFO {wanted}")
    for folder, rows in shown.season_rows.items():
        assert all(row.episodes > 0 for row in rows if row.season > 0), explain(
            archiver_kodi, f"{folder}: {rows}"
        )
