"""The NFO output every media server with an NFO reader uses (Kodi's format): `tvshow.nfo`
in the streamer folder and `<stem>.nfo` next to each finished recording, merged with what is
there (contract section 3.2)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from svimaged.config import MovieNfo
from svimaged.nfo.merge import merge_episode, merge_tvshow
from svimaged.outputs.base import FileOutput, NfoFile, ShowView

TVSHOW_NFO = "tvshow.nfo"


class KodiNfo:
    """tvshow.nfo and the episode NFOs; `movie` says what becomes of an episode NFO another
    program wrote as a `<movie>` (`nfo.movie_nfo`)."""

    name = "nfo"

    def __init__(self, movie: MovieNfo = "merge") -> None:
        self.movie: MovieNfo = movie

    def files(self, show: ShowView) -> Iterator[FileOutput]:
        info = show.info
        yield NfoFile(
            str(show.folder.path),
            TVSHOW_NFO,
            lambda existing: merge_tvshow(existing, info),
            absent=show.folder.tvshow_nfo is None,
        )
        for episode in show.episodes:
            files, einfo = episode.files, episode.info
            yield NfoFile(
                os.path.dirname(files.video),
                f"{files.stem}.nfo",
                lambda existing, einfo=einfo: merge_episode(existing, einfo, self.movie),  # type: ignore[misc]
                recording=files.rel,
                absent=files.nfo is None,
            )
