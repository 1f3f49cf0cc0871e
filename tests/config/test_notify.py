"""The `notify` list: entries, names, path maps, credentials from files and the environment
(never inline), the problems naming each key, and secrets kept out of every rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from svimaged.config import Config, NotifyServer, PathMapEntry, parse_config, render_config
from svimaged.core.errors import ConfigError

SECRET = "s3cr3t-key-do-not-show"


def parse(notify: object, env: dict[str, str] | None = None, **extra: Any) -> Config:
    return parse_config({"recordings": "/srv/rec", "notify": notify, **extra}, env or {})


def problems(notify: object, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(notify, env)
    return info.value.problems


def test_entries_with_names_maps_and_credentials(tmp_path: Path) -> None:
    key_file = tmp_path / "jellyfin.key"
    key_file.write_text(f"  {SECRET}\n", encoding="utf-8")
    cfg = parse(
        [
            {"type": "kodi", "url": "http://livingroom:8080/", "username": "me",
             "password_env": "KODI_PW"},
            {"type": "jellyfin", "url": "https://jf.example/base", "api_key_file": str(key_file),
             "path_map": [{"from": "/srv/rec", "to": "/data/tv"}]},
            {"type": "kodi", "url": "http://bedroom:8080"},
            {"type": "plex", "url": "http://plex:32400", "name": "plex.main", "token_env": "PT"},
        ],
        env={"KODI_PW": "pw\n", "PT": "tok"},
        nfo={"path_map": [{"from": "/srv/rec", "to": "smb://nas/rec"}]},
    )  # fmt: skip
    kodi, jellyfin, kodi2, plex = cfg.notify
    assert kodi == NotifyServer(
        "kodi", "http://livingroom:8080", "kodi", None, "me", None, "KODI_PW", "pw"
    )
    assert (jellyfin.name, jellyfin.url, jellyfin.secret) == (
        "jellyfin",
        "https://jf.example/base",
        SECRET,
    )
    assert jellyfin.secret_file == key_file
    assert (kodi2.name, kodi2.secret, kodi2.username) == ("kodi-2", "", None)
    assert (plex.name, plex.secret, plex.secret_key) == ("plex.main", "tok", "token")
    assert cfg.notify_path_map(jellyfin) == (PathMapEntry("/srv/rec", "/data/tv"),)
    assert cfg.notify_path_map(kodi) == (PathMapEntry("/srv/rec", "smb://nas/rec"),)


def test_no_entries_by_default_and_null_is_none() -> None:
    assert parse_config({"recordings": "/r"}, {}).notify == ()
    assert parse(None).notify == ()


URL_RULE = "must be an http:// or https:// URL without user or query, got"
PLEX = {"type": "plex", "url": "http://p"}
KODI = {"type": "kodi", "url": "http://k"}


@pytest.mark.parametrize(
    ("notify", "env", "expected"),
    [
        ({"type": "kodi"}, {}, "notify: must be a list of servers, got a mapping"),
        ([3], {}, "notify[0]: must be a mapping with type and url, got 3"),
        ([{"url": "http://k"}], {}, "notify[0].type: required key is missing (kodi, jellyfin"),
        ([{**KODI, "type": "xbmc"}], {}, "notify[0].type: must be kodi, jellyfin, emby or plex"),
        ([{"type": "kodi"}], {}, "notify[0].url: required key is missing"),
        ([{**KODI, "url": "ftp://k"}], {}, f'notify[0].url: {URL_RULE} "ftp://k"'),
        ([{**KODI, "url": "http://me:pw@k"}], {}, f'notify[0].url: {URL_RULE} "http://me:pw@k"'),
        ([{**PLEX, "url": "http://p?X-Plex-Token=1"}], {}, f"notify[0].url: {URL_RULE}"),
        ([{**KODI, "bogus": 1}], {}, "notify[0].bogus: unknown key"),
        ([{**KODI, "token_file": "/t"}], {}, "notify[0].token_file: not a key of type kodi"),
        ([{**PLEX, "username": "u"}], {}, "notify[0].username: not a key of type plex (only of"),
        (
            [{"type": "jellyfin", "url": "http://j"}],
            {},
            "notify[0].api_key_file: jellyfin needs its API key: set api_key_file or api_key_env",
        ),
        (
            [{"type": "emby", "url": "http://e", "api_key_env": "NOPE"}],
            {},
            "notify[0].api_key_env: the environment variable NOPE is not set or empty",
        ),
        (
            [{"type": "emby", "url": "http://e", "api_key_env": "1BAD"}],
            {},
            'notify[0].api_key_env: must be an environment variable name such as KEY_1, got "1BAD"',
        ),
        (
            [{**PLEX, "token_file": "/nonexistent/t"}],
            {},
            "notify[0].token_file: cannot read '/nonexistent/t': No such file or directory",
        ),
        (
            [{**PLEX, "token_file": "/t", "token_env": "T"}],
            {"T": "x"},
            "notify[0].token_env: give token_file or token_env, not both",
        ),
        ([{**KODI, "name": "a b"}], {}, "notify[0].name: must be a name of letters, digits"),
        (
            [{**KODI, "path_map": [{"from": "rel", "to": "/x"}]}],
            {},
            'notify[0].path_map[0].from: must be an absolute path, got "rel"',
        ),
        (
            [KODI, {**PLEX, "name": "kodi"}],
            {},
            "notify[1].name: 'kodi' is already the name of notify[0]",
        ),
    ],
)
def test_each_problem_names_its_key(notify: object, env: dict[str, str], expected: str) -> None:
    assert any(expected in problem for problem in problems(notify, env)), problems(notify, env)


@pytest.mark.parametrize(
    ("kind", "key"),
    [("kodi", "password"), ("jellyfin", "api_key"), ("emby", "api_key"), ("plex", "token")],
)
def test_credentials_are_never_inline_and_never_echoed(kind: str, key: str) -> None:
    found = problems([{"type": kind, "url": "http://s", key: SECRET}])
    assert f"notify[0].{key}: never inline in the config file: use {key}_file" in found[0]
    assert all(SECRET not in problem for problem in found)


def test_secrets_never_appear_in_repr_or_rendering(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_text(SECRET, encoding="utf-8")
    cfg = parse(
        [
            {"type": "emby", "url": "http://e", "api_key_file": str(key_file)},
            {"type": "kodi", "url": "http://k", "password_env": "KP"},
        ],
        env={"KP": SECRET + "-kodi"},
    )
    rendered = render_config(cfg)
    assert SECRET not in rendered and SECRET not in repr(cfg)
    assert f"api_key_file: {key_file}" in rendered and "password_env: KP" in rendered
    # The rendering is a valid config again, with the same meaning.
    again = parse_config(yaml.safe_load(rendered), {"KP": SECRET + "-kodi"})
    assert again == cfg
