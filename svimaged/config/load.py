"""Typed, validated configuration (SPEC section 9).

`load_config` reads the YAML file, `parse_config` turns the parsed data into frozen
dataclasses. Every problem is collected (not just the first) and raised together as one
`ConfigError`, each line `key.path: message`, e.g.
`download.timeout: must be a positive number, got -3`. Secrets never appear in messages,
in `repr()` or in `render_config` output.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Literal, NamedTuple, cast

import yaml

from svimaged.config.fields import (
    Section,
    field_names,
    is_filled_list,
    is_folder_name,
    is_host,
    is_list,
    is_listen,
    is_token,
    show_value,
    split_listen,
    yaml_number,
)
from svimaged.core.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/svimaged/config.yaml")
ENV_CONFIG = "SVIMAGED_CONFIG"
ENV_CLIENT_ID = "SVIMAGED_TWITCH_CLIENT_ID"
ENV_CLIENT_SECRET = "SVIMAGED_TWITCH_CLIENT_SECRET"  # noqa: S105 - a variable name
MASK = "***"

Sidecars = Literal["none", "hardlink", "copy"]
SeasonPoster = Literal["profile", "category", "none"]
WatchMode = Literal["auto", "inotify", "polling"]
LogLevel = Literal["debug", "info", "warning", "error"]

DEFAULT_STATE_DIR = Path("/var/lib/svimaged")
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
    """The control socket (SPEC section 7)."""

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
    """Download policy (SPEC section 5)."""

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
    """What the NFO writer does (SPEC section 3.2)."""

    write: bool = True
    path_map: tuple[PathMapEntry, ...] = ()
    sidecars: Sidecars = "none"
    season_poster: SeasonPoster = "profile"


@dataclass(frozen=True, slots=True)
class CleanupConfig:
    """Periodic cleanup in seconds; None = only on request."""

    interval: float | None = None


@dataclass(frozen=True, slots=True)
class ArtworkConfig:
    """Whether ffmpeg may grab a frame when no other artwork exists."""

    ffmpeg: bool = False


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
    nfo: NfoConfig = field(default_factory=NfoConfig)
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    artwork: ArtworkConfig = field(default_factory=ArtworkConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    log_level: LogLevel = "info"

    @property
    def images_root(self) -> Path:
        """`<recordings>/<images.dir>`, the root of the image cache."""
        return self.recordings / self.images.dir

    @property
    def state_db(self) -> Path:
        """The SQLite state file."""
        return self.state_dir / "state.db"


# ---------------------------------------------------------------------------- loading


def config_path_from(cli_value: str | None, env: Mapping[str, str]) -> Path:
    """The config file to read: `--config`, else `$SVIMAGED_CONFIG`, else the default."""
    if cli_value:
        return Path(cli_value)
    from_env = env.get(ENV_CONFIG, "")
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the YAML file at `path`.

    `env` defaults to `os.environ`. Raises `ConfigError` naming the file when it is missing,
    unreadable or not YAML, else listing every invalid key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror or err}"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: not valid YAML: {_yaml_problem(err)}"]) from None
    return parse_config(data, env, source=str(path))


def parse_config(
    data: object, env: Mapping[str, str] | None = None, *, source: str = "<config>"
) -> Config:
    """Validate parsed YAML `data` (None counts as empty) into a `Config`.

    `env` (default `os.environ`) supplies the Twitch overrides. Raises `ConfigError` with
    one `key.path: message` line per problem.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError([f"{source}: the top level must be a mapping, got {show_value(data)}"])
    top = Section(problems, "", data, field_names(Config))
    if not top.has("recordings"):
        top.problem("recordings", "required key is missing")
    control = top.sub("control", ControlConfig)
    cfg = Config(
        recordings=cast(Path, top.abs_path("recordings", Path("/"))),
        state_dir=cast(Path, top.abs_path("state_dir", DEFAULT_STATE_DIR)),
        images=_images(top.sub("images", ImagesConfig)),
        control=ControlConfig(
            socket=cast(Path, control.abs_path("socket", DEFAULT_SOCKET)),
            mode=control.mode("mode", 0o660),
        ),
        http=_http(top.sub("http", HttpConfig)),
        twitch=_twitch(top.sub("twitch", TwitchConfig), env),
        download=_download(top.sub("download", DownloadConfig)),
        retry=_retry(top.sub("retry", RetryConfig)),
        refresh_interval=top.number("refresh_interval", 604800.0, strict=False),
        nfo=_nfo(top.sub("nfo", NfoConfig)),
        cleanup=CleanupConfig(top.sub("cleanup", CleanupConfig).optional_number("interval")),
        artwork=ArtworkConfig(top.sub("artwork", ArtworkConfig).boolean("ffmpeg", False)),
        watch=_watch(top.sub("watch", WatchConfig)),
        log_level=cast(LogLevel, top.choice("log_level", "info", LogLevel)),
    )
    if problems:
        raise ConfigError(problems)
    return cfg


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            if key_node.tag != "tag:yaml.org,2002:merge" and (key_node.tag, key) in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add((key_node.tag, key))
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is None:
        return str(problem)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


# ---------------------------------------------------------------------------- sections


def _images(sec: Section) -> ImagesConfig:
    folder = sec.get("dir", ".images", is_folder_name, "one folder name (no '/', '.' or '..')")
    return ImagesConfig(dir=cast(str, folder), mode=sec.mode("mode", 0o755))


def _http(sec: Section) -> HttpConfig:
    listen = sec.get("listen", None, is_listen, '"host:port" (port 1-65535) or null')
    token = sec.get("token", None, is_token, "a non-empty string or null", secret=True)
    return HttpConfig(listen=cast("str | None", listen), token=cast("str | None", token))


def _twitch(sec: Section, env: Mapping[str, str]) -> TwitchConfig:
    client_id = sec.string("client_id", "").strip()
    secret = sec.string("client_secret", "", secret=True).strip()
    secret_file = sec.abs_path("client_secret_file", None, nullable=True)
    client_id = env.get(ENV_CLIENT_ID, "").strip() or client_id
    env_secret = env.get(ENV_CLIENT_SECRET, "").strip()
    if env_secret:
        secret = env_secret
    elif not secret and secret_file is not None:
        secret = _read_secret(sec, secret_file)
    return TwitchConfig(
        client_id=client_id,
        client_secret=secret,
        client_secret_file=secret_file,
        api_base=sec.url("api_base", DEFAULT_API_BASE).rstrip("/"),
        auth_url=sec.url("auth_url", DEFAULT_AUTH_URL),
    )


def _read_secret(sec: Section, path: Path) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except PermissionError:
        # A container secret keeps the host file's owner and mode: say who must read it.
        sec.problem(
            "client_secret_file",
            f"cannot read {str(path)!r}: permission denied for uid {os.getuid()} "
            f"(gid {os.getgid()}); make the file readable by that user or group",
        )
        return ""
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        sec.problem("client_secret_file", f"cannot read {str(path)!r}: {reason}")
        return ""
    if not secret:
        sec.problem("client_secret_file", f"{str(path)!r} is empty")
    return secret


def _download(sec: Section) -> DownloadConfig:
    return DownloadConfig(
        allowed_hosts=_hosts(sec),
        require_https=sec.boolean("require_https", True),
        allow_private_networks=sec.boolean("allow_private_networks", False),
        timeout=sec.number("timeout", 15.0),
        max_bytes=sec.integer("max_bytes", 10485760, 1024, None),
        concurrency=sec.integer("concurrency", 4, 1, 64),
    )


def _hosts(sec: Section) -> tuple[str, ...]:
    raw = sec.get("allowed_hosts", None, is_filled_list, "a non-empty list of host names")
    if raw is None:
        return DEFAULT_ALLOWED_HOSTS
    hosts: list[str] = []
    for index, item in enumerate(cast("list[object]", raw)):
        host = item.strip().lower().rstrip(".") if isinstance(item, str) else ""
        if not is_host(host):
            sec.problem(
                f"allowed_hosts[{index}]",
                f"must be a host name (optionally host:port), got {show_value(item)}",
            )
        elif host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def _retry(sec: Section) -> RetryConfig:
    initial = sec.number("initial", 60.0)
    maximum = sec.number("max", 86400.0)
    if maximum < initial:
        sec.problem(
            "max", f"must be >= retry.initial ({show_value(initial)}), got {show_value(maximum)}"
        )
    return RetryConfig(initial=initial, max=maximum)


def _nfo(sec: Section) -> NfoConfig:
    return NfoConfig(
        write=sec.boolean("write", True),
        path_map=_path_map(sec),
        sidecars=cast(Sidecars, sec.choice("sidecars", "none", Sidecars)),
        season_poster=cast(SeasonPoster, sec.choice("season_poster", "profile", SeasonPoster)),
    )


def _path_map(sec: Section) -> tuple[PathMapEntry, ...]:
    raw = sec.get("path_map", [], is_list, "a list of {from: ..., to: ...} mappings")
    entries: list[PathMapEntry] = []
    for index, item in enumerate(cast("list[object]", raw)):
        if not isinstance(item, Mapping):
            sec.problem(f"path_map[{index}]", f"must be a mapping, got {show_value(item)}")
            continue
        entry = Section(sec.problems, sec.key(f"path_map[{index}]"), item, ("from", "to"))
        ends: list[str] = []
        for name in ("from", "to"):
            if not entry.has(name):
                entry.problem(name, "required key is missing")
            path = entry.abs_path(name, None)
            if path is not None:
                ends.append(str(path))
        if len(ends) == 2:
            entries.append(PathMapEntry(*ends))
    return tuple(entries)


def _watch(sec: Section) -> WatchConfig:
    return WatchConfig(
        mode=cast(WatchMode, sec.choice("mode", "auto", WatchMode)),
        settle_seconds=sec.number("settle_seconds", 5.0, strict=False),
        rescan_interval=sec.number("rescan_interval", 21600.0),
        poll_interval=sec.number("poll_interval", 30.0),
    )


# ---------------------------------------------------------------------------- output


def config_to_dict(cfg: Config, *, mask_secrets: bool = True) -> dict[str, object]:
    """The effective config as plain YAML-able data in the file's key names: paths as
    strings, modes as "0755", path_map as `[{from, to}]`, whole floats as integers.
    Secrets that are set become "***" unless `mask_secrets` is False."""
    out = cast("dict[str, object]", _plain(cfg))
    if mask_secrets:
        for section, key in (("twitch", "client_secret"), ("http", "token")):
            values = cast("dict[str, object]", out[section])
            if values[key]:
                values[key] = MASK
    return out


def _plain(value: object, name: str = "") -> object:
    if isinstance(value, PathMapEntry):
        return {"from": value.src, "to": value.dst}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and name == "mode":
        return f"{value:04o}"
    if isinstance(value, float):
        return yaml_number(value)
    return str(value) if isinstance(value, Path) else value


def render_config(cfg: Config) -> str:
    """YAML text of the effective config with secrets masked (for `check-config`)."""
    return yaml.safe_dump(
        config_to_dict(cfg), sort_keys=False, default_flow_style=False, allow_unicode=True
    )
