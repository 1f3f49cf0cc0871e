"""Safe downloads of untrusted URLs (SPEC section 5).

Every URL the daemon downloads comes from outside (info.json, Helix, NFOs), so each one, and
each redirect hop, passes `check_url` first: `https` only (unless `require_https` is off), no
user info, a host from the allowlist on an allowed port, and only global addresses (unless
`allow_private_networks`). The check is repeated at connect time on the socket's real peer
address, so a DNS answer that changes between check and connect (rebinding) cannot reach a
private address either.

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
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.util

from svimaged import __version__
from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import (
    ConfigError,
    DisallowedURLError,
    FetchError,
    ShuttingDownError,
    TooLargeError,
)

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]
"""`(host, port) -> IP address strings`; raises `OSError` when the name does not resolve."""

DEFAULT_USER_AGENT = f"svimaged/{__version__}"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024
#: The whole transfer (all hops and the body) must end within this many `timeout`s.
DEADLINE_FACTOR = 4
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_URL_SHOWN = 200


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What may be downloaded (config `download.*`).

    `allowed_hosts` entries are `host` (default port of the scheme) or `host:port`; they are
    matched exactly, case-insensitively, after IDNA normalisation. An entry that cannot be
    parsed raises `ConfigError` naming `download.allowed_hosts`.
    """

    allowed_hosts: frozenset[str]
    require_https: bool = True
    allow_private_networks: bool = False
    timeout: float = 15.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    _allow: frozenset[tuple[str, int | None]] = field(
        init=False, repr=False, compare=False, default=frozenset()
    )

    def __post_init__(self) -> None:
        entries = {_parse_allow_entry(entry) for entry in self.allowed_hosts}
        object.__setattr__(self, "_allow", frozenset(entries))

    def host_allowed(self, host: str, port: int, default_port: int) -> bool:
        """True when normalised `host` on `port` is in the allowlist."""
        if (host, port) in self._allow:
            return True
        return port == default_port and (host, None) in self._allow


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one successful `Fetcher.get`."""

    url: str  # final URL after redirects
    not_modified: bool  # 304 to a conditional GET: body is b""
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with `socket.getaddrinfo` (TCP), addresses as strings."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_global_address(address: str) -> bool:
    """True when `address` is a public unicast address.

    IPv4-mapped, 6to4 and NAT64 IPv6 addresses are judged by the IPv4 address inside.
    Loopback, private, link-local, shared, reserved, multicast and unparsable: False.
    """
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            address.split("%", 1)[0]
        )
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, policy: FetchPolicy, resolver: Resolver) -> None:
    """Raise `DisallowedURLError` (naming the URL and the reason) unless `policy` allows `url`.

    Resolution failures raise a plain `FetchError`. With `allow_private_networks` nothing is
    resolved.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    allowed_schemes = ("https",) if policy.require_https else ("https", "http")
    if scheme not in allowed_schemes:
        raise DisallowedURLError(f"scheme {scheme or '(none)'!r} not allowed: {_show(url)}")
    if "@" in parts.netloc:
        raise DisallowedURLError(f"user info in URL not allowed: {_show(url)}")
    host = _normalise_host(parts.hostname or "", url)
    port = _port_of(parts, url)
    _check_parsers_agree(url, host, port)
    default_port = _DEFAULT_PORTS[scheme]
    if not policy.host_allowed(host, port or default_port, default_port):
        shown = host if port is None else f"{host}:{port}"
        raise DisallowedURLError(f"host {shown} not in allowed_hosts: {_show(url)}")
    if not policy.allow_private_networks:
        _check_addresses(url, host, port or default_port, resolver)


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
        self._downloads = 0
        self._bytes_total = 0

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
            raise ShuttingDownError(f"fetcher closed, not downloading {_show(url)}")
        headers = self._headers(etag, last_modified)
        conditional = etag is not None or last_modified is not None
        deadline = self._clock.monotonic() + DEADLINE_FACTOR * self._policy.timeout
        with self._slots:
            session = self._checkout()
            try:
                return self._follow(session, url, headers, conditional, deadline)
            finally:
                self._checkin(session)

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
            log.debug("redirect from=%s to=%s", _show(current), _show(target))
            current = target
        raise FetchError(
            f"more than {self._policy.max_redirects} redirects: {_show(url)}", status=None
        )

    def close(self) -> None:
        """Close every session; later `get` calls raise `ShuttingDownError` (a transfer in
        flight finishes and its session is closed when it is handed back)."""
        with self._lock:
            self._closed = True
            sessions, self._sessions, self._idle = self._sessions, [], []
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
        _harden(session, self._policy)
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
            raise FetchError(f"{_network_reason(exc)}: {_show(url)}") from exc

    def _finish(
        self, url: str, response: requests.Response, conditional: bool, deadline: float
    ) -> FetchResult:
        status = response.status_code
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        if status == 304 and conditional:
            log.debug("not modified url=%s", _show(url))
            return FetchResult(url, True, b"", etag, last_modified, None)
        if status != 200:
            raise FetchError(f"HTTP {status} from {_show(url)}", status=status)
        _check_length_header(url, response, self._policy.max_bytes)
        body = self._read_body(url, response, deadline)
        with self._lock:
            self._downloads += 1
            self._bytes_total += len(body)
        log.debug("downloaded url=%s bytes=%d", _show(url), len(body))
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
                raise FetchError(f"body read failed ({type(exc).__name__}): {_show(url)}") from exc
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > self._policy.max_bytes:
                raise TooLargeError(
                    f"body over {self._policy.max_bytes} bytes: {_show(url)}", status=200
                )
            chunks.append(chunk)

    def _check_deadline(self, url: str, deadline: float) -> None:
        if self._clock.monotonic() > deadline:
            limit = DEADLINE_FACTOR * self._policy.timeout
            raise FetchError(f"download took longer than {limit:g} s: {_show(url)}")


def _harden(session: requests.Session, policy: FetchPolicy) -> None:
    """No environment, no cookies, and (unless private networks are allowed) a connect-time
    check of the peer address."""
    session.trust_env = False
    session.proxies.clear()
    session.cookies.clear()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    if not policy.allow_private_networks:
        adapter = _PeerCheckingAdapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)


def _redirect_target(url: str, response: requests.Response) -> str | None:
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location")
    if not location:
        raise FetchError(
            f"HTTP {response.status_code} without Location: {_show(url)}",
            status=response.status_code,
        )
    return urljoin(url, location)


def _check_length_header(url: str, response: requests.Response, max_bytes: int) -> None:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(
            f"Content-Length {declared} over {max_bytes} bytes: {_show(url)}", status=200
        )


def _split(url: str) -> SplitResult:
    if any(ch <= " " or ch in "\x7f\\" for ch in url):
        raise DisallowedURLError(f"URL contains whitespace, control or backslash: {_show(url)}")
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise DisallowedURLError(f"URL does not parse ({exc}): {_show(url)}") from None


def _port_of(parts: SplitResult, url: str) -> int | None:
    try:
        port = parts.port
    except ValueError:
        raise DisallowedURLError(f"bad port: {_show(url)}") from None
    if port == 0:
        raise DisallowedURLError(f"bad port: {_show(url)}")
    return port


def _normalise_host(host: str, url: str) -> str:
    """Lowercase, IDNA (punycode) and without one trailing dot; refuses empty hosts."""
    host = host.lower().removesuffix(".")
    if not host:
        raise DisallowedURLError(f"URL has no host: {_show(url)}")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise DisallowedURLError(f"host is not valid IDNA: {_show(url)}") from None


def _check_parsers_agree(url: str, host: str, port: int | None) -> None:
    """requests connects where urllib3's parser says; refuse URLs the two read differently."""
    try:
        theirs = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError:
        raise DisallowedURLError(f"URL does not parse: {_show(url)}") from None
    their_host = (theirs.host or "").lower().strip("[]").removesuffix(".")
    if their_host != host or theirs.port != port:
        raise DisallowedURLError(f"ambiguous URL: {_show(url)}")


def _check_addresses(url: str, host: str, port: int, resolver: Resolver) -> None:
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host} ({type(exc).__name__}): {_show(url)}") from None
    if not addresses:
        raise FetchError(f"cannot resolve {host} (no addresses): {_show(url)}")
    for address in addresses:
        if not is_global_address(address):
            raise DisallowedURLError(
                f"host {host} resolves to non-global address {address}: {_show(url)}"
            )


def _parse_allow_entry(entry: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(f"//{entry.strip()}")
        port = parts.port
        host = _normalise_host(parts.hostname or "", entry)
    except (ValueError, DisallowedURLError):
        raise ConfigError([f"download.allowed_hosts: not a host or host:port: {entry!r}"]) from None
    if parts.username is not None or parts.path or parts.query:
        raise ConfigError([f"download.allowed_hosts: not a host or host:port: {entry!r}"])
    return host, port


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


def _show(url: str) -> str:
    """The URL for messages and logs: printable characters only, at most 200 of them."""
    shown = "".join(ch if ch.isprintable() and ch != " " else "?" for ch in url[:_URL_SHOWN])
    return shown + ("..." if len(url) > _URL_SHOWN else "")


def _checked_socket(sock: socket.socket, host: str) -> socket.socket:
    """Close and refuse `sock` unless its peer is a global address (anti DNS rebinding)."""
    try:
        peer = str(sock.getpeername()[0])
    except OSError:
        peer = ""
    if not is_global_address(peer):
        sock.close()
        raise DisallowedURLError(f"host {host} connected to non-global address {peer or '?'}")
    return sock


class _CheckedHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(super()._new_conn(), self.host)


class _CheckedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(super()._new_conn(), self.host)


class _CheckedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _PeerCheckingAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections verify the connected peer address."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: object
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }
