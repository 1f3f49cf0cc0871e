"""What every media-server client offers (`ServerClient`), what `notify test` learns
(`Probe`), and readers for the servers' answers, which are untrusted input: a field of the
wrong type counts as absent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from svimaged.notify.changes import FolderBatch


@dataclass(frozen=True, slots=True)
class Library:
    """A library (Kodi: a source) and the folders it holds, as the server sees them."""

    name: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Probe:
    """What a server said about itself: product and version, and its libraries."""

    version: str
    libraries: tuple[Library, ...]


class ServerClient(Protocol):
    """One media server's protocol."""

    def notify(self, batch: FolderBatch) -> None:
        """Tell the server what changed in one show folder; raises `NotifyError`."""
        ...

    def probe(self) -> Probe:
        """Harmless requests that show the server answers and what it holds; raises
        `NotifyError`."""
        ...


def as_object(value: object) -> Mapping[str, object]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def objects(value: object) -> list[Mapping[str, object]]:
    """The JSON objects in `value` when it is a list (other entries dropped)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def text(data: Mapping[str, object], key: str) -> str | None:
    """`data[key]` when it is a non-empty string (numbers as text), else None."""
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None
