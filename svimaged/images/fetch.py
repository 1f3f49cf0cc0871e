"""Safe downloads of untrusted URLs (contract section 5).

Every URL and every redirect hop passes the URL policy (`urlpolicy.check_url`, repeated at
connect time on the real peer address) before a byte is sent.

Transfers have connect/read timeouts, a wall-clock deadline, a size cap enforced while
streaming, and at most `concurrency` of them run at once. Sessions keep no cookies and ignore
the environment (`trust_env = False`: no `HTTPS_PROXY`, no `.netrc`, no `REQUESTS_CA_BUNDLE`),
so a stray variable cannot reroute or decorate traffic. 304 answers to conditional GETs
(ETag / Last-Modified) cost no body.

Only `FetchError` and its subclasses (and `ShuttingDownError` after `close`) leave here.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import ipaddress
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.util

from svimaged import __version__
from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import (
    FetchError,
    ShuttingDownError,
    TooLargeError,
)
from svimaged.images.connections import OpenConnections, TrackingAdapter
from svimaged.images.urlpolicy import (
    FetchPolicy,
    Resolver,
    check_url,
    show_url,
    system_resolver,
)

log = logging.getLogger(__name__)


DEFAULT_USER_AGENT = f"svimaged/{__version__}"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024
#: The whole transfer (all hops and the body) must end within this many `timeout`s.
DEADLINE_FACTOR = 4
DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_URL_SHOWN = 200


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one successful `Fetcher.get`."""

    url: str  # final URL after redirects
    not_modified: bool  # 304 to a conditional GET: body is b""
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None


class Fetcher:
    """Downloads for many threads, one shared policy, at most `concurrency` sessions (each
    used by one transfer at a time, however many threads come and go).

    `concurrency` bounds the transfers running at once (extra callers wait). `clock` is
    only read for the per-download deadline. `downloads` and `bytes_total` count complete
    200 transfers and their body bytes.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver | None = None,
        session_factory: Callable[[], requests.Session] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        concurrency: int = 4,
        clock: Clock | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver or system_resolver
        self._factory: Callable[[], requests.Session] = session_factory or requests.Session
        self._user_agent = user_agent
        self._clock: Clock = clock or SystemClock()
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []  # every session made (at most concurrency)
        self._idle: list[requests.Session] = []  # those not in use right now
        self._closed = False
        self._connections = OpenConnections()
        self._downloads = 0
        self._bytes_total = 0

    @property
    def policy(self) -> FetchPolicy:
        """The download policy every URL and redirect hop is checked against."""
        return self._policy

    @property
    def downloads(self) -> int:
        """Complete 200 transfers so far."""
        return self._downloads

    @property
    def bytes_total(self) -> int:
        """Body bytes of those transfers."""
        return self._bytes_total

    def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Download `url` following at most `max_redirects` checked redirects.

        With `etag` / `last_modified` the GET is conditional and a 304 gives
        `not_modified=True`. Any other non-200 raises `FetchError` with `status`.
        """
        if self._closed:
            raise ShuttingDownError(f"fetcher closed, not downloading {show_url(url)}")
        headers = self._headers(etag, last_modified)
        conditional = etag is not None or last_modified is not None
        deadline = self._clock.monotonic() + DEADLINE_FACTOR * self._policy.timeout
        with self._slots:
            session = self._checkout()
            try:
                result = self._follow(session, url, headers, conditional, deadline)
            except FetchError as exc:
                if self._closed:  # cut off by close(): not a failure of this URL
                    raise ShuttingDownError(f"download cut off: {show_url(url)}") from exc
                raise
            finally:
                self._checkin(session)
        if self._connections.aborted:  # an early end of the body may be the cut
            raise ShuttingDownError(f"download cut off: {show_url(url)}")
        return result

    def _follow(  # every hop checked again; at most max_redirects of them
        self,
        session: requests.Session,
        url: str,
        headers: Mapping[str, str],
        conditional: bool,
        deadline: float,
    ) -> FetchResult:
        current = url
        for _hop in range(self._policy.max_redirects + 1):
            self._check_deadline(current, deadline)
            check_url(current, self._policy, self._resolver)
            with self._send(session, current, headers) as response:
                target = _redirect_target(current, response)
                if target is None:
                    return self._finish(current, response, conditional, deadline)
            log.debug("redirect from=%s to=%s", show_url(current), show_url(target))
            current = target
        raise FetchError(
            f"more than {self._policy.max_redirects} redirects: {show_url(url)}", status=None
        )

    def close(self) -> None:
        """Close every session and cut off the transfers in flight (their sockets are shut,
        see `images.connections`): they, and later `get` calls, raise `ShuttingDownError`
        at once. Nothing is stored from a transfer cut off."""
        with self._lock:
            self._closed = True
            sessions, self._sessions, self._idle = self._sessions, [], []
        cut = self._connections.abort()
        if cut:
            log.info("fetcher closed, transfers in flight cut off connections=%d", cut)
        for session in sessions:
            session.close()

    def _headers(self, etag: str | None, last_modified: str | None) -> dict[str, str]:
        headers = {
            "User-Agent": self._user_agent,
            "Accept": "image/*",
            "Accept-Encoding": "identity",
        }
        if etag is not None:
            headers["If-None-Match"] = etag
        if last_modified is not None:
            headers["If-Modified-Since"] = last_modified
        return headers

    def _checkout(self) -> requests.Session:
        """An idle session, or a new one: a session is used by one transfer at a time, and
        there are never more than `concurrency` of them (callers hold a slot), however
        many threads come and go."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        session = self._factory()
        _harden(session, self._policy, self._connections)
        with self._lock:
            self._sessions.append(session)
        return session

    def _checkin(self, session: requests.Session) -> None:
        with self._lock:
            if self._closed:
                session.close()
            else:
                self._idle.append(session)

    def _send(
        self, session: requests.Session, url: str, headers: Mapping[str, str]
    ) -> requests.Response:
        timeout = self._policy.timeout
        try:
            return session.get(
                url,
                headers=dict(headers),
                allow_redirects=False,
                stream=True,
                timeout=(timeout, timeout),
            )
        except requests.RequestException as exc:
            raise FetchError(f"{_network_reason(exc)}: {show_url(url)}") from exc

    def _finish(
        self, url: str, response: requests.Response, conditional: bool, deadline: float
    ) -> FetchResult:
        status = response.status_code
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        if status == 304 and conditional:
            log.debug("not modified url=%s", show_url(url))
            return FetchResult(url, True, b"", etag, last_modified, None)
        if status != 200:
            raise FetchError(f"HTTP {status} from {show_url(url)}", status=status)
        _check_length_header(url, response, self._policy.max_bytes)
        body = self._read_body(url, response, deadline)
        with self._lock:
            self._downloads += 1
            self._bytes_total += len(body)
        log.debug("downloaded url=%s bytes=%d", show_url(url), len(body))
        content_type = response.headers.get("Content-Type")
        return FetchResult(url, False, body, etag, last_modified, content_type)

    def _read_body(self, url: str, response: requests.Response, deadline: float) -> bytes:
        """Read with `read1` (one socket read per call), so neither a slow drip nor an
        endless body can hold the worker past the deadline or the size cap."""
        raw = response.raw
        chunks: list[bytes] = []
        total = 0
        while True:
            self._check_deadline(url, deadline)
            try:
                chunk = raw.read1(CHUNK_SIZE, decode_content=True)
            except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
                raise FetchError(
                    f"body read failed ({type(exc).__name__}): {show_url(url)}"
                ) from exc
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > self._policy.max_bytes:
                raise TooLargeError(
                    f"body over {self._policy.max_bytes} bytes: {show_url(url)}", status=200
                )
            chunks.append(chunk)

    def _check_deadline(self, url: str, deadline: float) -> None:
        if self._clock.monotonic() > deadline:
            limit = DEADLINE_FACTOR * self._policy.timeout
            raise FetchError(f"download took longer than {limit:g} s: {show_url(url)}")


def _harden(session: requests.Session, policy: FetchPolicy, connections: OpenConnections) -> None:
    """No environment, no cookies, every connection tracked in `connections` (so `close()`
    can cut it off) and, unless private networks are allowed, a connect-time check of the
    peer address."""
    session.trust_env = False
    session.proxies.clear()
    session.cookies.clear()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = TrackingAdapter(connections, check_peer=not policy.allow_private_networks)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def _redirect_target(url: str, response: requests.Response) -> str | None:
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location")
    if not location:
        raise FetchError(
            f"HTTP {response.status_code} without Location: {show_url(url)}",
            status=response.status_code,
        )
    return urljoin(url, location)


def _check_length_header(url: str, response: requests.Response, max_bytes: int) -> None:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(
            f"Content-Length {declared} over {max_bytes} bytes: {show_url(url)}", status=200
        )


def _network_reason(exc: requests.RequestException) -> str:
    """A short reason; never the exception's repr (which can be long and noisy)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return f"request failed ({type(exc).__name__})"
