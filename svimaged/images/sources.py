"""Where a picture can come from, as an ordered chain of small sources (beets' fetchart
model): each has a `name`, says whether it can answer at all in this pass (`available`), and
`find`s a candidate with its provenance. Precedence lives in the order of the list, not in an
if-ladder; adding a source is adding a class.

Two chains exist:

- stream artwork (one file per recording): the recording's own `<stem>-thumb.jpg/.png`, the
  thumbnail its archiver saved (ganymede's `<file>-thumbnail.jpg`, twitch-archiver's
  `thumbnail.jpg`), the thumbnail URL of its sidecar, the URL a cached file came from
  before, the thumbnail of the Helix archive video with the same stream id, a frame grabbed
  from the video with ffmpeg;
- the profile image (one per streamer): the avatar ganymede keeps in the channel folder
  (`profile.png`), Helix's profile image URL, the one in info.json, then the avatar
  StreamVault keeps locally (`.media/profiles/profile_avatar_<id>.jpg`), so a library
  without Twitch credentials still gets its show posters;
- the backdrop (the channel's offline image): Helix's URL, then StreamVault's local banner.

A source never does a transfer; the chain's answer becomes an `ImageTask`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

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


Q = TypeVar("Q", contravariant=True)
QC = TypeVar("QC")


class Source(Protocol[Q]):
    """One place a picture can come from, for queries of type Q."""

    name: str

    def available(self) -> bool:
        """False when this source cannot answer in this pass at all (no credentials, no
        ffmpeg); the chain then skips it without asking."""
        ...

    def find(self, query: Q) -> Candidate | None:
        """A candidate for this query, or None."""
        ...


ArtworkSource = Source[ArtworkQuery]


class Chain(Generic[QC]):
    """Ask the available sources in order; the first candidate wins."""

    def __init__(self, sources: Sequence[Source[QC]]) -> None:
        self.sources = [source for source in sources if source.available()]

    def find(self, query: QC) -> Candidate | None:
        """The first candidate any source finds, or None."""
        for source in self.sources:
            found = source.find(query)
            if found is not None:
                return found
        return None

    def names(self) -> list[str]:
        """The names of the sources that take part, in order."""
        return [source.name for source in self.sources]


ArtworkChain = Chain[ArtworkQuery]


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
        if query.files.thumb is None:
            return None
        thumb = Path(query.files.thumb)
        if self._is_ours(thumb):
            return None
        return Candidate(self.name, local=thumb, local_stamp=self._stamp(thumb))


class ArchiverThumbnail:
    """The thumbnail the recording's archiver saved next to it (ganymede's
    `<file>-thumbnail.jpg`, twitch-archiver's `thumbnail.jpg`), checked and cached like a
    download."""

    name = "archiver-thumbnail"

    def __init__(self, stamp: Callable[[Path], str | None]) -> None:
        self._stamp = stamp

    def available(self) -> bool:
        return True

    def find(self, query: ArtworkQuery) -> Candidate | None:
        picture = Path(query.files.picture) if query.files.picture is not None else None
        stamp = self._stamp(picture) if picture is not None else None
        return None if stamp is None else Candidate(self.name, local=picture, local_stamp=stamp)


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
        return Candidate(self.name, local=Path(files.video), local_stamp=stamp, grab=True)


@dataclass(frozen=True, slots=True)
class ProfileQuery:
    """What the profile sources may look at for one streamer."""

    user_id: str
    user: TwitchUser | None  # what Helix said, if anything
    recordings: Sequence[RecordingMeta]
    avatar: Path | None = None  # the avatar an archiver keeps in the show folder


class FolderAvatar:
    """The avatar ganymede keeps in the channel folder (`profile.png`, Twitch's bytes
    whatever the suffix), refreshed by ganymede: first, so no Twitch call is needed."""

    name = "folder-avatar"

    def available(self) -> bool:
        return True

    def find(self, query: ProfileQuery) -> Candidate | None:
        path = query.avatar
        stamp = local_stamp(path) if path is not None else None
        return None if stamp is None else Candidate(self.name, local=path, local_stamp=stamp)


class HelixProfile:
    """The profile image URL Helix gives for the user."""

    name = "helix-user"

    def available(self) -> bool:
        return True

    def find(self, query: ProfileQuery) -> Candidate | None:
        url = query.user.profile_image_url if query.user is not None else None
        return None if not url else Candidate(self.name, url=url)


class InfoJsonProfile:
    """The first profile image URL a recording's info.json carries (StreamVault's
    `streamer.profile_image`, when it is a URL)."""

    name = "info-json-profile"

    def available(self) -> bool:
        return True

    def find(self, query: ProfileQuery) -> Candidate | None:
        for meta in query.recordings:
            if meta.profile_image_url:
                return Candidate(self.name, url=meta.profile_image_url)
        return None


class LocalAvatar:
    """StreamVault's local copy of the avatar, `<recordings>/.media/profiles/
    profile_avatar_<user id>.jpg` (a regular file, links not followed)."""

    name = "streamvault-avatar"

    def __init__(self, recordings: Path) -> None:
        self._folder = recordings / ".media" / "profiles"

    def available(self) -> bool:
        return True

    def path(self, user_id: str) -> Path:
        """Where StreamVault keeps this user's avatar."""
        return self._folder / f"profile_avatar_{user_id}.jpg"

    def exists(self, user_id: str) -> bool:
        """True when StreamVault's avatar of this user is there."""
        return local_stamp(self.path(user_id)) is not None

    def find(self, query: ProfileQuery) -> Candidate | None:
        path = self.path(query.user_id)
        stamp = local_stamp(path)
        return None if stamp is None else Candidate(self.name, local=path, local_stamp=stamp)


ProfileChain = Chain[ProfileQuery]


class HelixOffline:
    """The channel's offline image URL Helix gives (the show's backdrop)."""

    name = "helix-offline"

    def available(self) -> bool:
        return True

    def find(self, query: ProfileQuery) -> Candidate | None:
        url = query.user.offline_image_url if query.user is not None else None
        return None if not url else Candidate(self.name, url=url)


class StreamVaultBanner:
    """StreamVault's local copy of the offline image, `<recordings>/.media/banners/
    banner_<its own streamer id>.jpg` (the id from the recordings' info.json)."""

    name = "streamvault-banner"

    def __init__(self, recordings: Path) -> None:
        self._folder = recordings / ".media" / "banners"

    def available(self) -> bool:
        return True

    def find(self, query: ProfileQuery) -> Candidate | None:
        ids = {meta.local_streamer_id for meta in query.recordings if meta.local_streamer_id}
        for local_id in sorted(ids):
            path = self._folder / f"banner_{local_id}.jpg"
            stamp = local_stamp(path) if local_id.isdigit() else None
            if stamp is not None:
                return Candidate(self.name, local=path, local_stamp=stamp)
        return None


def local_stamp(path: Path) -> str | None:
    """The validator of a local image file (size and mtime), None unless it is a regular
    file (links are not followed)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return ImageTask.stamp(info.st_size, info.st_mtime_ns)
