"""The seam between a pass and what it writes for the media servers.

A pass describes each streamer folder as a `ShowView` (pure data: what the show and each
finished episode should say, with image references already resolved). Each `Output` turns a
view into file values: `NfoFile` (a path and a pure merge of what is on disk with what should
be there) or `ImageFile` (a path and the cache file it must hold). `apply.OutputWriter` does
all the I/O for those values, skips writes whose bytes would not change, and records what it
did. Adding an output for another media server is adding one class here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from svimaged.core.model import RecordingFiles, StreamerFolder
from svimaged.nfo.model import EpisodeInfo, SeasonInfo, ShowInfo
from svimaged.state import OwnerKind

#: A pure function from the bytes on disk (None: no file) to the bytes that should be there;
#: returning its argument unchanged (the same object) means "locked: leave it".
Merge = Callable[[bytes | None], bytes]


@dataclass(frozen=True, slots=True)
class EpisodeView:
    """One finished recording as the outputs see it."""

    files: RecordingFiles
    info: EpisodeInfo  # what its episode NFO should say (references resolved)
    thumb_rel: str | None  # the cached image of its thumb (artwork, else category)


@dataclass(frozen=True, slots=True)
class SeasonView:
    """One season's folders (below the show folder, each holding every finished recording
    of that season and none of another) as the outputs see them."""

    path: Path | None  # the folder the season's recordings are in (Plex's season art)
    info: SeasonInfo  # what season.nfo should say (reference resolved)
    poster_rel: str | None  # the cache file of the season poster
    #: The folder Jellyfin and Emby take for this season: right below the show folder, with
    #: a season's name (`Season 2026-11`, `S3`, `2026`), the season's recordings at any
    #: depth below it (season.nfo and the season cover go there).
    season_folder: Path | None = None


@dataclass(frozen=True, slots=True)
class ShowView:
    """One streamer folder as the outputs see it. Image files (`*_rel`) are placed only
    once their cache file is stored."""

    folder: StreamerFolder
    info: ShowInfo  # what tvshow.nfo should say (references resolved)
    poster_rel: str | None  # the cache file of the profile image (the show poster)
    episodes: tuple[EpisodeView, ...]  # finished recordings processed in this pass
    backdrop_rel: str | None = None  # the cache file of the offline image (the backdrop)
    seasons: tuple[SeasonView, ...] = ()  # season folders with a finished recording


@dataclass(frozen=True, slots=True)
class NfoFile:
    """An NFO to merge: `merge` gets the current bytes (None when absent). Its place is
    kept as strings (`folder`, `name`; `file` joined): a pass makes one per recording,
    and a `Path` each cost more than the rest of the step."""

    folder: str  # the folder's absolute path
    name: str
    merge: Merge
    recording: str | None = None  # the recording's path relative to `recordings`, if any
    #: The scan listed the folder and there was no file `path`: it is written without a
    #: look, taking the name only while it is free (`nfo.files.update_nfo_at`).
    absent: bool = False

    @property
    def file(self) -> str:
        """The NFO's absolute path."""
        return f"{self.folder}/{self.name}"

    @property
    def path(self) -> Path:
        """The NFO's path as a `Path` (for messages and tests; the write path uses `file`)."""
        return Path(self.folder, self.name)


@dataclass(frozen=True, slots=True)
class ImageFile:
    """A copy (or link) of the cache file `rel` at `path`, owned by a recording or folder."""

    path: Path
    rel: str
    owner_kind: OwnerKind
    owner: str


FileOutput = NfoFile | ImageFile


class Output(Protocol):
    """One kind of media-server output."""

    name: str

    def files(self, show: ShowView) -> Iterator[FileOutput]:
        """The files this output wants for one streamer folder. Pure."""
        ...
