"""Sidecar images (`nfo.sidecars: hardlink|copy`): `poster.jpg` in the streamer folder and
`<stem>-thumb.jpg` next to each finished recording, copies of the cached images, for servers
that read image files rather than NFO references and for libraries that move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from svimaged.outputs.base import FileOutput, ImageFile, ShowView
from svimaged.state import OwnerKind

POSTER_NAME = "poster.jpg"
THUMB_SUFFIX = "-thumb.jpg"


def thumb_path(video: Path, stem: str) -> Path:
    """Where the sidecar thumbnail of a recording goes."""
    return video.with_name(f"{stem}{THUMB_SUFFIX}")


class Sidecars:
    """poster.jpg and `<stem>-thumb.jpg`."""

    name = "sidecars"

    def files(self, show: ShowView) -> Iterator[FileOutput]:
        folder = show.folder
        if show.poster_rel is not None:
            yield ImageFile(
                folder.path / POSTER_NAME, show.poster_rel, OwnerKind.FOLDER, folder.name
            )
        for episode in show.episodes:
            if episode.thumb_rel is not None:
                files = episode.files
                yield ImageFile(
                    thumb_path(files.video, files.stem),
                    episode.thumb_rel,
                    OwnerKind.RECORDING,
                    files.rel,
                )
