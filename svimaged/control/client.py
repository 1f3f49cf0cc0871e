"""The CLI's client of the control protocol: HTTP/1.1 over the Unix socket (contract section 7).

Standard library only (`http.client` with an AF_UNIX connection). One connection per
request. JSON answers become dicts, `text/*` answers (`/metrics`) strings, both capped at
`MAX_ANSWER` bytes. Errors leave this module as:

- `DaemonUnreachableError` (exit code 3): no socket, a stale socket nobody listens on, no
  permission, a timeout, or the daemon hanging up mid-answer; the message names the socket;
- `ControlError` (exit code 1): the daemon answered with an error (its `{"error": {"code",
  "message"}}` body, the HTTP status kept) or with something that is not a valid answer.
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlencode

from svimaged.core.errors import DaemonUnreachableError, SvimagedError

log = logging.getLogger(__name__)

#: The largest answer body the client reads (a bigger one is a `ControlError`).
MAX_ANSWER = 16 * 1024 * 1024

Answer = dict[str, object] | str


class ControlError(SvimagedError):
    """The daemon answered an error; `status` is the HTTP status, `code` the error code."""

    exit_code = 1

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.http_status = status


def quote_segment(name: str) -> str:
    """`name` as one percent-encoded path segment (`/` becomes `%2F`, UTF-8 bytes escaped)."""
    return quote(name, safe="")


class _UnixConnection(http.client.HTTPConnection):
    """`http.client` over an AF_UNIX stream socket at `socket_path`."""

    def __init__(self, socket_path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(os.fspath(self.socket_path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class ControlClient:
    """Requests to a running svimaged over its control socket.

    `timeout` bounds connecting and each read (seconds); `request(..., timeout=...)` may
    override it for one long call (cleanup, a single download).
    """

    def __init__(self, socket_path: Path, *, timeout: float = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Answer]:
        """Send one request for `path` (already percent-encoded, see `quote_segment`) and
        return (status, parsed body) of a successful (< 400) answer.

        Raises `DaemonUnreachableError` or `ControlError` as the module docstring says."""
        target = path + ("?" + urlencode(dict(query)) if query else "")
        limit = self.timeout if timeout is None else timeout
        conn = _UnixConnection(self.socket_path, limit)
        try:
            conn.request(method, target, headers={"Accept": "application/json"})
            response = conn.getresponse()
            status = response.status
            ctype = response.getheader("Content-Type") or ""
            body = response.read(MAX_ANSWER + 1)
        except OSError as exc:
            raise self._unreachable(exc, limit) from exc
        except http.client.HTTPException as exc:
            raise ControlError(
                f"bad answer from svimaged on {self.socket_path}: {exc!r}",
                status=0,
                code="bad_answer",
            ) from exc
        finally:
            conn.close()
        log.debug("control request method=%s path=%s status=%d", method, path[:200], status)
        if len(body) > MAX_ANSWER:
            raise ControlError(
                f"answer to {path[:200]} is larger than {MAX_ANSWER} bytes",
                status=status,
                code="too_large",
            )
        answer = _parse(status, ctype, body)
        if status >= 400:
            raise _error_from(status, answer)
        return status, answer

    def json(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, object]:
        """`request` for a route that answers a JSON object; anything else is a
        `ControlError`."""
        status, answer = self.request(method, path, query=query, timeout=timeout)
        if not isinstance(answer, dict):
            raise ControlError(
                f"expected JSON from {path[:200]}, got text", status=status, code="bad_answer"
            )
        return answer

    def _unreachable(self, exc: OSError, timeout: float) -> DaemonUnreachableError:
        path = self.socket_path
        if isinstance(exc, TimeoutError):
            return DaemonUnreachableError(
                f"svimaged did not answer within {timeout:g} s (socket at {path})"
            )
        if isinstance(exc, FileNotFoundError | ConnectionRefusedError) or exc.errno in (
            errno.ENOENT,
            errno.ECONNREFUSED,
            errno.ENOTSOCK,
        ):
            return DaemonUnreachableError(f"svimaged is not running (no socket at {path})")
        if isinstance(exc, PermissionError):
            return DaemonUnreachableError(
                f"no permission to use the svimaged socket at {path} "
                "(is this user in the daemon's group?)"
            )
        if isinstance(exc, ConnectionError):
            return DaemonUnreachableError(f"svimaged closed the connection (socket at {path})")
        return DaemonUnreachableError(f"cannot reach svimaged at socket {path}: {exc}")


def _parse(status: int, content_type: str, body: bytes) -> Answer:
    """A JSON object for `application/json`, text for anything else (UTF-8)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime != "application/json":
        return body.decode("utf-8", errors="replace")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlError(
            f"svimaged answered invalid JSON (HTTP {status})", status=status, code="bad_answer"
        ) from exc
    if not isinstance(data, dict):
        raise ControlError(
            f"svimaged answered JSON that is not an object (HTTP {status})",
            status=status,
            code="bad_answer",
        )
    return data


def _error_from(status: int, answer: Answer) -> ControlError:
    """The `ControlError` for an error answer: the server's code and message when it sent
    the contract's error body, else the status and the start of the body."""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or f"HTTP {status}")
            return ControlError(message, status=status, code=str(error.get("code") or "error"))
        return ControlError(
            f"HTTP {status}: {json.dumps(answer)[:200]}", status=status, code="error"
        )
    return ControlError(f"HTTP {status}: {answer.strip()[:200]}", status=status, code="error")
