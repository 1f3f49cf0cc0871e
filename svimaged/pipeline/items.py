"""What a pass works on (one item per streamer folder and per recording) and what it reports
(`PassSummary`, read by the daemon, the control API and the demo)."""

from __future__ import annotations

from dataclasses import dataclass, field

from svimaged.core.model import (
    FolderRow,
    RecordingFiles,
    RecordingMeta,
    RecordingRow,
    ShowMeta,
    StreamerFolder,
)
from svimaged.images.tasks import ImageTask


@dataclass(slots=True)
class PassSummary:
    """What one pass did; `line()` is the closing log line of `run --once`."""

    cached: list[str] = field(default_factory=list)  # files stored under .images
    refreshed: int = 0
    failed: int = 0
    nfo_written: list[str] = field(default_factory=list)
    nfo_created: list[str] = field(default_factory=list)  # those of nfo_written that are new
    placed: list[str] = field(default_factory=list)  # image files placed next to recordings
    nfo_unchanged: int = 0
    errors: int = 0
    pending: int = 0  # recordings still being written
    needs_credentials: int = 0
    helix_calls: int = 0
    bytes_downloaded: int = 0
    recordings: int = 0
    streamers: int = 0
    seconds: float = 0.0
    incomplete_scan: bool = False  # a folder could not be listed (cleanup must not trust it)

    def add(self, other: PassSummary) -> None:
        """Fold another pass's counts into this one (a sync is several passes)."""
        self.cached.extend(other.cached)
        self.nfo_written.extend(other.nfo_written)
        self.nfo_created.extend(other.nfo_created)
        self.placed.extend(other.placed)
        for name in (
            "refreshed",
            "failed",
            "nfo_unchanged",
            "errors",
            "pending",
            "helix_calls",
            "bytes_downloaded",
            "recordings",
            "streamers",
            "seconds",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.needs_credentials = max(self.needs_credentials, other.needs_credentials)
        self.incomplete_scan = self.incomplete_scan or other.incomplete_scan

    def line(self) -> str:
        """`cached 12, failed 1, nfo written 30, unchanged 4, errors 1` (+ extras when set)."""
        parts = [
            f"cached {len(self.cached)}",
            f"failed {self.failed}",
            f"nfo written {len(self.nfo_written)}",
            f"unchanged {self.nfo_unchanged}",
            f"errors {self.errors}",
        ]
        if self.pending:
            parts.append(f"still recording {self.pending}")
        if self.needs_credentials:
            parts.append(f"needs credentials {self.needs_credentials}")
        return ", ".join(parts)


@dataclass(slots=True)
class RecordingItem:
    """One recording during a pass."""

    files: RecordingFiles
    meta: RecordingMeta
    finished: bool
    artwork: ImageTask | None = None  # its artwork file, once planned
    artwork_url: str | None = None  # the URL an NFO may show until the file is cached
    category: ImageTask | None = None  # its category's box art file, once planned
    numbered: bool = False  # its season and episode were given by svimaged


@dataclass(slots=True)
class StreamerItem:
    """One streamer folder during a pass."""

    folder: StreamerFolder
    show: ShowMeta
    recordings: list[RecordingItem]
    login: str | None = None
    user_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    profile_url: str | None = None
    offline_url: str | None = None
    profile: ImageTask | None = None
    backdrop: ImageTask | None = None  # the offline image: the show's fanart
    complete_scan: bool = True  # every sub-folder could be listed
    known: FolderRow | None = None  # the folder as the state knew it
    #: Every recording of the folder as last processed (numbers, categories of those not
    #: read in this pass).
    rows: dict[str, RecordingRow] = field(default_factory=dict)
