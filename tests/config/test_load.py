"""Tests for svimaged.config.load: defaults, validation messages, env, secrets, YAML loading."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from svimaged.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    PathMapEntry,
    config_path_from,
    config_to_dict,
    load_config,
    parse_config,
    render_config,
)
from svimaged.core.errors import ConfigError
from svimaged.nfo.refs import map_path

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "svimaged.yaml"
NO_ENV: dict[str, str] = {}


def parse(extra: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Config:
    data: dict[str, Any] = {"recordings": "/recordings", **(extra or {})}
    return parse_config(data, NO_ENV if env is None else env)


def problems_of(data: object, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, NO_ENV if env is None else env)
    return info.value.problems


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- defaults


def test_defaults_match_spec_section_9() -> None:
    cfg = parse()
    assert cfg.recordings == Path("/recordings")
    assert cfg.state_dir == Path("/var/lib/svimaged")
    assert (cfg.images.dir, cfg.images.mode, cfg.images.file_mode) == (".images", 0o755, 0o644)
    assert cfg.control.socket == Path("/run/svimaged/control.sock")
    assert cfg.control.mode == 0o660
    assert (cfg.http.listen, cfg.http.token, cfg.http.listen_address) == (None, None, None)
    assert cfg.twitch.client_id == "" and cfg.twitch.client_secret == ""
    assert cfg.twitch.client_secret_file is None
    assert cfg.twitch.api_base == "https://api.twitch.tv/helix"
    assert cfg.twitch.auth_url == "https://id.twitch.tv/oauth2/token"
    assert not cfg.twitch.has_credentials
    assert cfg.download.allowed_hosts == (
        "static-cdn.jtvnw.net",
        "vod-secure.twitch.tv",
        "clips-media-assets2.twitch.tv",
    )
    assert cfg.download.require_https is True
    assert cfg.download.allow_private_networks is False
    assert (cfg.download.timeout, cfg.download.max_bytes, cfg.download.concurrency) == (
        15.0,
        10 * 1024 * 1024,
        4,
    )
    assert (cfg.retry.initial, cfg.retry.max) == (60.0, 86400.0)
    assert cfg.refresh_interval == 7 * 24 * 3600
    assert (cfg.nfo.write, cfg.nfo.path_map) == (True, ())
    assert (cfg.nfo.sidecars, cfg.nfo.season_poster) == ("copy", "profile")
    assert cfg.media_servers == ("kodi", "jellyfin")
    assert cfg.cleanup.interval is None
    assert cfg.artwork.ffmpeg is True
    assert cfg.watch.mode == "auto"
    assert (cfg.watch.settle_seconds, cfg.watch.rescan_interval) == (5.0, 21600.0)
    assert cfg.watch.poll_interval == 30.0
    assert cfg.log_level == "info"
    assert cfg.images_root == Path("/recordings/.images")
    assert cfg.state_db == Path("/var/lib/svimaged/state.db")


def test_config_is_frozen() -> None:
    cfg = parse()
    with pytest.raises(AttributeError):
        cfg.recordings = Path("/other")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cfg.download.timeout = 1.0  # type: ignore[misc]


def test_null_section_means_defaults() -> None:
    assert parse({"http": None, "watch": None, "nfo": {}}) == parse()


def test_valid_non_default_values() -> None:
    cfg = parse(
        {
            "recordings": "/srv/recordings/",
            "images": {"dir": "cache", "mode": "0750"},
            "control": {"mode": "600"},
            "http": {"listen": "[::1]:8080", "token": "tok"},
            "twitch": {"api_base": "http://127.0.0.1:8999/helix/"},
            "download": {
                "allowed_hosts": ["Static-CDN.jtvnw.net.", "127.0.0.1", "static-cdn.jtvnw.net"],
                "timeout": 2.5,
                "max_bytes": 1024,
                "concurrency": 64,
                "require_https": False,
                "allow_private_networks": True,
            },
            "retry": {"initial": 1, "max": 1},
            "refresh_interval": 0,
            "nfo": {
                "path_map": [{"from": "/srv/recordings/", "to": "/data/tv"}],
                "sidecars": "hardlink",
                "season_poster": "category",
                "write": False,
            },
            "cleanup": {"interval": 3600},
            "artwork": {"ffmpeg": True},
            "watch": {"mode": "polling", "settle_seconds": 0},
            "log_level": "debug",
        }
    )
    assert cfg.recordings == Path("/srv/recordings")
    assert cfg.images_root == Path("/srv/recordings/cache")
    assert (cfg.images.mode, cfg.images.file_mode, cfg.control.mode) == (0o750, 0o640, 0o600)
    assert cfg.http.listen_address == ("::1", 8080)
    assert cfg.twitch.api_base == "http://127.0.0.1:8999/helix"
    assert cfg.download.allowed_hosts == ("static-cdn.jtvnw.net", "127.0.0.1")
    assert isinstance(cfg.download.timeout, float) and cfg.download.timeout == 2.5
    assert isinstance(cfg.retry.initial, float)
    assert cfg.refresh_interval == 0.0
    assert cfg.nfo.path_map == (PathMapEntry("/srv/recordings", "/data/tv"),)
    assert map_path("/srv/recordings/.images/x.jpg", cfg.nfo.path_map) == "/data/tv/.images/x.jpg"
    assert (cfg.nfo.sidecars, cfg.nfo.season_poster, cfg.nfo.write) == (
        "hardlink",
        "category",
        False,
    )
    assert (cfg.cleanup.interval, cfg.artwork.ffmpeg) == (3600.0, True)
    assert (cfg.watch.mode, cfg.watch.settle_seconds, cfg.log_level) == ("polling", 0.0, "debug")


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("localhost:1", ("localhost", 1)),
        ("0.0.0.0:65535", ("0.0.0.0", 65535)),
        ("[::1]:80", ("::1", 80)),
    ],
)
def test_listen_address(listen: str, address: tuple[str, int]) -> None:
    assert parse({"http": {"listen": listen}}).http.listen_address == address


# ---------------------------------------------------------------------------- bad values

BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"recordings": "recordings"}, 'recordings: must be an absolute path, got "recordings"'),
    ({"recordings": None}, "recordings: must be an absolute path, got null"),
    ({"recordings": 5}, "recordings: must be an absolute path, got 5"),
    (
        {"state_dir": "var/lib/svimaged"},
        'state_dir: must be an absolute path, got "var/lib/svimaged"',
    ),
    (
        {"images": {"dir": "a/b"}},
        "images.dir: must be one folder name (no '/', '.' or '..'), got \"a/b\"",
    ),
    (
        {"images": {"dir": ".."}},
        "images.dir: must be one folder name (no '/', '.' or '..'), got \"..\"",
    ),
    (
        {"images": {"dir": ""}},
        "images.dir: must be one folder name (no '/', '.' or '..'), got \"\"",
    ),
    (
        {"images": {"mode": 493}},
        'images.mode: must be a quoted octal string from "0000" to "0777", got 493',
    ),
    (
        {"images": {"mode": "0999"}},
        'images.mode: must be a quoted octal string from "0000" to "0777", got "0999"',
    ),
    (
        {"images": {"mode": "1777"}},
        'images.mode: must be a quoted octal string from "0000" to "0777", got "1777"',
    ),
    ({"images": ".images"}, 'images: must be a mapping, got ".images"'),
    (
        {"control": {"socket": "control.sock"}},
        'control.socket: must be an absolute path, got "control.sock"',
    ),
    (
        {"control": {"mode": "rw-rw----"}},
        'control.mode: must be a quoted octal string from "0000" to "0777", got "rw-rw----"',
    ),
    (
        {"http": {"listen": "8000"}},
        'http.listen: must be "host:port" (port 1-65535) or null, got "8000"',
    ),
    (
        {"http": {"listen": "127.0.0.1:0"}},
        'http.listen: must be "host:port" (port 1-65535) or null, got "127.0.0.1:0"',
    ),
    (
        {"http": {"listen": "127.0.0.1:70000"}},
        'http.listen: must be "host:port" (port 1-65535) or null, got "127.0.0.1:70000"',
    ),
    (
        {"http": {"listen": ":8000"}},
        'http.listen: must be "host:port" (port 1-65535) or null, got ":8000"',
    ),
    ({"http": {"token": ""}}, "http.token: must be a non-empty string or null, got a string"),
    ({"http": {"token": 1234}}, "http.token: must be a non-empty string or null, got a number"),
    ({"twitch": {"client_id": 42}}, "twitch.client_id: must be a string, got 42"),
    ({"twitch": {"client_secret": None}}, "twitch.client_secret: must be a string, got null"),
    (
        {"twitch": {"client_secret_file": "secret.txt"}},
        'twitch.client_secret_file: must be an absolute path or null, got "secret.txt"',
    ),
    (
        {"twitch": {"api_base": "ftp://api.twitch.tv"}},
        'twitch.api_base: must be an http:// or https:// URL, got "ftp://api.twitch.tv"',
    ),
    (
        {"twitch": {"auth_url": "id.twitch.tv/oauth2"}},
        'twitch.auth_url: must be an http:// or https:// URL, got "id.twitch.tv/oauth2"',
    ),
    ({"download": {"timeout": -3}}, "download.timeout: must be a positive number, got -3"),
    ({"download": {"timeout": 0}}, "download.timeout: must be a positive number, got 0"),
    ({"download": {"timeout": "15"}}, 'download.timeout: must be a positive number, got "15"'),
    ({"download": {"timeout": True}}, "download.timeout: must be a positive number, got true"),
    (
        {"download": {"timeout": float("nan")}},
        "download.timeout: must be a positive number, got nan",
    ),
    (
        {"download": {"timeout": float("inf")}},
        "download.timeout: must be a positive number, got inf",
    ),
    ({"download": {"max_bytes": 1000}}, "download.max_bytes: must be an integer >= 1024, got 1000"),
    (
        {"download": {"max_bytes": 2048.5}},
        "download.max_bytes: must be an integer >= 1024, got 2048.5",
    ),
    (
        {"download": {"concurrency": 0}},
        "download.concurrency: must be an integer from 1 to 64, got 0",
    ),
    (
        {"download": {"concurrency": 65}},
        "download.concurrency: must be an integer from 1 to 64, got 65",
    ),
    (
        {"download": {"concurrency": False}},
        "download.concurrency: must be an integer from 1 to 64, got false",
    ),
    (
        {"download": {"require_https": "yes"}},
        'download.require_https: must be true or false, got "yes"',
    ),
    (
        {"download": {"allow_private_networks": 1}},
        "download.allow_private_networks: must be true or false, got 1",
    ),
    (
        {"download": {"allowed_hosts": []}},
        "download.allowed_hosts: must be a non-empty list of host names, got a list",
    ),
    (
        {"download": {"allowed_hosts": "a.example"}},
        'download.allowed_hosts: must be a non-empty list of host names, got "a.example"',
    ),
    (
        {"download": {"allowed_hosts": ["ok.example", "bad host"]}},
        'download.allowed_hosts[1]: must be a host name (optionally host:port), got "bad host"',
    ),
    (
        {"download": {"allowed_hosts": ["*.jtvnw.net"]}},
        'download.allowed_hosts[0]: must be a host name (optionally host:port), got "*.jtvnw.net"',
    ),
    (
        {"download": {"allowed_hosts": ["https://static-cdn.jtvnw.net"]}},
        "download.allowed_hosts[0]: must be a host name (optionally host:port), "
        'got "https://static-cdn.jtvnw.net"',
    ),
    (
        {"download": {"allowed_hosts": [7]}},
        "download.allowed_hosts[0]: must be a host name (optionally host:port), got 7",
    ),
    ({"retry": {"initial": 0}}, "retry.initial: must be a positive number, got 0"),
    ({"retry": {"initial": 100, "max": 50}}, "retry.max: must be >= retry.initial (100), got 50"),
    ({"retry": {"max": -1}}, "retry.max: must be a positive number, got -1"),
    ({"refresh_interval": -1}, "refresh_interval: must be a number >= 0, got -1"),
    ({"refresh_interval": None}, "refresh_interval: must be a number >= 0, got null"),
    ({"nfo": {"write": "true"}}, 'nfo.write: must be true or false, got "true"'),
    ({"nfo": {"path_map": [{"to": "/data/tv"}]}}, "nfo.path_map[0].from: required key is missing"),
    (
        {"nfo": {"path_map": [{"from": "/recordings"}]}},
        "nfo.path_map[0].to: required key is missing",
    ),
    (
        {"nfo": {"path_map": [{"from": "recordings", "to": "/data"}]}},
        'nfo.path_map[0].from: must be an absolute path, got "recordings"',
    ),
    (
        {"nfo": {"path_map": [{"from": "/a", "to": "/b"}, {"from": "/c", "to": None}]}},
        "nfo.path_map[1].to: must be an absolute path or a URL prefix such as "
        "smb://nas/tv, got null",
    ),
    (
        {"nfo": {"path_map": [{"from": "/a", "to": "/b", "too": "/c"}]}},
        "nfo.path_map[0].too: unknown key",
    ),
    ({"nfo": {"path_map": ["/a:/b"]}}, 'nfo.path_map[0]: must be a mapping, got "/a:/b"'),
    ({"nfo": {"path_map": [None]}}, "nfo.path_map[0]: must be a mapping, got null"),
    (
        {"nfo": {"path_map": {"from": "/a", "to": "/b"}}},
        "nfo.path_map: must be a list of {from: ..., to: ...} mappings, got a mapping",
    ),
    (
        {"nfo": {"sidecars": "symlink"}},
        'nfo.sidecars: must be copy, hardlink or none, got "symlink"',
    ),
    (
        {"nfo": {"season_poster": None}},
        "nfo.season_poster: must be profile, category or none, got null",
    ),
    ({"cleanup": {"interval": 0}}, "cleanup.interval: must be null or a positive number, got 0"),
    (
        {"cleanup": {"interval": "1h"}},
        'cleanup.interval: must be null or a positive number, got "1h"',
    ),
    ({"artwork": {"ffmpeg": "no"}}, 'artwork.ffmpeg: must be true or false, got "no"'),
    (
        {"watch": {"mode": "inotify2"}},
        'watch.mode: must be auto, inotify or polling, got "inotify2"',
    ),
    ({"watch": {"settle_seconds": -1}}, "watch.settle_seconds: must be a number >= 0, got -1"),
    ({"watch": {"rescan_interval": 0}}, "watch.rescan_interval: must be a positive number, got 0"),
    (
        {"watch": {"poll_interval": -5.5}},
        "watch.poll_interval: must be a positive number, got -5.5",
    ),
    ({"watch": []}, "watch: must be a mapping, got a list"),
    ({"log_level": "INFO"}, 'log_level: must be debug, info, warning or error, got "INFO"'),
    ({"log_level": "trace"}, 'log_level: must be debug, info, warning or error, got "trace"'),
    (
        {"timezone": "Mars/Olympus"},
        'timezone: must be local, UTC or a zone name like Europe/Berlin, got "Mars/Olympus"',
    ),
    ({"timezone": ""}, 'timezone: must be local, UTC or a zone name like Europe/Berlin, got ""'),
    (
        {"timezone": "../../etc/passwd"},
        'timezone: must be local, UTC or a zone name like Europe/Berlin, got "../../etc/passwd"',
    ),
    ({"timezone": 1}, "timezone: must be local, UTC or a zone name like Europe/Berlin, got 1"),
    (
        {"nfo": {"movie_nfo": "replace"}},
        'nfo.movie_nfo: must be merge, episode or keep, got "replace"',
    ),
    ({"recording": "/typo"}, "recording: unknown key"),
    ({"download": {"timeout_s": 3}}, "download.timeout_s: unknown key"),
    ({"twitch": {"clientid": "x"}}, "twitch.clientid: unknown key"),
]


@pytest.mark.parametrize(
    ("extra", "expected"), BAD_CONFIGS, ids=[expected.split(":")[0] for _, expected in BAD_CONFIGS]
)
def test_bad_value_is_named_by_key_path(extra: dict[str, Any], expected: str) -> None:
    assert problems_of({"recordings": "/recordings", **extra}) == [expected]


def test_missing_recordings_is_required() -> None:
    assert problems_of({"state_dir": "/var/lib/svimaged"}) == [
        "recordings: required key is missing"
    ]
    assert problems_of(None) == ["recordings: required key is missing"]


def test_all_problems_are_reported_at_once() -> None:
    data = {
        "recordings": "rel",
        "download": {"timeout": -3, "bogus": 1},
        "watch": {"mode": "x"},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, NO_ENV)
    assert info.value.problems == [
        'recordings: must be an absolute path, got "rel"',
        "download.bogus: unknown key",
        "download.timeout: must be a positive number, got -3",
        'watch.mode: must be auto, inotify or polling, got "x"',
    ]
    assert str(info.value) == "; ".join(info.value.problems)
    assert info.value.exit_code == 2


def test_non_mapping_top_level() -> None:
    assert problems_of(["a", "b"]) == ["<config>: the top level must be a mapping, got a list"]
    with pytest.raises(ConfigError) as info:
        parse_config("recordings", NO_ENV, source="/etc/x.yaml")
    assert info.value.problems == ['/etc/x.yaml: the top level must be a mapping, got "recordings"']


def test_long_string_values_are_shortened_in_messages() -> None:
    (problem,) = problems_of({"recordings": "x" * 500})
    assert problem.startswith('recordings: must be an absolute path, got "xxx')
    assert len(problem) < 140


# ---------------------------------------------------------------------------- env and secrets


def test_env_overrides_twitch_credentials() -> None:
    cfg = parse(
        {"twitch": {"client_id": "file-id", "client_secret": "file-secret"}},
        env={
            "SVIMAGED_TWITCH_CLIENT_ID": " env-id ",
            "SVIMAGED_TWITCH_CLIENT_SECRET": "env-secret\n",
        },
    )
    assert (cfg.twitch.client_id, cfg.twitch.client_secret) == ("env-id", "env-secret")
    assert cfg.twitch.has_credentials


def test_empty_env_values_do_not_override() -> None:
    env = {"SVIMAGED_TWITCH_CLIENT_ID": "", "SVIMAGED_TWITCH_CLIENT_SECRET": ""}
    cfg = parse({"twitch": {"client_id": "id", "client_secret": "s"}}, env=env)
    assert (cfg.twitch.client_id, cfg.twitch.client_secret) == ("id", "s")


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVIMAGED_TWITCH_CLIENT_ID", "from-os")
    monkeypatch.setenv("SVIMAGED_TWITCH_CLIENT_SECRET", "os-secret")
    cfg = parse_config({"recordings": "/r"})
    assert (cfg.twitch.client_id, cfg.twitch.client_secret) == ("from-os", "os-secret")


def test_id_without_secret_has_no_credentials() -> None:
    assert not parse({"twitch": {"client_id": "id"}}).twitch.has_credentials
    assert not parse({"twitch": {"client_secret": "s"}}).twitch.has_credentials


def test_secret_file_is_read_and_stripped(tmp_path: Path) -> None:
    secret = write(tmp_path, "  file-secret \n", "secret")
    cfg = parse({"twitch": {"client_id": "id", "client_secret_file": str(secret)}})
    assert cfg.twitch.client_secret == "file-secret"
    assert cfg.twitch.client_secret_file == secret
    assert cfg.twitch.has_credentials


def test_secret_in_file_or_env_wins_over_secret_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    cfg = parse({"twitch": {"client_secret": "inline", "client_secret_file": missing}})
    assert cfg.twitch.client_secret == "inline"
    env = {"SVIMAGED_TWITCH_CLIENT_SECRET": "env"}
    cfg = parse({"twitch": {"client_secret_file": missing}}, env=env)
    assert cfg.twitch.client_secret == "env"


def test_unreadable_secret_file_names_the_key(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    (problem,) = problems_of({"recordings": "/r", "twitch": {"client_secret_file": str(missing)}})
    assert problem.startswith(f"twitch.client_secret_file: cannot read '{missing}': ")


def test_secret_file_without_permission_names_the_file_and_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write(tmp_path, "s", "secret")
    real_read = Path.read_text

    def refuse(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == secret:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    (problem,) = problems_of({"recordings": "/r", "twitch": {"client_secret_file": str(secret)}})
    assert problem == (
        f"twitch.client_secret_file: cannot read '{secret}': permission denied for uid "
        f"{os.getuid()} (gid {os.getgid()}); make the file readable by that user or group"
    )


def test_secret_file_of_another_user_is_a_permission_problem() -> None:
    """For real: a root-owned 0600 file (as a Compose secret keeps it) read by uid 65534; as
    a non-root user, a file with mode 0."""
    child = (
        "import os, sys\n"
        "from svimaged.config.load import parse_config\n"
        "from svimaged.core.errors import ConfigError\n"
        "if os.getuid() == 0:\n"
        "    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "data = {'recordings': '/r', 'twitch': {'client_secret_file': sys.argv[1]}}\n"
        "try:\n"
        "    parse_config(data, {})\n"
        "except ConfigError as exc:\n"
        "    print(exc.problems[0])\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # only the file itself refuses
        secret = Path(folder) / "twitch_secret"
        secret.write_text("s", encoding="utf-8")
        secret.chmod(0o600 if os.getuid() == 0 else 0)
        result = subprocess.run(
            [sys.executable, "-c", child, str(secret)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    uid = 65534 if os.getuid() == 0 else os.getuid()
    assert f"'{secret}': permission denied for uid {uid} " in result.stdout, result.stderr


def test_secret_file_that_is_a_folder_names_the_key(tmp_path: Path) -> None:
    (problem,) = problems_of({"recordings": "/r", "twitch": {"client_secret_file": str(tmp_path)}})
    assert problem.startswith("twitch.client_secret_file: cannot read ")


def test_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    empty = write(tmp_path, "\n\n", "secret")
    assert problems_of({"recordings": "/r", "twitch": {"client_secret_file": str(empty)}}) == [
        f"twitch.client_secret_file: '{empty}' is empty"
    ]


def test_render_masks_secrets() -> None:
    cfg = parse(
        {"twitch": {"client_id": "visible-id"}, "http": {"token": "tok-XYZ"}},
        env={"SVIMAGED_TWITCH_CLIENT_SECRET": "s3cr3t-value"},
    )
    text = render_config(cfg)
    assert "s3cr3t-value" not in text and "tok-XYZ" not in text
    rendered = yaml.safe_load(text)
    assert rendered["twitch"]["client_secret"] == "***"
    assert rendered["http"]["token"] == "***"
    assert rendered["twitch"]["client_id"] == "visible-id"
    assert "s3cr3t-value" not in repr(cfg) and "tok-XYZ" not in repr(cfg)
    plain = config_to_dict(cfg, mask_secrets=False)
    assert plain["twitch"] == {
        "client_id": "visible-id",
        "client_secret": "s3cr3t-value",
        "client_secret_file": None,
        "api_base": "https://api.twitch.tv/helix",
        "auth_url": "https://id.twitch.tv/oauth2/token",
    }


def test_unset_secrets_are_not_shown_as_masked() -> None:
    rendered = yaml.safe_load(render_config(parse()))
    assert rendered["twitch"]["client_secret"] == ""
    assert rendered["http"]["token"] is None


def test_wrong_typed_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"recordings": "/r", "twitch": {"client_secret": 987654321}}, NO_ENV)
    assert info.value.problems == ["twitch.client_secret: must be a string, got a number"]
    assert "987654321" not in str(info.value)


def test_config_to_dict_round_trips(tmp_path: Path) -> None:
    cfg = parse(
        {
            "images": {"mode": "0700"},
            "http": {"listen": "127.0.0.1:8000", "token": "t"},
            "twitch": {"client_id": "i", "client_secret": "s"},
            "download": {"timeout": 2.5, "allowed_hosts": ["a.example"]},
            "nfo": {"path_map": [{"from": "/recordings", "to": "/data/tv"}]},
            "cleanup": {"interval": 60},
        }
    )
    data = config_to_dict(cfg, mask_secrets=False)
    assert data["images"] == {"dir": ".images", "mode": "0700"}
    assert data["nfo"]["path_map"] == [{"from": "/recordings", "to": "/data/tv"}]  # type: ignore[index]
    assert load_config(write(tmp_path, yaml.safe_dump(data)), NO_ENV) == cfg


# ---------------------------------------------------------------------------- files


def test_example_file_is_complete_and_equals_defaults() -> None:
    cfg = load_config(EXAMPLE, NO_ENV)
    assert cfg == parse_config({"recordings": "/recordings"}, NO_ENV)
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    # Same keys and values as the code's defaults: the example cannot drift.
    assert raw == config_to_dict(cfg)


def test_load_config_reads_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "recordings: /data\ndownload:\n  timeout: 3\nlog_level: warning\n")
    cfg = load_config(path, NO_ENV)
    assert (cfg.recordings, cfg.download.timeout, cfg.log_level) == (Path("/data"), 3.0, "warning")


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "recordings: /data\ndownload: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}: not valid YAML: line ")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "recordings: /a\ndownload:\n  timeout: 3\n  timeout: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    assert info.value.problems == [
        f"{path}: not valid YAML: line 4, column 3: duplicate key 'timeout'"
    ]


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = "x: &base {timeout: 3}\n"
    path = write(tmp_path, text + "recordings: /a\ndownload:\n  <<: *base\n  timeout: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    assert info.value.problems == ["x: unknown key"]


def test_unquoted_octal_mode_in_yaml_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, "recordings: /a\nimages:\n  mode: 0755\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    assert info.value.problems == [
        'images.mode: must be a quoted octal string from "0000" to "0777", got 493'
    ]


def test_quoted_yes_is_not_a_boolean(tmp_path: Path) -> None:
    path = write(tmp_path, 'recordings: /a\ndownload:\n  require_https: "yes"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    assert info.value.problems == ['download.require_https: must be true or false, got "yes"']


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- /recordings\n", "the top level must be a mapping, got a list"),
        ("just text\n", 'the top level must be a mapping, got "just text"'),
        ("", None),
    ],
)
def test_non_mapping_file(tmp_path: Path, text: str, expected: str | None) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    wanted = "recordings: required key is missing" if expected is None else f"{path}: {expected}"
    assert info.value.problems == [wanted]


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    assert info.value.problems == [f"{path}: no such file"]


def test_folder_or_binary_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, NO_ENV)
    assert info.value.problems[0].startswith(f"{tmp_path}: cannot read: ")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"recordings: /a\n\xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(binary, NO_ENV)
    assert info.value.problems == [f"{binary}: not UTF-8 text"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "recordings: /a\n")
    path.chmod(0)
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV)
    assert info.value.problems == [f"{path}: cannot read: Permission denied"]


# ---------------------------------------------------------------------------- config path


def test_config_path_from() -> None:
    env = {"SVIMAGED_CONFIG": "/env/config.yaml"}
    assert config_path_from("/cli.yaml", env) == Path("/cli.yaml")
    assert config_path_from(None, env) == Path("/env/config.yaml")
    assert config_path_from(None, {}) == DEFAULT_CONFIG_PATH == Path("/etc/svimaged/config.yaml")
    assert config_path_from(None, {"SVIMAGED_CONFIG": ""}) == DEFAULT_CONFIG_PATH
    assert config_path_from("", env) == Path("/env/config.yaml")


def test_media_servers_are_checked_and_deduplicated() -> None:
    cfg = parse_config({"recordings": "/r", "media_servers": ["Plex", "kodi", "plex"]}, NO_ENV)
    assert cfg.media_servers == ("plex", "kodi")
    with pytest.raises(ConfigError) as err:
        parse_config({"recordings": "/r", "media_servers": ["kodi", "vlc", 3]}, NO_ENV)
    assert err.value.problems == [
        'media_servers[1]: must be one of kodi, jellyfin, emby, plex, got "vlc"',
        "media_servers[2]: must be one of kodi, jellyfin, emby, plex, got 3",
    ]
    with pytest.raises(ConfigError) as err:
        parse_config({"recordings": "/r", "media_servers": []}, NO_ENV)
    assert err.value.problems[0].startswith("media_servers: must be a non-empty list")


@pytest.mark.parametrize(
    ("target", "stored"),
    [
        ("smb://nas/recordings/", "smb://nas/recordings"),
        ("nfs://10.0.0.2/export/tv", "nfs://10.0.0.2/export/tv"),
        ("/data/tv/", "/data/tv"),
    ],
)
def test_path_map_targets_may_be_url_prefixes(target: str, stored: str) -> None:
    data = {"recordings": "/r", "nfo": {"path_map": [{"from": "/r", "to": target}]}}
    assert parse_config(data, NO_ENV).nfo.path_map[0].dst == stored


@pytest.mark.parametrize("target", ["file:///data/tv", "data/tv", "smb://", "smb:/x", "nas/tv"])
def test_path_map_targets_that_no_server_loads_are_refused(target: str) -> None:
    data = {"recordings": "/r", "nfo": {"path_map": [{"from": "/r", "to": target}]}}
    with pytest.raises(ConfigError) as err:
        parse_config(data, NO_ENV)
    assert err.value.problems[0].startswith("nfo.path_map[0].to: must be an absolute path or")


def test_timezone_values() -> None:
    from datetime import UTC

    assert parse().tz is None  # local: the host's
    assert parse({"timezone": "UTC"}).tz is UTC
    berlin = parse({"timezone": "Europe/Berlin"}).tz
    assert berlin is not None and str(berlin) == "Europe/Berlin"
