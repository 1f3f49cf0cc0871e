"""Plain data shared by every layer: what the tree holds, what Twitch says, what we know.

Nothing here does I/O. Every field that may be unknown is `None`; strings are never empty
placeholders. Times are timezone-aware UTC `datetime`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mkv", ".ts", ".flv", ".m4v"})


class ImageKind(StrEnum):
    """The kinds of cached image (contract section 3.1)."""

    PROFILE = "profile"
    CATEGORY = "category"
    ARTWORK = "artwork"
    BACKDROP = "backdrop"  # the channel's offline image: the show's fanart


class Origin(StrEnum):
    """Where the bytes of a cached image came from (a column of the state, not a prefix)."""

    URL = "url"  # downloaded from an https URL
    LOCAL = "local"  # imported from an image file next to the recording
    FRAME = "frame"  # a frame grabbed from the video with ffmpeg
    #: Imported by `svimaged migrate`: replaced when a pass learns the real source, never
    #: refreshed from here.
    MIGRATED = "migrated"


class Layout(StrEnum):
    """Which kind of sidecar describes a recording, recognised from the names in its folder
    (`library.layouts`); the sidecar's content then says which archiver wrote it."""

    INFO_JSON = "info-json"  # <stem>.info.json: StreamVault or yt-dlp
    GANYMEDE = "ganymede"  # <file>-video.<ext> with <file>-info.json
    JSON = "json"  # <stem>.json: LiveStreamDVR, or twitch-archiver's vod.json
    NAMES = "names"  # no sidecar: only the names say anything


class RecordingStatus(StrEnum):
    """How far a recording got in its last pass."""

    DONE = "done"  # everything it can have was written
    PENDING = "pending"  # still being written: look again until it is finished
    INCOMPLETE = "incomplete"  # Helix or a write may give more later: look again


class RecordingFiles(NamedTuple):
    """One video file found in the tree and its companion files. Only names and stat data.

    Built for every recording of every scan, so it is cheap to build: a named tuple (a
    frozen dataclass takes four times as long), with the file paths as absolute path
    strings (a `Path` costs more to build than everything else the scan does per file).
    """

    video: str  # absolute path of the video file
    rel: str  # path relative to `recordings`, POSIX separators
    streamer_folder: str  # first path component below `recordings`
    stem: str  # file name without the video suffix
    size: int
    mtime_ns: int
    sidecar: str | None = None  # the metadata file `layout` names (info.json, -info.json, .json)
    nfo: str | None = None  # <stem>.nfo
    thumb: str | None = None  # <stem>-thumb.jpg, else <stem>-thumb.png
    #: `<size>:<mtime_ns>:<companions>`: changes whenever the video or a companion file
    #: changes (size or mtime); built once by the scan, since every pass compares it. ""
    #: for a record built without a scan.
    signature: str = ""
    layout: Layout = Layout.NAMES
    picture: str | None = None  # the archiver's own thumbnail (ganymede, twitch-archiver)

    @property
    def companions(self) -> str:
        """The companion files' part of `signature` (see `scan.companion_sig`), "" when
        there is none."""
        parts = self.signature.split(":", 2)
        return parts[2] if len(parts) == 3 else ""


@dataclass(frozen=True, slots=True)
class StreamerFolder:
    """A first-level folder below `recordings` and every recording at any depth inside it."""

    name: str
    path: Path
    tvshow_nfo: Path | None
    recordings: tuple[RecordingFiles, ...]
    tvshow_sig: str = "-"  # stat signature of tvshow.nfo
    avatar: Path | None = None  # the avatar an archiver keeps in the folder (ganymede's)
    bad_names: tuple[Path, ...] = ()  # entries skipped: their names are not valid UTF-8
    dirs: tuple[tuple[str, int], ...] = ()  # (folder relative to recordings, mtime_ns) listed


class RecordingMeta(NamedTuple):
    """What one source says about a recording. `None` means "this source does not know".

    A named tuple, not a frozen dataclass: several are built per recording (one per source
    and the merge), and a tuple is built in a quarter of the time. Change fields with
    `_replace`."""

    login: str | None = None
    user_id: str | None = None  # Twitch user id (never StreamVault's own db id)
    display_name: str | None = None
    title: str | None = None
    category_name: str | None = None
    category_id: str | None = None  # Twitch game id
    stream_id: str | None = None  # Twitch stream id
    local_id: str | None = None  # StreamVault's own recording id from info.json
    local_streamer_id: str | None = None  # StreamVault's own streamer id from info.json
    started_at: datetime | None = None
    season: int | None = None
    episode: int | None = None
    thumbnail_url: str | None = None
    profile_image_url: str | None = None
    #: A Twitch user id read from the name of a local avatar StreamVault keyed by it
    #: (`.media/profiles/profile_avatar_<id>.jpg`); trusted only once that file exists.
    avatar_user_id: str | None = None


class ShowMeta(NamedTuple):
    """What is known about a streamer (from tvshow.nfo, info.json or Helix). A named tuple,
    like `RecordingMeta`."""

    login: str | None = None
    user_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    profile_image_url: str | None = None
    offline_image_url: str | None = None


@dataclass(frozen=True, slots=True)
class TwitchUser:
    """A Helix `users` entry."""

    id: str
    login: str
    display_name: str
    description: str
    profile_image_url: str | None
    offline_image_url: str | None


@dataclass(frozen=True, slots=True)
class TwitchGame:
    """A Helix `games` entry; `box_art_url` is filled (285x380) or None for `404_boxart`."""

    id: str
    name: str
    box_art_url: str | None


@dataclass(frozen=True, slots=True)
class TwitchVideo:
    """A Helix `videos` entry (type archive); `thumbnail_url` filled (1280x720) or None."""

    id: str
    user_id: str
    stream_id: str | None
    title: str
    thumbnail_url: str | None
    created_at: datetime | None
    duration: int | None = None  # seconds


@dataclass(frozen=True, slots=True)
class ImageRow:
    """What the state knows about one cached (or wanted) image."""

    rel: str
    kind: ImageKind
    key: str
    origin: Origin
    source: str | None  # the URL, or the local file's absolute path
    etag: str | None
    last_modified: str | None
    sha256: str | None
    size: int
    cached: bool
    last_success: float | None
    last_attempt: float | None
    failures: int
    next_retry: float | None
    last_error: str | None
    error_status: int | None
    file_mtime_ns: int | None = None  # the cached file's mtime when stored (None: not known)


class RecordingRow(NamedTuple):
    """The last seen stat data and resolved ids of one recording. A named tuple whose fields
    are the `recordings` table's columns in order, so a pass stores its rows as they are."""

    rel: str
    folder: str
    size: int
    mtime_ns: int
    user_id: str | None
    stream_id: str | None
    category: str | None
    artwork_rel: str | None
    sig: str | None = None  # the signature it had when last processed; None: look again
    status: RecordingStatus = RecordingStatus.DONE
    started_at: float | None = None  # epoch seconds, when any source said
    season: int | None = None
    episode: int | None = None
    numbered: bool = False  # season and episode were given by svimaged (not by a name or NFO)
    sig_since: float | None = None  # when svimaged first saw it with the signature `sig`

    def unchanged_since(self, signature: str) -> float | None:
        """When svimaged first saw the recording as it is now, None when it looks changed."""
        return self.sig_since if self.sig == signature else None


@dataclass(frozen=True, slots=True)
class FolderRow:
    """A streamer folder as last processed."""

    name: str
    sig: str | None  # signature of tvshow.nfo after the last pass; None: look again
    user_id: str | None
    login: str | None
