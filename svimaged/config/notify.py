"""The `notify` list (contract section 9): one entry per media server to tell what svimaged
wrote, several of one kind allowed.

Every entry has `type` (kodi, jellyfin, emby, plex) and `url`, optionally `name` (default:
the type, then `<type>-2`, `<type>-3`... for further ones of a kind) and `path_map` (default
`nfo.path_map`). Kodi may have `username`. The credential (`password` for Kodi, `api_key` for
Jellyfin and Emby, `token` for Plex) is never inline: `<credential>_file` names a file that
holds only it, `<credential>_env` an environment variable; both are read at load, like
`twitch.client_secret_file`. Jellyfin and Emby need one; Kodi and Plex may run without.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import cast, get_args

from svimaged.config.fields import Section, is_http_url, is_str, show_value
from svimaged.config.model import NOTIFY_SECRET, NotifyServer, NotifyType
from svimaged.config.readers import (
    is_env_name,
    read_path_map,
    read_secret_env,
    read_secret_file,
)

_COMMON = ("type", "name", "url", "path_map")
_BY_TYPE: dict[str, tuple[str, ...]] = {
    kind: (f"{secret}_file", f"{secret}_env", *(("username",) if kind == "kodi" else ()))
    for kind, secret in NOTIFY_SECRET.items()
}
_EVERY_KEY = tuple(dict.fromkeys([*_COMMON, *(k for keys in _BY_TYPE.values() for k in keys)]))
_INLINE = tuple(dict.fromkeys(NOTIFY_SECRET.values()))
_NEEDS_SECRET = frozenset({"jellyfin", "emby"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def parse_notify(top: Section, env: Mapping[str, str]) -> tuple[NotifyServer, ...]:
    """Every valid `notify` entry, in order; each problem names `notify[<i>].<key>`."""
    raw = top.get("notify", [], lambda v: v is None or isinstance(v, list), "a list of servers")
    servers: list[NotifyServer] = []
    seen: dict[str, int] = {}
    of_kind: dict[str, int] = {}
    for index, item in enumerate(cast("list[object]", raw or [])):
        key = f"notify[{index}]"
        if not isinstance(item, Mapping):
            top.problem(key, f"must be a mapping with type and url, got {show_value(item)}")
            continue
        server = _entry(Section(top.problems, top.key(key), item, (*_EVERY_KEY, *_INLINE)), env)
        if server is None:
            continue
        of_kind[server.type] = of_kind.get(server.type, 0) + 1
        if not server.name:  # the first of a kind is named after it, then <type>-2, -3...
            count = of_kind[server.type]
            server = replace(server, name=server.type if count == 1 else f"{server.type}-{count}")
        if server.name in seen:
            top.problem(
                f"{key}.name", f"{server.name!r} is already the name of notify[{seen[server.name]}]"
            )
            continue
        seen[server.name] = index
        servers.append(server)
    return tuple(servers)


def _entry(sec: Section, env: Mapping[str, str]) -> NotifyServer | None:
    kinds = get_args(NotifyType)
    if not sec.has("type"):
        sec.problem("type", f"required key is missing ({', '.join(kinds)})")
    kind = sec.choice("type", "", NotifyType)
    if not sec.has("url"):
        sec.problem("url", "required key is missing")
    url = sec.get("url", None, _is_server_url, "an http:// or https:// URL without user or query")
    for name in sec.data:
        if name in _INLINE:
            sec.problem(str(name), _inline_message(str(name)))
        elif kind and name not in (*_COMMON, *_BY_TYPE[kind]):
            owners = [k for k, keys in _BY_TYPE.items() if name in keys]
            sec.problem(str(name), f"not a key of type {kind} (only of {', '.join(owners)})")
    name = sec.get("name", None, _is_name, "a name of letters, digits, '.', '_' and '-'")
    path_map = read_path_map(sec) if sec.has("path_map") else None
    username = sec.get("username", None, _is_text, "a non-empty string")
    if not kind or url is None:
        return None
    secret_file, secret_env, secret = _secret(sec, kind, env)
    return NotifyServer(
        type=cast(NotifyType, kind),
        url=cast(str, url).rstrip("/"),
        name=cast(str, name) if name is not None else "",
        path_map=path_map,
        username=cast("str | None", username),
        secret_file=secret_file,
        secret_env=secret_env,
        secret=secret,
    )


def _secret(sec: Section, kind: str, env: Mapping[str, str]) -> tuple[Path | None, str | None, str]:
    """The credential's file, variable and value (read now)."""
    key = NOTIFY_SECRET[kind]
    path = sec.abs_path(f"{key}_file", None, nullable=True)
    var = sec.get(f"{key}_env", None, is_env_name, "an environment variable name such as KEY_1")
    if path is not None and var is not None:
        sec.problem(f"{key}_env", f"give {key}_file or {key}_env, not both")
        return path, cast(str, var), ""
    if path is not None:
        return path, None, read_secret_file(sec, f"{key}_file", path)
    if var is not None:
        return None, cast(str, var), read_secret_env(sec, f"{key}_env", cast(str, var), env)
    if kind in _NEEDS_SECRET:
        sec.problem(f"{key}_file", f"{kind} needs its API key: set {key}_file or {key}_env")
    return None, None, ""


def _inline_message(key: str) -> str:
    return (
        f"never inline in the config file: use {key}_file (a file holding only it) "
        f"or {key}_env (the name of an environment variable holding it)"
    )


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME.fullmatch(value))


def _is_text(value: object) -> bool:
    return is_str(value) and bool(cast(str, value).strip())


def _is_server_url(value: object) -> bool:
    """An http(s) URL with a host, no user info (credentials never go into a URL) and no
    query or fragment."""
    if not is_http_url(value):
        return False
    text = cast(str, value)
    rest = text.split("://", 1)[1]
    authority = rest.split("/", 1)[0]
    return "@" not in authority and "?" not in text and "#" not in text


def notify_to_dict(server: NotifyServer) -> dict[str, object]:
    """An entry as it would be written in the file: only the keys that are set, the
    credential as its `_file` or `_env` key. The credential itself is never included."""
    out: dict[str, object] = {"type": server.type, "name": server.name, "url": server.url}
    if server.path_map is not None:
        out["path_map"] = [{"from": entry.src, "to": entry.dst} for entry in server.path_map]
    if server.username is not None:
        out["username"] = server.username
    if server.secret_file is not None:
        out[f"{server.secret_key}_file"] = str(server.secret_file)
    if server.secret_env is not None:
        out[f"{server.secret_key}_env"] = server.secret_env
    return out
