"""Image files next to the recordings, named as each media server's local-image reader looks
for them (docs/mediaservers.md has the sources). Copies of the cached images: the NFO stays
the one description, these files only make servers that do not read NFO art see the same
pictures.

| server | show folder | season folder | next to a recording |
|---|---|---|---|
| plex | `poster.jpg`, `fanart.jpg` | `season<N>.jpg` | `<stem>.jpg` |
| emby | `poster.jpg`, `fanart.jpg` | `cover.jpg` | `<stem>.jpg` |
| jellyfin | - | `cover.jpg` | - |
| kodi | - | - | - |

Never written, whoever asks: `poster.jpg`/`folder.jpg`/`fanart.jpg` in a season folder (Plex
takes them for the show's art) and `season<N>-poster.jpg` in the show folder (Kodi then
creates one season row for every number up to N).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from svimaged.outputs.base import FileOutput, ImageFile, ShowView
from svimaged.state import OwnerKind

SHOW_POSTER = "poster.jpg"
SHOW_BACKDROP = "fanart.jpg"
SEASON_COVER = "cover.jpg"

#: Which files each server needs: show poster and backdrop, season cover, Plex's season
#: poster, the episode thumb.
_NEEDS: dict[str, frozenset[str]] = {
    "plex": frozenset({"show", "season_number", "episode"}),
    "emby": frozenset({"show", "season_cover", "episode"}),
    "jellyfin": frozenset({"season_cover"}),
    "kodi": frozenset(),
}


def episode_image(video: Path, stem: str) -> Path:
    """`<stem>.jpg` next to the recording (Plex's documented name, read by Emby and
    Jellyfin too)."""
    return video.with_name(f"{stem}.jpg")


class ServerImages:
    """The image files the given media servers need (each path once)."""

    name = "images"

    def __init__(self, servers: Sequence[str]) -> None:
        self.needs = frozenset().union(*(_NEEDS[server] for server in servers))

    def files(self, show: ShowView) -> Iterator[FileOutput]:
        folder = show.folder
        owner = (OwnerKind.FOLDER, folder.name)
        if "show" in self.needs:
            if show.poster_rel is not None:
                yield ImageFile(folder.path / SHOW_POSTER, show.poster_rel, *owner)
            if show.backdrop_rel is not None:
                yield ImageFile(folder.path / SHOW_BACKDROP, show.backdrop_rel, *owner)
        for season in show.seasons:
            if season.poster_rel is None:
                continue
            if "season_cover" in self.needs and season.season_folder is not None:
                yield ImageFile(season.season_folder / SEASON_COVER, season.poster_rel, *owner)
            if "season_number" in self.needs:
                name = f"season{season.info.season}.jpg"
                if season.path is not None:
                    yield ImageFile(season.path / name, season.poster_rel, *owner)
        if "episode" in self.needs:
            for episode in show.episodes:
                if episode.thumb_rel is not None:
                    files = episode.files
                    yield ImageFile(
                        episode_image(Path(files.video), files.stem),
                        episode.thumb_rel,
                        OwnerKind.RECORDING,
                        files.rel,
                    )
