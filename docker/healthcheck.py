#!/usr/bin/env python3
"""Container health check: `GET /healthz` over svimaged's control socket.

Exit 0 when the daemon answers 200 with the JSON body `{"status": "ok", ...}`, else exit 1
with a one-line reason on stdout (Docker keeps it in `docker inspect`). The socket path is
`$SVIMAGED_SOCKET` (default /run/svimaged/control.sock); the whole check is bounded by
`$SVIMAGED_HEALTHCHECK_TIMEOUT` seconds (default 3). Standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys

DEFAULT_SOCKET = "/run/svimaged/control.sock"
DEFAULT_TIMEOUT = 3.0
MAX_BODY = 65536


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection whose transport is a Unix stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        """Connect to the Unix socket instead of a TCP host."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def check(path: str, timeout: float) -> tuple[bool, str]:
    """Ask the daemon at `path` for /healthz; (healthy, reason). Never raises."""
    conn = UnixHTTPConnection(path, timeout)
    try:
        conn.request("GET", "/healthz", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read(MAX_BODY)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"socket={path} error={type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if response.status != 200:
        return False, f"socket={path} status={response.status}"
    try:
        answer = json.loads(body)
    except ValueError:
        return False, f"socket={path} status=200 body=not-json"
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        return False, f"socket={path} status=200 body={body[:200]!r}"
    return True, f"socket={path} status=ok version={answer.get('version', '?')}"


def _timeout(raw: str | None) -> float:
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def main() -> int:
    """Run the check with the environment's settings; the process exit code."""
    path = os.environ.get("SVIMAGED_SOCKET") or DEFAULT_SOCKET
    healthy, reason = check(path, _timeout(os.environ.get("SVIMAGED_HEALTHCHECK_TIMEOUT")))
    print(("healthy " if healthy else "unhealthy ") + reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
