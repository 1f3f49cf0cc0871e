"""The control server: HTTP/1.1 on the Unix socket, optionally TCP (SPEC section 7), served
by waitress.

One waitress server per listening socket (the Unix socket; TCP when `http.listen` is set),
each with its own event loop thread, worker threads and connection limit, so nothing a TCP
client does can use up the local socket. The routes are a WSGI application
(`control.wsgi`); the protocol's limits, deadlines and refusals are waitress subclasses
(`control.channels`); how the sockets are bound is `control.sockets`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path
from typing import Any, cast

from waitress import wasyncore

from svimaged.control import sockets, wsgi
from svimaged.control.api import ControlApi
from svimaged.control.channels import Listener, TCPListener, UnixListener, adjustments
from svimaged.control.connections import RefusalLog
from svimaged.control.hosts import HostRule
from svimaged.control.routes import Router
from svimaged.control.sockets import parse_listen
from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import ConfigError, SvimagedError

log = logging.getLogger(__name__)

#: waitress warns "Task queue depth is N" for every request that waits for a worker thread.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class ControlServer:
    """The control protocol on `socket_path` (always) and `listen` (optional TCP).

    `start()` binds everything and returns once listening; requests are served by `threads`
    worker threads per listener. `stop()` closes the listeners, hangs up open connections,
    waits a bounded time for the threads and removes the socket file it created (only that
    one). `max_connections` is per listener; `clock` times the request deadlines.
    Raises from `start()`: `AlreadyRunningError` when another daemon answers on the socket,
    `ConfigError` for a non-socket file at the path, a bad `listen` or `group`, and
    `SvimagedError` when a socket cannot be bound.
    """

    def __init__(
        self,
        api: ControlApi,
        *,
        socket_path: Path,
        mode: int = 0o660,
        group: str | None = None,
        listen: str | None = None,
        token: str | None = None,
        max_connections: int = 32,
        request_timeout: float = 10.0,
        threads: int = 4,
        clock: Clock | None = None,
    ) -> None:
        if max_connections < 1 or threads < 1 or not request_timeout > 0:
            raise ConfigError(["control: max_connections, threads, request_timeout must be > 0"])
        self._api = api
        self._socket_path = Path(socket_path)
        self._mode = mode
        self._group = group
        self._tcp = parse_listen(listen) if listen else None
        self._token = token or None
        self._max_connections = max_connections
        self._timeout = request_timeout
        self._threads = threads
        self._clock = clock or SystemClock()
        self._stopping = threading.Event()
        self._listeners: list[Listener] = []
        self._loops: list[threading.Thread] = []
        self._socket_id: tuple[int, int] | None = None
        self._tcp_address: tuple[str, int] | None = None

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The bound TCP (host, port), e.g. to learn an ephemeral port; None without TCP."""
        return self._tcp_address

    def start(self) -> None:
        """Bind the Unix socket (and TCP), start serving; returns once listening."""
        if self._listeners:
            raise SvimagedError("control server already started")
        unix, self._socket_id = sockets.bind_unix(self._socket_path, self._mode, self._group)
        try:
            tcp = sockets.bind_tcp(*self._tcp) if self._tcp is not None else None
        except BaseException:
            unix.close()
            self._remove_socket()
            raise
        self._stopping.clear()
        router = self._router(tcp)
        self._listeners.append(self._listener(UnixListener, unix, router, "unix"))
        if tcp is not None:
            host, port = tcp.getsockname()[:2]
            self._tcp_address = (str(host), int(port))
            self._listeners.append(self._listener(TCPListener, tcp, router, "tcp"))
        for listener in self._listeners:
            run = cast(Any, listener).run
            loop = threading.Thread(target=run, daemon=True, name="svimaged-control")
            loop.start()
            self._loops.append(loop)
        log.info("control listening socket=%s tcp=%s", self._socket_path, self._tcp_address)

    def _router(self, tcp: socket.socket | None) -> Router:
        """The router, with the Host rule of the bound TCP listener (if any)."""
        rule = None
        if tcp is not None and self._tcp is not None:
            host, port = tcp.getsockname()[:2]
            rule = HostRule.for_listener(self._tcp[0], host, port).allows
        return Router(
            self._api,
            token=self._token,
            tcp_host=rule,
            stopping=self._stopping.is_set,
            clock=self._clock,
        )

    def _listener(
        self, cls: type[UnixListener | TCPListener], sock: socket.socket, router: Router, name: str
    ) -> Listener:
        adj = adjustments(
            max_connections=self._max_connections,
            request_timeout=self._timeout,
            threads=self._threads,
        )
        app = wsgi.make_app(router, over_tcp=name == "tcp")
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        listener = cls(app, {}, True, sock, adj=adj, bind_socket=False, sockinfo=sockinfo)
        listener.clock, listener.request_timeout = self._clock, self._timeout
        listener.refusals = RefusalLog(self._clock, name)
        return listener

    def reap(self) -> int:
        """Hang up now on connections past their deadline (each listener does this every
        half second); how many."""
        return sum(listener.sweep() for listener in self._listeners)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, hang up connections, wait at most about `timeout` seconds for the
        threads and remove our socket file. Safe to call twice."""
        if not self._listeners:
            return
        self._stopping.set()  # routes waiting for a job (?wait=1) return
        servers = [cast(Any, listener) for listener in self._listeners]
        for server in servers:
            server.trigger.pull_trigger(lambda s=server: _hang_up(s))
        for server in servers:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        for server in servers:  # the loop ends once its map is empty
            # If the loop is already awake it may run (and close) this before our wake-up
            # byte is written: then the write fails, and nothing is lost.
            with contextlib.suppress(OSError):
                server.trigger.pull_trigger(server.trigger.close)
        for loop in self._loops:
            loop.join(timeout)
        for listener in self._listeners:
            listener.refusals.flush()
        self._listeners.clear()
        self._loops.clear()
        self._tcp_address = None
        self._remove_socket()
        log.info("control stopped socket=%s", self._socket_path)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _remove_socket(self) -> None:
        """Unlink the socket file only if it is still the one we created."""
        if self._socket_id is not None:
            sockets.remove_unix(self._socket_path, self._socket_id)
        self._socket_id = None


def _hang_up(server: Any) -> None:
    """On the listener's loop thread: close every connection and the listening socket."""
    for channel in list(server.active_channels.values()):
        channel.handle_close()
    wasyncore.dispatcher.close(server)
