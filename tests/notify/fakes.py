"""Fake Kodi, Jellyfin, Emby and Plex on 127.0.0.1, built from each server's documented API
(and, for Jellyfin, its source): they check authentication the way the server does, answer
in its shapes, and record every request so a test can assert it exactly.

- Kodi: JSON-RPC 2.0 at `POST /jsonrpc` with HTTP basic auth (Kodi's web server); the
  methods and parameters of JSON-RPC v13 (Kodi 20) that svimaged uses, unknown parameters
  and wrong types answered with `-32602 Invalid params.` as Kodi does.
- Jellyfin/Emby: `Authorization: MediaBrowser Token="..."` (Jellyfin,
  `AuthorizationContext.GetAuthorization`) or `X-Emby-Token` (Emby); `POST
  /Library/Media/Updated` (204), `GET /Items` (`{"Items": [...]}`, query names case-
  insensitive like ASP.NET's), `POST /Items/{id}/Refresh` (204, 404 for unknown ids),
  `GET /System/Info`, `GET /Library/VirtualFolders`.
- Plex: `X-Plex-Token`; JSON only when asked with `Accept: application/json`, else XML;
  `GET /identity`, `GET /library/sections`, `GET /library/sections/{key}/refresh` (200, no
  body).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        """A header by name, any case."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


Answer = tuple[int, Any]  # status and a JSON-able body (None: no body; bytes as they are)


class FakeServer:
    """Records requests and answers them with `route`; `fail(status)` makes the next
    requests answer that status instead."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                return

            def _any(self) -> None:
                owner._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def calls(self, method: str, path: str) -> list[Seen]:
        """The requests with this method and path."""
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- handling ------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Seen(
            handler.command,
            split.path,
            parse_qs(split.query, keep_blank_values=True),
            dict(handler.headers.items()),
            body,
        )
        with self._lock:
            self.requests.append(seen)
            failure = self._failures.pop(0) if self._failures else None
        status, answer = (failure, {"error": "injected"}) if failure else self.route(seen)
        if isinstance(answer, bytes):
            data, kind = answer, "application/xml"
        elif answer is None:
            data, kind = b"", "application/json"
        else:
            data, kind = json.dumps(answer).encode(), "application/json"
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def route(self, seen: Seen) -> Answer:
        raise NotImplementedError


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------------- Kodi

_KODI_PARAMS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "JSONRPC.Version": {},
    "Application.GetProperties": {"properties": list},
    "Files.GetSources": {"media": str, "limits": dict, "sort": dict},
    "VideoLibrary.Scan": {"directory": str, "showdialogs": bool},
    "VideoLibrary.GetTVShows": {"properties": list, "filter": dict, "limits": dict, "sort": dict},
    "VideoLibrary.GetEpisodes": {
        "tvshowid": int,
        "season": int,
        "properties": list,
        "filter": dict,
        "limits": dict,
        "sort": dict,
    },
    "VideoLibrary.RefreshTVShow": {
        "tvshowid": int,
        "ignorenfo": bool,
        "refreshepisodes": bool,
        "title": str,
    },
    "VideoLibrary.RefreshEpisode": {"episodeid": int, "ignorenfo": bool, "title": str},
}
_KODI_REQUIRED = {
    "VideoLibrary.RefreshTVShow": "tvshowid",
    "VideoLibrary.RefreshEpisode": "episodeid",
}


@dataclass
class FakeKodi(FakeServer):
    """Kodi 20.1's web server: JSON-RPC v13 with basic auth `username:password`. `shows`
    maps a show folder (with its trailing `/`) to its tvshowid, `episodes` holds
    `(episodeid, tvshowid, file)`, `sources` the video sources' folders."""

    username: str = "kodi"
    password: str = "kodi-pw"
    shows: dict[str, int] = field(default_factory=dict)
    episodes: list[tuple[int, int, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        FakeServer.__init__(self)

    def rpc_calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """The JSON-RPC request objects received (of one method)."""
        bodies = [r.body for r in self.calls("POST", "/jsonrpc") if isinstance(r.body, dict)]
        return [b for b in bodies if method is None or b.get("method") == method]

    def route(self, seen: Seen) -> Answer:
        pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if seen.header("Authorization") != f"Basic {pair}":
            return 401, None  # Kodi answers 401 with an empty body
        if seen.method != "POST" or seen.path != "/jsonrpc":
            return 404, None
        body = seen.body if isinstance(seen.body, dict) else {}
        ident = body.get("id")
        method, params = body.get("method"), body.get("params", {})
        if body.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return 200, _rpc_error(ident, -32600, "Invalid request.")
        if method not in _KODI_PARAMS:
            return 200, _rpc_error(ident, -32601, "Method not found.")
        if not _valid_params(method, params):
            return 200, _rpc_error(ident, -32602, "Invalid params.")
        return 200, {"id": ident, "jsonrpc": "2.0", "result": self._result(method, params)}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "JSONRPC.Version":
            return {"version": {"major": 13, "minor": 0, "patch": 0}}
        if method == "Application.GetProperties":
            version = {"major": 20, "minor": 1, "revision": "20230312", "tag": "stable"}
            return {"name": "Kodi", "version": version}
        if method == "Files.GetSources":
            found = [{"file": path, "label": f"Source {i}"} for i, path in enumerate(self.sources)]
            return {
                "limits": {"start": 0, "end": len(found), "total": len(found)},
                "sources": found,
            }
        if method == "VideoLibrary.GetTVShows":
            rule = params.get("filter", {})
            shows = [
                {"tvshowid": ident, "file": path, "label": path.rstrip("/").rsplit("/", 1)[-1]}
                for path, ident in self.shows.items()
                if not rule or (rule.get("field") == "path" and rule.get("value") == path)
            ]
            return {
                "limits": {"start": 0, "end": len(shows), "total": len(shows)},
                "tvshows": shows,
            }
        if method == "VideoLibrary.GetEpisodes":
            found = [
                {"episodeid": ep, "file": path, "label": path.rsplit("/", 1)[-1]}
                for ep, show, path in self.episodes
                if show == params.get("tvshowid", show)
            ]
            return {
                "limits": {"start": 0, "end": len(found), "total": len(found)},
                "episodes": found,
            }
        return "OK"


def _valid_params(method: str, params: object) -> bool:
    if not isinstance(params, dict):
        return False
    allowed = _KODI_PARAMS[method]
    for name, value in params.items():
        kind = allowed.get(name)
        if kind is None or (isinstance(value, bool) and kind is int):
            return False
        if not isinstance(value, kind):
            return False
    required = _KODI_REQUIRED.get(method)
    return required is None or required in params


def _rpc_error(ident: object, code: int, message: str) -> dict[str, Any]:
    return {"id": ident, "jsonrpc": "2.0", "error": {"code": code, "message": message}}


# ------------------------------------------------------------------------ Jellyfin, Emby


@dataclass
class FakeMediaBrowser(FakeServer):
    """Jellyfin (`flavor="jellyfin"`) or Emby. `items` holds `(id, type, path, parent)`
    (type Series, Season or Episode; parent the series id or None); `libraries` maps a
    library name to its folders."""

    flavor: str = "jellyfin"
    api_key: str = "0123456789abcdef0123456789abcdef"
    items: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    libraries: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        FakeServer.__init__(self)

    def _authorized(self, seen: Seen) -> bool:
        if self.flavor == "emby":
            return seen.header("X-Emby-Token") == self.api_key
        auth = seen.header("Authorization") or ""
        scheme, _, rest = auth.partition(" ")
        if scheme.lower() != "mediabrowser":
            return False
        parts = dict(
            (k.strip(), v.strip().strip('"'))
            for k, _, v in (p.partition("=") for p in rest.split(","))
        )
        return parts.get("Token") == self.api_key

    def route(self, seen: Seen) -> Answer:
        if not self._authorized(seen):
            return 401, None
        query = {k.lower(): v[-1] for k, v in seen.query.items()}
        if (seen.method, seen.path) == ("POST", "/Library/Media/Updated"):
            updates = seen.body.get("Updates") if isinstance(seen.body, dict) else None
            ok = isinstance(updates, list) and all(
                isinstance(u, dict) and isinstance(u.get("Path"), str) for u in updates
            )
            return (204, None) if ok else (400, {"title": "One or more validation errors"})
        if (seen.method, seen.path) == ("GET", "/Items"):
            return 200, self._items(query)
        if (
            seen.method == "POST"
            and seen.path.startswith("/Items/")
            and seen.path.endswith("/Refresh")
        ):
            ident = seen.path.split("/")[2]
            return (204, None) if any(i[0] == ident for i in self.items) else (404, None)
        if (seen.method, seen.path) == ("GET", "/System/Info"):
            info: dict[str, Any] = {"ServerName": "mediabox", "Version": "10.10.3", "Id": "f00"}
            if self.flavor == "jellyfin":
                info["ProductName"] = "Jellyfin Server"
            else:
                info["Version"] = "4.8.10.0"
            return 200, info
        if (seen.method, seen.path) == ("GET", "/Library/VirtualFolders"):
            return 200, [
                {"Name": name, "Locations": paths, "CollectionType": "tvshows", "ItemId": "1"}
                for name, paths in self.libraries.items()
            ]
        return 404, None

    def _items(self, query: dict[str, str]) -> dict[str, Any]:
        kinds = set(query.get("includeitemtypes", "").split(",")) - {""}
        parent = query.get("parentid")
        with_path = "Path" in query.get("fields", "").split(",")
        found = []
        for ident, kind, path, owner in self.items:
            if kinds and kind not in kinds:
                continue
            if parent is not None and owner != parent:
                continue
            item: dict[str, Any] = {"Name": path.rsplit("/", 1)[-1], "Id": ident, "Type": kind}
            if with_path:
                item["Path"] = path
            found.append(item)
        return {"Items": found, "TotalRecordCount": len(found), "StartIndex": 0}


# ---------------------------------------------------------------------------------- Plex


@dataclass
class FakePlex(FakeServer):
    """Plex Media Server. `sections` maps a section key to `(title, type, folders)`."""

    token: str = "plex-token-1234"
    sections: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        FakeServer.__init__(self)

    def route(self, seen: Seen) -> Answer:
        wants_json = "application/json" in (seen.header("Accept") or "")
        if seen.method == "GET" and seen.path == "/identity":  # answers without a token
            container = {"size": 0, "machineIdentifier": "abc", "version": "1.41.3.9314-a0bfb8370"}
            return 200, _plex(container, wants_json)
        if seen.header("X-Plex-Token") != self.token:
            return 401, b"<html><head><title>Unauthorized</title></head></html>"
        if seen.method == "GET" and seen.path == "/library/sections":
            directories = [
                {
                    "key": key,
                    "type": kind,
                    "title": title,
                    "Location": [{"id": n, "path": path} for n, path in enumerate(paths)],
                }
                for key, (title, kind, paths) in self.sections.items()
            ]
            return 200, _plex({"size": len(directories), "Directory": directories}, wants_json)
        parts = seen.path.split("/")
        refresh = (
            len(parts) == 5 and parts[1:3] == ["library", "sections"] and parts[4] == "refresh"
        )
        if seen.method == "GET" and refresh and parts[3] in self.sections:
            return 200, None
        return 404, None


def _plex(container: dict[str, Any], wants_json: bool) -> Any:
    if wants_json:
        return {"MediaContainer": container}
    return b'<?xml version="1.0" encoding="UTF-8"?><MediaContainer size="0"/>'
