"""What Kodi shows of one source after a scan, read once and shared by the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.kodi.art import ImageCheck
from tests.integration.kodi.harness import KodiHarness, SeasonRow


@dataclass
class LibrarySnapshot:
    """What Kodi shows of one source after a scan, keyed by paths relative to `root`: shows
    by folder, episodes by video file, JSON-RPC seasons and database season rows by show
    folder. Image checks are done once per art URL."""

    kodi: KodiHarness
    root: Path
    shows: dict[str, dict[str, Any]]
    episodes: dict[str, dict[str, Any]]
    seasons: dict[str, list[dict[str, Any]]]
    season_rows: dict[str, list[SeasonRow]]
    _checks: dict[str, ImageCheck] = field(default_factory=dict)

    @classmethod
    def take(cls, kodi: KodiHarness, root: Path) -> LibrarySnapshot:
        shows: dict[str, dict[str, Any]] = {}
        episodes: dict[str, dict[str, Any]] = {}
        seasons: dict[str, list[dict[str, Any]]] = {}
        folder_of: dict[int, str] = {}
        for show in kodi.tvshows():
            folder = relative(show["file"], root)
            shows[folder] = show
            folder_of[show["tvshowid"]] = folder
            seasons[folder] = kodi.seasons(show["tvshowid"])
            for episode in kodi.episodes(show["tvshowid"]):
                episodes[relative(episode["file"], root)] = episode
        rows: dict[str, list[SeasonRow]] = {}
        for row in kodi.season_rows():
            rows.setdefault(folder_of.get(row.tvshowid, f"?{row.tvshowid}"), []).append(row)
        return cls(kodi, root, shows, episodes, seasons, rows)

    def check(self, art_url: str) -> ImageCheck:
        """`KodiHarness.image_loads`, once per URL."""
        if art_url not in self._checks:
            self._checks[art_url] = self.kodi.image_loads(art_url)
        return self._checks[art_url]


def relative(path: str, root: Path) -> str:
    """A path Kodi reports (folders end in '/'), relative to `root`."""
    return str(Path(path.rstrip("/")).relative_to(root))
