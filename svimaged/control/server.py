"""The control server: HTTP/1.1 on the Unix socket, optionally TCP (contract section 7).

Standard library only (`socketserver`, `http.server`), one daemon thread per connection. This
module owns the listeners, their limits and the lifecycle; what a request means is
`control.routes`, how sockets are bound `control.sockets`, the size limits `control.limits`.

Each listener (the Unix socket, TCP) has its own `max_connections` slots, so nothing a TCP
client does can use up the local socket; a connection beyond them is answered 503 and
closed, and refusals are logged at most once a minute per listener. Every connection has
`request_timeout` seconds (on the injected clock) to send its next complete request, and
again to take its answer and send the one after; a reaper thread hangs up on the late ones,
however steadily they trickle bytes. Whatever a handler thread raises ends only that
connection.
"""

from __future__ import annotations

import contextlib
import http
import http.server
import io
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from svimaged.control import limits, routes, sockets
from svimaged.control.api import ControlApi
from svimaged.control.connections import Deadlines, RefusalLog
from svimaged.control.hosts import HostRule
from svimaged.control.limits import Refusal
from svimaged.control.routes import Response, Router
from svimaged.control.sockets import parse_listen
from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import ConfigError, SvimagedError

if TYPE_CHECKING:
    from socketserver import _RequestType

log = logging.getLogger(__name__)

_STATUSES = frozenset(int(s) for s in http.HTTPStatus)
_BUSY_BODY = b'{"error": {"code": "busy", "message": "too many connections"}}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s"
    % (len(_BUSY_BODY), _BUSY_BODY)
)


class _Shared:
    """What all listeners and handler threads share."""

    def __init__(self, router: Router, timeout: float, clock: Clock) -> None:
        self.router = router
        self.timeout = timeout
        self.deadlines = Deadlines(clock, timeout)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.workers: set[threading.Thread] = set()

    def add_worker(self, thread: threading.Thread) -> None:
        with self._lock:
            self.workers.add(thread)

    def drop_worker(self, thread: threading.Thread) -> None:
        with self._lock:
            self.workers.discard(thread)

    def live_workers(self) -> list[threading.Thread]:
        with self._lock:
            return list(self.workers)


class _Listener(socketserver.ThreadingMixIn):
    """Thread per connection, at most `slots` at once on this listener; no thread is joined
    on close."""

    daemon_threads = True
    block_on_close = False
    shared: _Shared
    slots: threading.BoundedSemaphore
    refusals: RefusalLog
    over_tcp = False

    def process_request(self, request: _RequestType, client_address: Any) -> None:
        if self.shared.stopping.is_set():
            _refuse(cast(socket.socket, request))
            return
        if not self.slots.acquire(blocking=False):
            self.refusals.refused()
            _refuse(cast(socket.socket, request))
            return
        worker = threading.Thread(target=self._work, args=(request, client_address), daemon=True)
        self.shared.add_worker(worker)
        worker.start()

    def _work(self, request: _RequestType, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.slots.release()
            self.shared.drop_worker(threading.current_thread())

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("control connection failed")


class _UnixServer(_Listener, socketserver.UnixStreamServer):
    pass


class _TCPServer(_Listener, socketserver.TCPServer):
    over_tcp = True


def _serve_on(
    cls: type[_UnixServer | _TCPServer],
    sock: socket.socket,
    shared: _Shared,
    slots: int,
    refusals: RefusalLog,
) -> Any:
    """A socketserver of `cls` around the already bound and listening `sock`."""
    server = cls(sock.getsockname(), _Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_address = sock.getsockname()
    server.shared = shared
    server.slots = threading.BoundedSemaphore(slots)
    server.refusals = refusals
    return server


def _refuse(request: socket.socket) -> None:
    """Answer 503 without blocking the accept loop, then close."""
    try:
        request.setblocking(False)
        request.send(_BUSY)
        request.shutdown(socket.SHUT_WR)
    except OSError as exc:
        log.debug("control busy answer not sent error=%s", exc)
    finally:
        request.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: bounded parsing, then `Router.handle`, then the response."""

    protocol_version = "HTTP/1.1"

    def _listener(self) -> _Listener:
        return cast(_Listener, self.server)

    def version_string(self) -> str:
        return "svimaged"

    def setup(self) -> None:
        super().setup()
        listener = self._listener()
        self.connection.settimeout(listener.shared.timeout)
        if listener.over_tcp:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        listener.shared.deadlines.start(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ValueError) as exc:  # ValueError: I/O on a socket the reaper closed
            log.debug("control connection dropped error=%s", exc)
        except Exception:
            log.exception("control connection crashed")
        finally:
            self._listener().shared.deadlines.forget(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError as exc:
            log.debug("control connection close failed error=%s", exc)

    def handle_one_request(self) -> None:
        """One request within the connection's deadline; the route runs without one, then
        the answer and the next request share a fresh one."""
        shared = self._listener().shared
        self.close_connection = True
        if not self._read_request():
            return
        shared.deadlines.stop(self.connection)
        request = routes.Request(self.command, self.path, self.headers, self._listener().over_tcp)
        response = shared.router.handle(request)
        if shared.stopping.is_set():
            self.close_connection = True
        shared.deadlines.start(self.connection)
        self._send(response)

    def _read_request(self) -> bool:
        """Read and parse one request within the limits; False: the connection ends (closed,
        cut off, or an error was answered)."""
        head = limits.read_head(self.rfile)
        if isinstance(head, Refusal):
            self.requestline, self.request_version, self.command, self.path = "", "", "", ""
            self.send_error(head.status, head.message)
        if not isinstance(head, tuple):
            return False
        self.raw_requestline, real, self.rfile = head[0], self.rfile, io.BytesIO(head[1])
        try:
            if not self.parse_request():
                return False
        finally:
            self.rfile = real
        if self.request_version == "HTTP/0.9":
            self.send_error(400, "HTTP/0.9 requests are not supported")
            return False
        length = limits.body_length(self.command, self.headers)
        if isinstance(length, Refusal):
            self.send_error(length.status, length.message)
            return False
        return len(self.rfile.read(length)) == length

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.status != 304:
                self.send_header("Content-Length", str(response.length))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD" or response.status in (204, 304):
                return
            if response.file is None:
                self.wfile.write(response.body)
                return
            sent = 0
            for chunk in response.file.chunks():
                self.wfile.write(chunk)
                sent += len(chunk)
            if sent != response.length:  # the file shrank: the framing is broken, hang up
                self.close_connection = True
        finally:
            if response.file is not None:
                response.file.close()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors as the contract's error JSON (code from the status phrase, e.g.
        `request_header_fields_too_large`); the connection is closed after."""
        phrase = http.HTTPStatus(code).phrase if code in _STATUSES else "error"
        name = re.sub(r"[^a-z]+", "_", phrase.lower()).strip("_")
        log.debug("control protocol error status=%d message=%s", code, (message or "")[:200])
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # parse_request's default: answer with headers
            self.request_version = "HTTP/1.0"
        self._send(routes.error_response(code, name, (message or phrase)[:200]))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "")[:200]
        log.debug("control request method=%s path=%r status=%s", self.command, path, code)

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)


class ControlServer:
    """The control protocol on `socket_path` (always) and `listen` (optional TCP).

    `start()` binds everything and returns once listening; requests are served on daemon
    threads. `stop()` closes the listeners, hangs up open connections, waits a bounded time
    for their threads and removes the socket file it created (only that one).
    `max_connections` is per listener; `clock` times the request deadlines.
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
        clock: Clock | None = None,
    ) -> None:
        if max_connections < 1 or not request_timeout > 0:
            raise ConfigError(["control: max_connections and request_timeout must be > 0"])
        self._api = api
        self._socket_path = Path(socket_path)
        self._mode = mode
        self._group = group
        self._tcp = parse_listen(listen) if listen else None
        self._token = token or None
        self._max_connections = max_connections
        self._timeout = request_timeout
        self._clock = clock or SystemClock()
        self._servers: list[_UnixServer | _TCPServer] = []
        self._threads: list[threading.Thread] = []
        self._shared: _Shared | None = None
        self._socket_id: tuple[int, int] | None = None

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The bound TCP (host, port), e.g. to learn an ephemeral port; None without TCP."""
        for server in self._servers:
            if isinstance(server, _TCPServer):
                host, port = server.server_address[:2]
                return str(host), int(port)
        return None

    def start(self) -> None:
        """Bind the Unix socket (and TCP), start serving; returns once listening."""
        if self._shared is not None:
            raise SvimagedError("control server already started")
        unix, self._socket_id = sockets.bind_unix(self._socket_path, self._mode, self._group)
        try:
            tcp = sockets.bind_tcp(*self._tcp) if self._tcp is not None else None
        except BaseException:
            unix.close()
            self._remove_socket()
            raise
        shared = _Shared(self._router(tcp), self._timeout, self._clock)
        self._shared = shared
        for cls, sock, name in ((_UnixServer, unix, "unix"), (_TCPServer, tcp, "tcp")):
            if sock is not None:
                refusals = RefusalLog(self._clock, name)
                self._servers.append(_serve_on(cls, sock, shared, self._max_connections, refusals))
        for server in self._servers:
            self._spawn(server.serve_forever, 0.5)
        self._spawn(self._reap_forever, shared)
        log.info("control listening socket=%s tcp=%s", self._socket_path, self.tcp_address)

    def _router(self, tcp: socket.socket | None) -> Router:
        """The router, with the Host rule of the bound TCP listener (if any)."""
        rule = None
        if tcp is not None and self._tcp is not None:
            host, port = tcp.getsockname()[:2]
            rule = HostRule.for_listener(self._tcp[0], host, port).allows
        return Router(
            self._api, token=self._token, tcp_host=rule, stopping=self._stopping, clock=self._clock
        )

    def reap(self) -> int:
        """Hang up now on connections past their deadline (a reaper thread does this every
        half second); how many."""
        shared = self._shared
        return shared.deadlines.reap() if shared is not None else 0

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, hang up connections, join threads for at most `timeout` seconds
        and remove our socket file. Safe to call twice."""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        shared.stopping.set()
        waiters = [threading.Thread(target=server.shutdown) for server in self._servers]
        for waiter, server in zip(waiters, self._servers, strict=True):
            waiter.start()
            with contextlib.suppress(OSError):  # wakes serve_forever's select() at once
                server.socket.shutdown(socket.SHUT_RDWR)
        for waiter, server in zip(waiters, self._servers, strict=True):
            waiter.join(timeout)
            server.server_close()
            server.refusals.flush()
        shared.deadlines.reap(everything=True)
        deadline = time.monotonic() + timeout  # joins wait in real time, whatever the clock
        for thread in [*self._threads, *shared.live_workers()]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._servers.clear()
        self._threads.clear()
        self._remove_socket()
        log.info("control stopped socket=%s", self._socket_path)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _stopping(self) -> bool:
        shared = self._shared
        return shared is None or shared.stopping.is_set()

    def _spawn(self, target: Callable[..., object], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="svimaged-control")
        thread.start()
        self._threads.append(thread)

    def _reap_forever(self, shared: _Shared) -> None:
        interval = min(0.5, self._timeout / 4)
        while not shared.stopping.wait(interval):
            shared.deadlines.reap()

    def _remove_socket(self) -> None:
        """Unlink the socket file only if it is still the one we created."""
        if self._socket_id is not None:
            sockets.remove_unix(self._socket_path, self._socket_id)
        self._socket_id = None
