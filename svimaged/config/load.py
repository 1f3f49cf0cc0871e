"""Loading and validating the configuration (contract section 9).

`load_config` reads the YAML file, `parse_config` turns the parsed data into the frozen
dataclasses of `model`. Every problem is collected (not just the first) and raised together as one
`ConfigError`, each line `key.path: message`, e.g.
`download.timeout: must be a positive number, got -3`. Secrets never appear in messages,
in `repr()` or in `render_config` output. The `notify` list has its own module (`notify`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import cast, get_args

import yaml

from svimaged.config.fields import (
    LOCAL_TIME,
    Section,
    field_names,
    is_filled_list,
    is_folder_name,
    is_host,
    is_listen,
    is_timezone,
    is_token,
    show_value,
    yaml_number,
)
from svimaged.config.model import (
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_API_BASE,
    DEFAULT_AUTH_URL,
    DEFAULT_CONFIG_PATH,
    DEFAULT_MEDIA_SERVERS,
    DEFAULT_SOCKET,
    DEFAULT_STATE_DIR,
    DEFAULT_WORKERS,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_CONFIG,
    MASK,
    ArtworkConfig,
    CleanupConfig,
    Config,
    ControlConfig,
    DownloadConfig,
    HttpConfig,
    ImagesConfig,
    LogLevel,
    MediaServer,
    MovieNfo,
    NfoConfig,
    NotifyServer,
    PathMapEntry,
    RetryConfig,
    SeasonPoster,
    Sidecars,
    TwitchConfig,
    WatchConfig,
    WatchMode,
)
from svimaged.config.notify import notify_to_dict, parse_notify
from svimaged.config.readers import read_path_map, read_secret_file
from svimaged.core.errors import ConfigError

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


def require_recordings(config: Config) -> None:
    """`ConfigError` (`recordings: <path> is not a directory`) unless the recordings folder
    exists: what `run` and `check-config` need beyond a valid file."""
    if not config.recordings.is_dir():
        raise ConfigError([f"recordings: {config.recordings} is not a directory"])


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
        workers=top.integer("workers", DEFAULT_WORKERS, 1, 32),
        media_servers=_media_servers(top),
        nfo=_nfo(top.sub("nfo", NfoConfig)),
        cleanup=CleanupConfig(top.sub("cleanup", CleanupConfig).optional_number("interval")),
        artwork=ArtworkConfig(top.sub("artwork", ArtworkConfig).boolean("ffmpeg", True)),
        watch=_watch(top.sub("watch", WatchConfig)),
        notify=parse_notify(top, env),
        log_level=cast(LogLevel, top.choice("log_level", "info", LogLevel)),
        timezone=cast(
            str,
            top.get(
                "timezone", LOCAL_TIME, is_timezone, "local, UTC or a zone name like Europe/Berlin"
            ),
        ),
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
        secret = read_secret_file(sec, "client_secret_file", secret_file)
    return TwitchConfig(
        client_id=client_id,
        client_secret=secret,
        client_secret_file=secret_file,
        api_base=sec.url("api_base", DEFAULT_API_BASE).rstrip("/"),
        auth_url=sec.url("auth_url", DEFAULT_AUTH_URL),
    )


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
        path_map=read_path_map(sec),
        sidecars=cast(Sidecars, sec.choice("sidecars", "copy", Sidecars)),
        season_poster=cast(SeasonPoster, sec.choice("season_poster", "profile", SeasonPoster)),
        movie_nfo=cast(MovieNfo, sec.choice("movie_nfo", "merge", MovieNfo)),
    )


def _media_servers(sec: Section) -> tuple[MediaServer, ...]:
    allowed = get_args(MediaServer)
    raw = sec.get(
        "media_servers", None, is_filled_list, f"a non-empty list of {', '.join(allowed)}"
    )
    if raw is None:
        return DEFAULT_MEDIA_SERVERS
    servers: list[MediaServer] = []
    for index, item in enumerate(cast("list[object]", raw)):
        name = item.strip().lower() if isinstance(item, str) else None
        if name not in allowed:
            sec.problem(
                f"media_servers[{index}]",
                f"must be one of {', '.join(allowed)}, got {show_value(item)}",
            )
        elif name not in servers:
            servers.append(cast(MediaServer, name))
    return tuple(servers)


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
    if isinstance(value, NotifyServer):
        return notify_to_dict(value)  # the file's keys; the secret itself is never shown
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
