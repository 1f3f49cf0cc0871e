"""Validation primitives for the config: typed reads from a YAML mapping that collect
every problem as `key.path: message`, and the predicates behind them. Used by `config.py`."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import TypeGuard, cast, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MODE = re.compile(r"[0-7]{1,4}")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")
Check = Callable[[object], bool]


class Section:
    """Typed reads from one YAML mapping at key path `path`. A bad value appends a problem
    to the shared list and yields the default, so one pass reports every problem."""

    def __init__(self, problems: list[str], path: str, data: object, known: tuple[str, ...]):
        self.problems, self.path = problems, path
        self.data: Mapping[object, object] = data if isinstance(data, Mapping) else {}
        if data is not None and not isinstance(data, Mapping):
            problems.append(f"{path}: must be a mapping, got {show_value(data)}")
        for key in self.data:
            if key not in known:
                problems.append(f"{self.key(str(key))}: unknown key")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name)}: {message}")

    def has(self, name: str) -> bool:
        return name in self.data

    def sub(self, name: str, section: type) -> Section:
        return Section(self.problems, self.key(name), self.data.get(name), field_names(section))

    def get(
        self, name: str, default: object, ok: Check, wanted: str, secret: bool = False
    ) -> object:
        """The value when present and `ok`, else `default` (plus a problem if present)."""
        if name not in self.data:
            return default
        value = self.data[name]
        if ok(value):
            return value
        self.problem(
            name, f"must be {wanted}, got {kind_of(value) if secret else show_value(value)}"
        )
        return default

    def number(self, name: str, default: float, *, strict: bool = True) -> float:
        """A finite number, > 0 when `strict`, else >= 0."""
        if strict:
            value = self.get(name, default, is_positive, "a positive number")
        else:
            value = self.get(name, default, is_non_negative, "a number >= 0")
        return float(cast(float, value))

    def optional_number(self, name: str) -> float | None:
        value = self.get(name, None, is_positive_or_null, "null or a positive number")
        return None if value is None else float(cast(float, value))

    def integer(self, name: str, default: int, low: int, high: int | None) -> int:
        def ok(value: object) -> bool:
            return is_int(value) and low <= value and (high is None or value <= high)

        wanted = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        return cast(int, self.get(name, default, ok, wanted))

    def boolean(self, name: str, default: bool) -> bool:
        return cast(bool, self.get(name, default, is_bool, "true or false"))

    def string(self, name: str, default: str, *, secret: bool = False) -> str:
        """A string; a secret's value is never echoed in the problem."""
        return cast(str, self.get(name, default, is_str, "a string", secret))

    def choice(self, name: str, default: str, choices: object) -> str:
        allowed = get_args(choices)
        wanted = f"{', '.join(allowed[:-1])} or {allowed[-1]}"
        return cast(str, self.get(name, default, lambda v: v in allowed, wanted))

    def mode(self, name: str, default: int) -> int:
        """A quoted octal string such as "0755" (unquoted, YAML would read 0755 as 493)."""
        value = self.get(name, None, is_mode, 'a quoted octal string from "0000" to "0777"')
        return default if value is None else int(cast(str, value), 8)

    def abs_path(self, name: str, default: Path | None, *, nullable: bool = False) -> Path | None:
        """An absolute path; null allowed only when `nullable`."""

        def ok(value: object) -> bool:
            return (value is None and nullable) or is_abs_path(value)

        wanted = "an absolute path or null" if nullable else "an absolute path"
        value = self.get(name, default, ok, wanted)
        return value if value is None or isinstance(value, Path) else Path(cast(str, value))

    def url(self, name: str, default: str) -> str:
        return cast(str, self.get(name, default, is_http_url, "an http:// or https:// URL"))


# ---------------------------------------------------------------------------- checks


def field_names(section: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(section))


def is_bool(value: object) -> bool:
    return isinstance(value, bool)


def is_str(value: object) -> bool:
    return isinstance(value, str)


def is_list(value: object) -> bool:
    return isinstance(value, list)


def is_filled_list(value: object) -> bool:
    return isinstance(value, list) and bool(value)


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_positive(value: object) -> bool:
    return is_number(value) and value > 0


def is_non_negative(value: object) -> bool:
    return is_number(value) and value >= 0


def is_positive_or_null(value: object) -> bool:
    return value is None or is_positive(value)


def is_mode(value: object) -> bool:
    return isinstance(value, str) and bool(_MODE.fullmatch(value)) and int(value, 8) <= 0o777


def is_abs_path(value: object) -> bool:
    return isinstance(value, str) and value.startswith("/") and "\0" not in value


_URL_PREFIX = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s]+(/\S*)?", re.IGNORECASE)


def is_map_target(value: object) -> bool:
    """An absolute path, or a URL prefix with a host (`smb://nas/tv`); never `file://`, which
    no media server loads."""
    if is_abs_path(value):
        return True
    if not isinstance(value, str) or not _URL_PREFIX.fullmatch(value):
        return False
    return not value.lower().startswith("file:")


def map_target(value: str) -> str:
    """A `path_map` target as stored: paths normalised like other paths, URLs as written
    without a trailing slash."""
    return str(Path(value)) if value.startswith("/") else value.rstrip("/")


def is_token(value: object) -> bool:
    return value is None or (isinstance(value, str) and bool(value.strip()))


def is_folder_name(name: object) -> bool:
    """One relative folder name; unlike `paths.safe_component` a leading dot is allowed."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 for ch in name)
        and len(name.encode("utf-8", "surrogateescape")) <= 255
    )


LOCAL_TIME = "local"


def is_timezone(value: object) -> bool:
    """`local`, `UTC` or an IANA zone name the system (or the tzdata package) knows."""
    if not isinstance(value, str) or not value.strip():
        return False
    if value == LOCAL_TIME or value.upper() == "UTC":
        return True
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def is_host(host: str) -> bool:
    """A DNS name (labels of `[a-z0-9-]`) or an IP address, lowercase, optionally with an
    explicit `:port` (then only that port is allowed, e.g. `127.0.0.1:8080` for a test CDN)."""
    name, sep, port = host.rpartition(":")
    bracketed = name.startswith("[") and name.endswith("]")
    if sep and port.isascii() and port.isdigit() and (bracketed or ":" not in name):
        if not 0 < int(port) < 65536:
            return False
        host = name[1:-1] if bracketed else name
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
    return True


def is_listen(value: object) -> bool:
    return value is None or (isinstance(value, str) and split_listen(value) is not None)


def split_listen(value: str) -> tuple[str, int] | None:
    """`host:port` or `[v6]:port` as (host, port), or None when malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        return (host, int(port)) if ":" in host and is_host(host) else None
    return (host, int(port)) if ":" not in host and is_host(host.lower()) else None


def is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def show_value(value: object) -> str:
    """A value as it would look in YAML, short enough for one message line."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:76] + '..."'
    if isinstance(value, int | float):
        return str(yaml_number(value))
    return kind_of(value)


def kind_of(value: object) -> str:
    """The type of a value in words (for secrets, whose value is never shown)."""
    if isinstance(value, Mapping | list):
        return "a mapping" if isinstance(value, Mapping) else "a list"
    if isinstance(value, bool) or value is None:
        return "a boolean" if value is not None else "null"
    return "a number" if isinstance(value, int | float) else "a string"


def yaml_number(value: float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value
