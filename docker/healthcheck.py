#!/usr/bin/env python3
"""Container health check: `GET /healthz` over svimaged's control socket.

Exit 0 when the daemon answers 200 with the JSON body `{"status": "ok", ...}`, else exit 1
with a one-line reason on stdout (Docker keeps it in `docker inspect`). The socket is the
daemon's own: `control.socket` from the config the daemon reads (`$SVIMAGED_CONFIG`, else
/etc/svimaged/config.yaml), or /run/svimaged/control.sock when that config does not load,
exactly as the `svimaged stats` command finds it. Connecting and each read are bounded by
`$SVIMAGED_HEALTHCHECK_TIMEOUT` seconds (default 3). The request goes through svimaged's
own control client, so the image has one HTTP-over-Unix-socket client, not two.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from svimaged.config.load import DEFAULT_SOCKET, config_path_from, load_config
from svimaged.control.client import ControlClient, ControlError
from svimaged.core.errors import ConfigError, DaemonUnreachableError

DEFAULT_TIMEOUT = 3.0


def socket_path(env: Mapping[str, str]) -> Path:
    """`control.socket` of the daemon's config, else the default socket."""
    try:
        return load_config(config_path_from(None, env), env).control.socket
    except ConfigError:
        return DEFAULT_SOCKET


def check(path: str, timeout: float) -> tuple[bool, str]:
    """Ask the daemon at `path` for /healthz; (healthy, reason). Never raises."""
    client = ControlClient(Path(path), timeout=timeout)
    try:
        _, answer = client.request("GET", "/healthz")
    except DaemonUnreachableError as exc:
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "error"
        return False, f"socket={path} error={cause}: {exc}"
    except ControlError as exc:
        status = f"status={exc.status}" if exc.status else "error=bad-answer"
        return False, f"socket={path} {status}: {exc}"
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        return False, f"socket={path} status=200 body={str(answer)[:200]!r}"
    return True, f"socket={path} status=ok version={answer.get('version', '?')}"


def _timeout(raw: str | None) -> float:
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def main() -> int:
    """Run the check with the environment's settings; the process exit code."""
    path = str(socket_path(os.environ))
    healthy, reason = check(path, _timeout(os.environ.get("SVIMAGED_HEALTHCHECK_TIMEOUT")))
    print(("healthy " if healthy else "unhealthy ") + reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
