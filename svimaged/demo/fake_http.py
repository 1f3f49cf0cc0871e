"""The HTTP plumbing of the fake Twitch: a stdlib `ThreadingHTTPServer` whose handler hands
every request to the fake (`handle(method, target, headers, body) -> Reply`), and the reply
helpers (Twitch-style JSON errors, conditional GET matching)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

MAX_REQUEST_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of the fake."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Handles(Protocol):
    """What the server hands every request to."""

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The reply to one request (headers lowercased)."""
        ...


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer."""
    body = json.dumps(payload).encode("utf-8")
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, body)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """A Twitch-style JSON error answer."""
    reasons = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    payload = {"error": reasons.get(status, "Error"), "status": status, "message": message}
    return json_reply(status, payload, headers)


def not_modified(etag: str, last_modified: int, headers: Mapping[str, str]) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims).timestamp()
    except (TypeError, ValueError):
        return False
    return last_modified <= since


class Server(ThreadingHTTPServer):
    """The fake's server: one thread per connection, handing requests to `fake`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: Handles) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every response.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo do not want a line per request on stderr."""

    def _serve(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BODY:
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(length) if length else b""
        assert isinstance(self.server, Server)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake.handle(method, self.path, headers, body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
