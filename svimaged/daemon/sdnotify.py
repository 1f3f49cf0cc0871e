"""systemd's notify protocol, written by hand (no extra dependency).

A message is one datagram of `KEY=value` lines sent to the AF_UNIX socket named by
`$NOTIFY_SOCKET`: a file system path, or `@name` for a socket in the abstract namespace.
Without `$NOTIFY_SOCKET` (not started by systemd, or not `Type=notify`) every call is a cheap
no-op. A failing send is logged once and never raised: notification is a courtesy to the
service manager, never a reason for the daemon to stop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

from svimaged.core.log import kv

log = logging.getLogger(__name__)

ENV_SOCKET = "NOTIFY_SOCKET"
ENV_WATCHDOG_USEC = "WATCHDOG_USEC"
ENV_WATCHDOG_PID = "WATCHDOG_PID"


def _address(raw: str) -> str | None:
    """The `sendto` address for a `$NOTIFY_SOCKET` value; None when unset or unsupported
    (systemd also knows `vsock:` addresses, which a host daemon never gets)."""
    if raw.startswith("@") and len(raw) > 1:
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    return None


def _one_line(value: object) -> str:
    """A field value on one line: a newline would start a new (bogus) field."""
    return " ".join(str(value).splitlines())


class Notifier:
    """Sends notify messages to the service manager; thread-safe."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        """Read `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `env` (default
        `os.environ`) once, now."""
        source = os.environ if env is None else env
        raw = source.get(ENV_SOCKET, "")
        self._address = _address(raw)
        if raw and self._address is None:
            log.warning("notify socket not supported, ignored %s", kv(socket=raw))
        self._watchdog_usec = source.get(ENV_WATCHDOG_USEC, "")
        self._watchdog_pid = source.get(ENV_WATCHDOG_PID, "")
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when there is a notify socket to talk to."""
        return self._address is not None

    def send(self, **fields: object) -> bool:
        """Send one message with `fields` in the given order (None values left out); returns
        True when the datagram went out. Never raises."""
        if self._address is None:
            return False
        text = "\n".join(f"{k}={_one_line(v)}" for k, v in fields.items() if v is not None)
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(text.encode("utf-8"), self._address)
        except OSError as exc:
            self._warn(exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """`READY=1`, with `STATUS=` when given: startup or a reload is complete."""
        return self.send(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        """`STATUS=text`: the one-line state `systemctl status` shows."""
        return self.send(STATUS=text)

    def reloading(self) -> bool:
        """`RELOADING=1` plus `MONOTONIC_USEC` (CLOCK_MONOTONIC in µs), as systemd >= 253
        requires for `Type=notify-reload` and accepts everywhere else."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(RELOADING=1, MONOTONIC_USEC=usec)

    def stopping(self) -> bool:
        """`STOPPING=1`: shutdown has begun."""
        return self.send(STOPPING=1)

    def watchdog(self) -> bool:
        """`WATCHDOG=1`: the keep-alive ping for `WatchdogSec=`."""
        return self.send(WATCHDOG=1)

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings: half of `WATCHDOG_USEC`, or None when the
        watchdog is off, the value is not a positive integer, or `WATCHDOG_PID` names
        another process."""
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            return None
        if usec <= 0:
            return None
        if self._watchdog_pid:
            try:
                pid = int(self._watchdog_pid)
            except ValueError:
                return None
            if pid != os.getpid():
                return None
        return usec / 2 / 1_000_000

    def close(self) -> None:
        """Close the socket; a later `send` opens a new one."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _warn(self, exc: OSError) -> None:
        if self._warned:
            return
        self._warned = True
        shown = self._address.replace("\0", "@", 1) if self._address else None
        log.warning(
            "systemd notify failed (further failures not logged) %s",
            kv(socket=shown, error=exc.strerror or str(exc)),
        )
