"""`svimaged notify test`: ask every configured server something harmless and say what
answered. Kodi: `JSONRPC.Version`, `Application.GetProperties`, `Files.GetSources`;
Jellyfin and Emby: `GET /System/Info`, `GET /Library/VirtualFolders`; Plex: `GET /identity`,
`GET /library/sections`. A server passes when it answers and one of its libraries holds the
recordings folder as that server sees it (through its `path_map`): otherwise notifications
would name paths it does not know. Nothing is scanned or refreshed, and no counter changes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from svimaged.config import Config
from svimaged.core.errors import NotifyError
from svimaged.nfo.refs import map_path
from svimaged.notify.base import Library
from svimaged.notify.changes import is_within
from svimaged.notify.servers import endpoints


@dataclass(frozen=True, slots=True)
class CheckResult:
    """How one server answered `notify test`."""

    name: str
    kind: str
    url: str
    root: str  # the recordings folder as this server sees it
    version: str | None = None
    libraries: tuple[Library, ...] = ()  # those that hold (part of) the recordings
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_servers(config: Config) -> list[CheckResult]:
    """Probe every `notify` entry, in order."""
    results: list[CheckResult] = []
    for server in endpoints(config):
        root = map_path(str(config.recordings), server.path_map).rstrip("/")
        base = CheckResult(server.name, server.kind, server.url, root)
        try:
            probe = server.client.probe()
        except NotifyError as exc:
            results.append(replace(base, problem=str(exc)))
            continue
        finally:
            server.close()
        holding = tuple(
            library
            for library in probe.libraries
            if any(is_within(root, path) or is_within(path, root) for path in library.paths)
        )
        problem = None
        if not holding:
            problem = (
                f"answered, but none of its {len(probe.libraries)} libraries holds {root} "
                "(add the folder to a library, or set path_map to the path the server sees)"
            )
        results.append(replace(base, version=probe.version, libraries=holding, problem=problem))
    return results


def format_result(result: CheckResult) -> str:
    """A few lines for one server: who answered, and where it holds the recordings."""
    head = f"{result.name} ({result.kind} at {result.url}): "
    if result.version is None:
        return head + f"FAILED: {result.problem}\n"
    lines = [head + result.version]
    for library in result.libraries:
        lines.append(f"  library {library.name!r}: {', '.join(library.paths)}")
    if result.problem is not None:
        lines.append(f"  FAILED: {result.problem}")
    else:
        lines.append(f"  ok: notifications will name paths below {result.root}")
    return "\n".join(lines) + "\n"
