"""Where a picture can come from, as an ordered chain of small sources (beets' fetchart
model): each has a `name`, says whether it can answer at all in this pass (`available`), and
`find`s a candidate with its provenance. Precedence lives in the order of the list, not in an
if-ladder; adding a source is adding a class.

Two chains exist:

- stream artwork (one file per recording): the recording's own `<stem>-thumb.jpg/.png`, the
  thumbnail URL of its info.json, the URL a cached file came from before, the thumbnail of
  the Helix archive video with the same stream id, a frame grabbed from the video with ffmpeg;
- the profile image (one per streamer): Helix's profile image URL, then the one in info.json.

A source never does a transfer; the chain's answer becomes an `ImageTask`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from svimaged.core.model import (
    ImageKind,
    ImageRow,
    Origin,
    RecordingFiles,
    RecordingMeta,
    TwitchUser,
)
from svimaged.core.names import is_safe_id
from svimaged.images.tasks import ImageTask


@dataclass(frozen=True, slots=True)
class Candidate:
    """Where the bytes of one picture can come from, and which source said so."""

    source: str  # the name of the source that found it, for logs and tests
    url: str | None = None
    local: Path | None = None
    local_stamp: str | None = None
    grab: bool = False  # `local` is a video: grab a frame

    def task(self, rel: str, kind: ImageKind, key: str) -> ImageTask:
        """The image task that stores this candidate at `rel`."""
        return ImageTask(
            rel,
            kind,
            key,
            url=self.url,
            local=self.local,
            local_stamp=self.local_stamp,
            grab=self.grab,
        )


@dataclass(frozen=True, slots=True)
class ArtworkQuery:
    """What the artwork sources may look at for one finished recording."""

    files: RecordingFiles
    meta: RecordingMeta
    user_id: str
    remembered: ImageRow | None  # the state row of the recording's artwork file, if any


class ArtworkSource(Protocol):
    """One place stream artwork can come from."""

    name: str

    def available(self) -> bool:
        """False when this source cannot answer in this pass at all (no credentials, no
        ffmpeg); the chain then skips it without asking."""
        ...

    def find(self, query: ArtworkQuery) -> Candidate | None:
        """A candidate for this recording, or None."""
        ...


class LocalThumb:
    """The recording's own `<stem>-thumb.jpg` (or `.png`), unless svimaged placed it there
    itself as a sidecar (then it is a copy of the cache, not a source)."""

    name = "local-thumb"

    def __init__(self, is_ours: Callable[[Path], bool], stamp: Callable[[Path], str | None]):
        self._is_ours = is_ours
        self._stamp = stamp

    def available(self) -> bool:
        return True

    def find(self, query: ArtworkQuery) -> Candidate | None:
        thumb = query.files.thumb
        if thumb is None or self._is_ours(thumb):
            return None
        return Candidate(self.name, local=thumb, local_stamp=self._stamp(thumb))


class InfoJsonThumbnail:
    """The thumbnail URL the recorder wrote into `<stem>.info.json`."""

    name = "info-json"

    def available(self) -> bool:
        return True

    def find(self, query: ArtworkQuery) -> Candidate | None:
        url = query.meta.thumbnail_url
        return None if url is None else Candidate(self.name, url=url)


class RememberedUrl:
    """The URL a cached file came from in an earlier pass (found on Helix then): keep
    refreshing from there instead of asking Helix again."""

    name = "remembered"

    def available(self) -> bool:
        return True

    def find(self, query: ArtworkQuery) -> Candidate | None:
        row = query.remembered
        if row is None or not row.cached or row.origin is not Origin.URL or not row.source:
            return None
        return Candidate(self.name, url=row.source)


class HelixVideoThumbnail:
    """The thumbnail of the Helix archive video whose stream id is the recording's."""

    name = "helix-video"

    def __init__(self, online: bool, thumbnail: Callable[[str, str], str | None]) -> None:
        self._online = online
        self._thumbnail = thumbnail

    def available(self) -> bool:
        return self._online

    def find(self, query: ArtworkQuery) -> Candidate | None:
        stream_id = query.meta.stream_id
        if not stream_id or not is_safe_id(stream_id):
            return None
        url = self._thumbnail(query.user_id, stream_id)
        return None if url is None else Candidate(self.name, url=url)


class VideoFrame:
    """A frame grabbed from the video with ffmpeg (when `artwork.ffmpeg` and ffmpeg is on
    PATH); its validator is the video's size and mtime."""

    name = "video-frame"

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled

    def available(self) -> bool:
        return self._enabled

    def find(self, query: ArtworkQuery) -> Candidate | None:
        files = query.files
        stamp = ImageTask.stamp(files.size, files.mtime_ns)
        return Candidate(self.name, local=files.video, local_stamp=stamp, grab=True)


class ArtworkChain:
    """Ask the available sources in order; the first candidate wins."""

    def __init__(self, sources: Sequence[ArtworkSource]) -> None:
        self.sources = [source for source in sources if source.available()]

    def find(self, query: ArtworkQuery) -> Candidate | None:
        """The first candidate any source finds, or None."""
        for source in self.sources:
            found = source.find(query)
            if found is not None:
                return found
        return None

    def names(self) -> list[str]:
        """The names of the sources that take part, in order."""
        return [source.name for source in self.sources]


def profile_url(user: TwitchUser | None, recordings: Sequence[RecordingMeta]) -> str | None:
    """The profile image chain: Helix's profile image URL, then the first one an info.json
    carries (StreamVault writes `streamer.profile_image`)."""
    if user is not None and user.profile_image_url:
        return user.profile_image_url
    for meta in recordings:
        if meta.profile_image_url:
            return meta.profile_image_url
    return None
