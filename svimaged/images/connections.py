"""The connections of a fetcher's sessions, so that closing the fetcher cuts every transfer in
flight (contract section 6: SIGTERM exits within 10 s, whatever the CDN does).

A transfer blocks in the socket: connecting, waiting for the answer's headers, reading its
body, up to `download.timeout` at a time. Closing a `requests` session does not wake it (only
idle connections are closed). So every connection the fetcher's sessions open is registered
in `OpenConnections` while it is open, and `abort()` shuts the socket of each one: the
blocked read returns at once and the transfer fails. A connection opened after `abort()` is
refused. The same adapter repeats the URL policy's address check at connect time when
private networks are not allowed (`urlpolicy.checked_socket`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from typing import Any, ClassVar

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

from svimaged.images.urlpolicy import checked_socket


class OpenConnections:
    """The open connections of one fetcher; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[urllib3.connection.HTTPConnection] = weakref.WeakSet()
        self._aborted = False

    @property
    def aborted(self) -> bool:
        """True once `abort()` was called."""
        return self._aborted

    def opening(self, conn: urllib3.connection.HTTPConnection) -> None:
        """Register `conn` before it connects; `ConnectionAbortedError` after `abort()`."""
        with self._lock:
            if self._aborted:
                raise ConnectionAbortedError("the fetcher was closed")
            self._open.add(conn)

    def connected(self, conn: urllib3.connection.HTTPConnection) -> None:
        """Called once `conn` has its socket: close it and raise `ConnectionAbortedError`
        when `abort()` came while it was connecting (and so could not shut it)."""
        with self._lock:
            aborted = self._aborted
        if aborted:
            conn.close()
            raise ConnectionAbortedError("the fetcher was closed")

    def closed(self, conn: urllib3.connection.HTTPConnection) -> None:
        with self._lock:
            self._open.discard(conn)

    def abort(self) -> int:
        """Refuse new connections and shut the socket of every open one (a thread blocked
        reading it wakes up with an error or an early end); how many were open."""
        with self._lock:
            self._aborted = True
            conns = list(self._open)
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        return len(conns)


class _Tracked(urllib3.connection.HTTPConnection):
    """Registers itself in `connections` while open; checks the peer when `check_peer`."""

    connections: ClassVar[OpenConnections]
    check_peer: ClassVar[bool]

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        return checked_socket(sock, self.host) if self.check_peer else sock

    def connect(self) -> None:
        self.connections.opening(self)
        super().connect()
        self.connections.connected(self)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.connections.closed(self)


def _pool_classes(connections: OpenConnections, check_peer: bool) -> dict[str, Any]:
    """urllib3 pool classes whose connections are tracked in `connections`."""
    attrs = {"connections": connections, "check_peer": check_peer}
    http = type("TrackedHTTPConnection", (_Tracked, urllib3.connection.HTTPConnection), attrs)
    https = type("TrackedHTTPSConnection", (_Tracked, urllib3.connection.HTTPSConnection), attrs)
    pools = urllib3.connectionpool
    return {
        "http": type("TrackedHTTPPool", (pools.HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("TrackedHTTPSPool", (pools.HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


class TrackingAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections are registered in `connections` (and, with
    `check_peer`, verify the connected peer address)."""

    def __init__(self, connections: OpenConnections, *, check_peer: bool) -> None:
        self._connections = connections
        self._check_peer = check_peer
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._connections, self._check_peer)
