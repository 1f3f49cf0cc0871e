"""The validated configuration as frozen dataclasses (the keys of contract section 9).

`load.parse_config` builds them; nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from svimaged.config.fields import LOCAL_TIME, split_listen

DEFAULT_CONFIG_PATH = Path("/etc/svimaged/config.yaml")
ENV_CONFIG = "SVIMAGED_CONFIG"
ENV_CLIENT_ID = "SVIMAGED_TWITCH_CLIENT_ID"
ENV_CLIENT_SECRET = "SVIMAGED_TWITCH_CLIENT_SECRET"  # noqa: S105 - a variable name
MASK = "***"

Sidecars = Literal["copy", "hardlink", "none"]
MediaServer = Literal["kodi", "jellyfin", "emby", "plex"]
#: The media servers whose outputs are written when `media_servers` is not set.
DEFAULT_MEDIA_SERVERS: tuple[MediaServer, ...] = ("kodi", "jellyfin")
SeasonPoster = Literal["profile", "category", "none"]
MovieNfo = Literal["merge", "episode", "keep"]
WatchMode = Literal["auto", "inotify", "polling"]
NotifyType = Literal["kodi", "jellyfin", "emby", "plex"]
#: The credential each kind of server takes, by its name in the config: `<name>_file` (a
#: file holding only the secret) or `<name>_env` (an environment variable); never inline.
NOTIFY_SECRET: dict[str, str] = {
    "kodi": "password",
    "jellyfin": "api_key",
    "emby": "api_key",
    "plex": "token",
}
LogLevel = Literal["debug", "info", "warning", "error"]

DEFAULT_STATE_DIR = Path("/var/lib/svimaged")
#: Folder workers of the daemon (`workers`); downloads run on their own pool.
DEFAULT_WORKERS = 2
DEFAULT_SOCKET = Path("/run/svimaged/control.sock")
DEFAULT_API_BASE = "https://api.twitch.tv/helix"
DEFAULT_AUTH_URL = "https://id.twitch.tv/oauth2/token"
DEFAULT_ALLOWED_HOSTS = (
    "static-cdn.jtvnw.net",
    "vod-secure.twitch.tv",
    "clips-media-assets2.twitch.tv",
)


class PathMapEntry(NamedTuple):
    """One `nfo.path_map` rule; YAML `{from: /recordings, to: /data/tv}`."""

    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class ImagesConfig:
    """The cache folder below `recordings` and its mode (files get `mode & 0o666`)."""

    dir: str = ".images"
    mode: int = 0o755

    @property
    def file_mode(self) -> int:
        """Mode for cached files: the folder mode without execute bits."""
        return self.mode & 0o666


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """The control socket (contract section 7)."""

    socket: Path = DEFAULT_SOCKET
    mode: int = 0o660


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Optional TCP listener; `token` guards POST routes there."""

    listen: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """`listen` split into (host, port), IPv6 brackets removed; None when off."""
        return None if self.listen is None else split_listen(self.listen)


@dataclass(frozen=True, slots=True)
class TwitchConfig:
    """Helix credentials and endpoints. `client_secret` is the effective secret (env,
    file value or the contents of `client_secret_file`)."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    client_secret_file: Path | None = None
    api_base: str = DEFAULT_API_BASE
    auth_url: str = DEFAULT_AUTH_URL

    @property
    def has_credentials(self) -> bool:
        """True when both a client id and a secret are known."""
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True, slots=True)
class DownloadConfig:
    """Download policy (contract section 5); `concurrency` is the size of the one transfer
    pool every pass shares (and the most downloads in flight at once)."""

    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    require_https: bool = True
    allow_private_networks: bool = False
    timeout: float = 15.0
    max_bytes: int = 10485760
    concurrency: int = 4


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """Exponential backoff for failed downloads, in seconds."""

    initial: float = 60.0
    max: float = 86400.0


@dataclass(frozen=True, slots=True)
class NfoConfig:
    """What is written next to the recordings (contract section 3.2). `sidecars` is how the
    image files the media servers need are placed: `copy` (a reflink where the file system
    can), `hardlink`, or `none` (no image files at all). A `path_map` target may be an
    absolute path or a URL prefix such as `smb://nas/recordings`."""

    write: bool = True
    path_map: tuple[PathMapEntry, ...] = ()
    sidecars: Sidecars = "copy"
    season_poster: SeasonPoster = "profile"
    #: An episode NFO another program wrote as a `<movie>` (ganymede): `merge` into it and
    #: keep its root, `episode` also renames the root to `<episodedetails>` (for Kodi),
    #: `keep` leaves it byte for byte (docs/layouts.md).
    movie_nfo: MovieNfo = "merge"


@dataclass(frozen=True, slots=True)
class NotifyServer:
    """One `notify` entry: a media server told what svimaged wrote (contract section 9).

    `secret` is the password (Kodi), API key (Jellyfin, Emby) or token (Plex) as read at load
    from `secret_file` or the variable `secret_env`; it is never rendered or logged.
    `path_map` None means `nfo.path_map`."""

    type: NotifyType
    url: str
    name: str
    path_map: tuple[PathMapEntry, ...] | None = None
    username: str | None = None  # Kodi only
    secret_file: Path | None = None
    secret_env: str | None = None
    secret: str = field(default="", repr=False)

    @property
    def secret_key(self) -> str:
        """The credential's name in the config (`password`, `api_key` or `token`)."""
        return NOTIFY_SECRET[self.type]


@dataclass(frozen=True, slots=True)
class CleanupConfig:
    """Periodic cleanup in seconds; None = only on request."""

    interval: float | None = None


@dataclass(frozen=True, slots=True)
class ArtworkConfig:
    """Whether ffmpeg may grab a frame when no other artwork exists (used only when ffmpeg
    and ffprobe are on PATH)."""

    ffmpeg: bool = True


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """File watching and rescans, in seconds."""

    mode: WatchMode = "auto"
    settle_seconds: float = 5.0
    rescan_interval: float = 21600.0
    poll_interval: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    recordings: Path
    state_dir: Path = DEFAULT_STATE_DIR
    images: ImagesConfig = field(default_factory=ImagesConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    twitch: TwitchConfig = field(default_factory=TwitchConfig)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    refresh_interval: float = 604800.0
    workers: int = DEFAULT_WORKERS  # daemon threads that process streamer folders
    media_servers: tuple[MediaServer, ...] = DEFAULT_MEDIA_SERVERS  # who reads the library
    nfo: NfoConfig = field(default_factory=NfoConfig)
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    artwork: ArtworkConfig = field(default_factory=ArtworkConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    #: Media servers told what each pass wrote (none by default).
    notify: tuple[NotifyServer, ...] = ()
    log_level: LogLevel = "info"
    #: The zone of times written without one (streamlink recorders' file names) and of the
    #: months that number seasons: `local` (the host's), `UTC` or an IANA name.
    timezone: str = LOCAL_TIME

    @property
    def tz(self) -> tzinfo | None:
        """`timezone` as a tzinfo; None for the host's local time."""
        if self.timezone == LOCAL_TIME:
            return None
        if self.timezone.upper() == "UTC":
            return UTC
        return ZoneInfo(self.timezone)

    @property
    def images_root(self) -> Path:
        """`<recordings>/<images.dir>`, the root of the image cache."""
        return self.recordings / self.images.dir

    def notify_path_map(self, server: NotifyServer) -> tuple[PathMapEntry, ...]:
        """The paths `server` sees: its own `path_map`, else `nfo.path_map`."""
        return self.nfo.path_map if server.path_map is None else server.path_map

    @property
    def state_db(self) -> Path:
        """The SQLite state file."""
        return self.state_dir / "state.db"
