"""The season NFO output for Jellyfin and Emby: `season.nfo` in each season folder, with the
season number and the season poster (Jellyfin never reads season art from `tvshow.nfo`:
docs/mediaservers.md). An existing `season.nfo` (StreamVault writes one) is merged, never
clobbered."""

from __future__ import annotations

from collections.abc import Iterator

from svimaged.nfo.merge import merge_season
from svimaged.outputs.base import FileOutput, NfoFile, ShowView

SEASON_NFO = "season.nfo"


class SeasonNfo:
    """`season.nfo` per season folder."""

    name = "season-nfo"

    def files(self, show: ShowView) -> Iterator[FileOutput]:
        for season in show.seasons:
            if season.season_folder is None:
                continue
            info = season.info
            yield NfoFile(
                str(season.season_folder),
                SEASON_NFO,
                lambda existing, info=info: merge_season(existing, info),  # type: ignore[misc]
            )
