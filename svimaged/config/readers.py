"""Readers for values that more than one config section takes: a `path_map` list and a
secret kept outside the config file (a file, or an environment variable). Like `Section`'s
own reads, a bad value adds a problem naming its key and yields a harmless default; a
secret's value never appears in a problem."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from svimaged.config.fields import Section, is_list, is_map_target, map_target, show_value
from svimaged.config.model import PathMapEntry

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def read_path_map(sec: Section, name: str = "path_map") -> tuple[PathMapEntry, ...]:
    """A list of `{from, to}` prefix rewrites: `from` an absolute path, `to` an absolute
    path or a URL prefix such as `smb://nas/tv` (never `file://`)."""
    raw = sec.get(name, [], is_list, "a list of {from: ..., to: ...} mappings")
    entries: list[PathMapEntry] = []
    for index, item in enumerate(cast("list[object]", raw)):
        if not isinstance(item, Mapping):
            sec.problem(f"{name}[{index}]", f"must be a mapping, got {show_value(item)}")
            continue
        entry = Section(sec.problems, sec.key(f"{name}[{index}]"), item, ("from", "to"))
        ends: list[str] = []
        if not entry.has("from"):
            entry.problem("from", "required key is missing")
        source = entry.abs_path("from", None)
        if source is not None:
            ends.append(str(source))
        if not entry.has("to"):
            entry.problem("to", "required key is missing")
        target = entry.get(
            "to", None, is_map_target, "an absolute path or a URL prefix such as smb://nas/tv"
        )
        if target is not None:
            ends.append(map_target(cast(str, target)))
        if len(ends) == 2:
            entries.append(PathMapEntry(*ends))
    return tuple(entries)


def read_secret_file(sec: Section, key: str, path: Path) -> str:
    """The secret in the file at `path` (surrounding whitespace stripped), read now; a file
    that cannot be read or is empty is a problem of `key`."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except PermissionError:
        # A container secret keeps the host file's owner and mode: say who must read it.
        sec.problem(
            key,
            f"cannot read {str(path)!r}: permission denied for uid {os.getuid()} "
            f"(gid {os.getgid()}); make the file readable by that user or group",
        )
        return ""
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        sec.problem(key, f"cannot read {str(path)!r}: {reason}")
        return ""
    if not secret:
        sec.problem(key, f"{str(path)!r} is empty")
    return secret


def is_env_name(value: object) -> bool:
    """A portable environment variable name (`[A-Za-z_][A-Za-z0-9_]*`)."""
    return isinstance(value, str) and bool(_ENV_NAME.fullmatch(value))


def read_secret_env(sec: Section, key: str, name: str, env: Mapping[str, str]) -> str:
    """The secret in the environment variable `name`, read now; unset or empty is a
    problem of `key`."""
    secret = env.get(name, "").strip()
    if not secret:
        sec.problem(key, f"the environment variable {name} is not set or empty")
    return secret
