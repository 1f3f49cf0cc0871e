"""The control protocol's rules inside waitress: limits, deadlines, refusals, JSON errors.

waitress parses HTTP/1.1, buffers, pipelines and streams; these subclasses add what the
control protocol needs on top (SPEC section 7):

- `_Parser`: request line <= 8 KiB (414), <= 64 headers (431; waitress caps their size at
  16 KiB), HTTP/1.0 and 1.1 only (505; no version is HTTP/0.9: 400), bodies only with
  Content-Length (411), none on GET/HEAD (400). Bodies over 64 KiB are waitress's 413.
- `_ErrorTask`: every protocol error as the SPEC error JSON, then the connection closes.
- `_Channel`: a connection has `request_timeout` seconds (on the injected clock) to send its
  next complete request, and again to take its answer and send the one after; no deadline
  while a route runs. However steadily it trickles bytes, a late one is hung up.
- `Listener`: one waitress server per listening socket with its own connection limit; one
  more connection is answered 503 and closed (`RefusalLog` keeps the log short).
"""

from __future__ import annotations

import http
import json
import logging
import math
import re
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer, TcpWSGIServer, UnixWSGIServer
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import Error

from svimaged.control.connections import RefusalLog
from svimaged.core.clock import Clock

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 64
MAX_BODY = 64 * 1024
_BUSY_BODY = b'{"error": {"code": "busy", "message": "too many connections"}}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s"
    % (len(_BUSY_BODY), _BUSY_BODY)
)
_TRANSFER_ENCODING = re.compile(rb"(?im)^transfer-encoding[ \t]*:")
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def adjustments(*, max_connections: int, request_timeout: float, threads: int) -> Adjustments:
    """waitress settings of one listener. waitress takes whole seconds for its timers (a
    fraction would become 0: a busy loop), so deadlines are checked about once a second."""
    return Adjustments(
        threads=threads,
        connection_limit=max_connections,
        channel_timeout=max(1, math.ceil(request_timeout)),
        cleanup_interval=1,
        asyncore_loop_timeout=1,
        asyncore_use_poll=True,  # select() fails beyond fd 1023
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=MAX_BODY + 1,  # waitress refuses >= the limit
        ident="svimaged",
        clear_untrusted_proxy_headers=False,  # no X-Forwarded-* is read anyway
        log_socket_errors=False,  # a client hanging up is not the daemon's error
    )


class _Refused(Error):
    """A protocol error with its own status (waitress has classes for a few only)."""

    def __init__(self, code: int, body: str) -> None:
        super().__init__(body)
        self.code = code
        self.reason = http.HTTPStatus(code).phrase


class _Parser(HTTPRequestParser):
    """waitress's parser plus the control protocol's limits; `on_complete()` is called once
    a request is complete (before waitress queues it for a worker)."""

    refusal: _Refused | None = None

    def __init__(self, adj: Adjustments, on_complete: Callable[[], None] = lambda: None) -> None:
        super().__init__(adj)
        self._on_complete: Callable[[], None] | None = on_complete

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.refusal is not None and self.error is not None:
            self.error = self.refusal
        if self.completed and not self.empty and self._on_complete is not None:
            self._on_complete()
            self._on_complete = None
        return consumed

    def parse_header(self, header_plus: bytes) -> None:
        first, _, rest = header_plus.partition(b"\r\n")
        if len(first) > MAX_REQUEST_LINE:
            self._refuse(414, "request line longer than 8 KiB")
        if len([line for line in rest.split(b"\r\n") if line]) > MAX_HEADERS:
            self._refuse(431, f"more than {MAX_HEADERS} request headers")
        if _TRANSFER_ENCODING.search(rest):
            self._refuse(411, "request bodies need Content-Length")
        # Raw UTF-8 in the target, %-encoded as it should have been: the same bytes reach
        # the router, which decodes once (waitress would refuse the line as a bad URI).
        first = _NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], first)
        super().parse_header(first + b"\r\n" + rest)
        version, command = self.version, cast(str, self.command)  # str (the stub says bytes)
        if version not in ("1.0", "1.1"):
            self._refuse(505 if version else 400, f"HTTP/{version or '0.9'} is not supported")
        if self.content_length and command in ("GET", "HEAD"):
            self._refuse(400, f"{command} requests take no body")

    def _refuse(self, code: int, message: str) -> None:
        self.refusal = _Refused(code, message)
        raise ParsingError(message)


class _ErrorTask(ErrorTask):
    """Protocol errors as the SPEC error JSON (code from the status phrase, e.g.
    `request_header_fields_too_large`); the connection is closed after."""

    def execute(self) -> None:
        error = cast(Error, cast(Any, self.request).error)
        name = re.sub(r"[^a-z]+", "_", error.reason.lower()).strip("_")
        body = json.dumps({"error": {"code": name, "message": str(error.body)[:200]}}).encode()
        log.debug("control protocol error status=%d message=%s", error.code, error.body[:200])
        self.status = f"{error.code} {error.reason}"
        self.version = "1.1"  # the server's version, whatever the request said
        cast(list[tuple[str, str]], self.response_headers).append(
            ("Content-Type", "application/json")
        )
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Task(WSGITask):
    """waitress's WSGI task, answering HTTP/1.1 also to an HTTP/1.0 request (RFC 9110
    2.5: the highest version the server conforms to); connection handling stays 1.0's."""

    def build_response_header(self) -> bytes:
        head = super().build_response_header()
        return b"HTTP/1.1 " + head[9:] if head.startswith(b"HTTP/1.0 ") else head


class _Channel(HTTPChannel):
    """One connection, with the deadline of the module docstring (`due`). A request that is
    complete but not yet answered (`in_route`) is never cut."""

    task_class = _Task
    error_task_class = _ErrorTask

    def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Any, map: Any) -> None:
        self.listener = cast(Listener, server)
        self.due = self.listener.clock.monotonic() + self.listener.request_timeout
        self.completed = 0  # requests complete (loop thread)
        self.answered = 0  # answers begun (worker threads)
        self._answering = False
        self.peer_done = False
        self.parser_class = cast(Any, partial(_Parser, on_complete=self._request_complete))
        super().__init__(server, sock, addr, adj, map=map)

    @property
    def in_route(self) -> bool:
        return self.completed > self.answered

    def _request_complete(self) -> None:
        self.completed += 1

    def readable(self) -> bool:
        return not self.peer_done and super().readable()

    def handle_read(self) -> None:
        """As waitress's, but a client that half-closes after its request (`nc -N`) still
        gets the answer (waitress would drop it), then the connection closes."""
        try:
            data = cast(socket.socket, self.socket).recv(self.adj.recv_bytes)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.handle_close()
            return
        if data:
            self.last_activity = time.time()
            self.received(data)
        elif self.in_route:
            self.peer_done = True  # service() closes once the answer is out
        elif self.total_outbufs_len:
            self.close_when_flushed = True
        else:
            self.handle_close()

    def service(self) -> None:
        self._answering = True
        try:
            super().service()
        finally:
            self._answer_begins()
            if self.peer_done and not self.in_route:
                with cast(Any, self).requests_lock:
                    self.close_when_flushed = True
                self.server.pull_trigger()

    def write_soon(self, data: Any) -> int:
        self._answer_begins()  # before the first byte of the answer leaves
        return super().write_soon(data)

    def _answer_begins(self) -> None:
        """Once per request: the answer and the next request share a fresh deadline."""
        if self._answering:
            self._answering = False
            self.due = self.listener.clock.monotonic() + self.listener.request_timeout
            self.answered += 1


class Listener:
    """What `UnixListener`/`TCPListener` add to waitress's servers: the clock and timeout,
    the deadline sweep, and a 503 instead of waiting when the connection limit is reached."""

    clock: Clock
    request_timeout: float
    refusals: RefusalLog
    next_sweep = 0.0

    def sweep(self) -> int:
        """Mark connections past their deadline for closing (the loop closes them); how
        many. Safe from any thread."""
        server = cast(BaseWSGIServer, self)
        now = self.clock.monotonic()
        channels = list(cast(dict[int, _Channel], server.active_channels).values())
        late = [ch for ch in channels if not ch.in_route and ch.due <= now and not ch.will_close]
        for channel in late:
            channel.will_close = True
            try:  # the peer sees the end at once, and an end, not a reset
                cast(socket.socket, channel.socket).shutdown(socket.SHUT_RDWR)
            except OSError as exc:
                log.debug("control sweep shutdown failed error=%s", exc)
        if late:
            server.pull_trigger()
        return len(late)

    def readable(self) -> bool:
        server = cast(BaseWSGIServer, self)
        wall = time.time()
        if wall >= self.next_sweep:
            self.next_sweep = wall + server.adj.cleanup_interval
            cast(Any, server).maintenance(wall)  # waitress's idle timeout (channel_timeout)
            self.sweep()
        return server.accepting

    def handle_accept(self) -> None:
        server = cast(BaseWSGIServer, self)
        try:
            accepted = server.accept()
        except OSError as exc:
            log.debug("control accept failed error=%s", exc)
            return
        if accepted is None:
            return
        conn, addr = accepted
        if len(cast(dict[int, _Channel], server.active_channels)) >= server.adj.connection_limit:
            self.refusals.refused()
            _refuse(conn)
            return
        try:
            server.set_socket_options(conn)
        except OSError:
            conn.close()
            return
        _Channel(server, conn, server.fix_addr(addr), server.adj, cast(Any, server)._map)


def _refuse(conn: socket.socket) -> None:
    """Answer 503 without blocking the loop, then close."""
    try:
        conn.setblocking(False)
        conn.send(_BUSY)
        conn.shutdown(socket.SHUT_WR)
    except OSError as exc:
        log.debug("control busy answer not sent error=%s", exc)
    finally:
        conn.close()


class UnixListener(Listener, UnixWSGIServer):
    pass


class TCPListener(Listener, TcpWSGIServer):
    pass
