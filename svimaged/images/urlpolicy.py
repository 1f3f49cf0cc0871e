"""The URL policy of safe downloads (contract section 5): which URLs the fetcher may ask
for. Every URL the daemon downloads comes from outside (info.json, Helix, NFOs), so each one,
and each redirect hop, passes `check_url` first: `https` only (unless `require_https` is
off), no user info, a host from the allowlist on an allowed port, and only global addresses
(unless `allow_private_networks`). `checked_socket` repeats the address check at connect
time on the socket's real peer address (the fetcher's connections call it, see
`images.connections`), so a DNS answer that changes between check and connect (rebinding)
cannot reach a private address either."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

import urllib3.exceptions
import urllib3.util

from svimaged.core.errors import ConfigError, DisallowedURLError, FetchError

Resolver = Callable[[str, int], list[str]]
"""`(host, port) -> IP address strings`; raises `OSError` when the name does not resolve."""

DEFAULT_PORTS = {"http": 80, "https": 443}
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
    host, port = _check_static(url, policy)
    if not policy.allow_private_networks:
        _check_addresses(url, host, port, resolver)


def _check_static(url: str, policy: FetchPolicy) -> tuple[str, int]:
    """Every rule that needs no look-up; returns the normalised host and the port."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    allowed_schemes = ("https",) if policy.require_https else ("https", "http")
    if scheme not in allowed_schemes:
        raise DisallowedURLError(f"scheme {scheme or '(none)'!r} not allowed: {show_url(url)}")
    if "@" in parts.netloc:
        raise DisallowedURLError(f"user info in URL not allowed: {show_url(url)}")
    host = _normalise_host(parts.hostname or "", url)
    port = _port_of(parts, url)
    _check_parsers_agree(url, host, port)
    default_port = DEFAULT_PORTS[scheme]
    if not policy.host_allowed(host, port or default_port, default_port):
        shown = host if port is None else f"{host}:{port}"
        raise DisallowedURLError(f"host {shown} not in allowed_hosts: {show_url(url)}")
    return host, port or default_port


def acceptable_offline(url: str, policy: FetchPolicy) -> bool:
    """True when `url` passes every rule of `check_url` that needs no DNS look-up: scheme,
    no user info, a host (and port) from the allowlist, and, unless private networks are
    allowed, an address literal only when it is global. Used for the URLs an NFO may show
    until the image is cached: a media server must never be sent where the fetcher would
    refuse to go."""
    try:
        host, _port = _check_static(url, policy)
    except FetchError:
        return False
    if policy.allow_private_networks:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True  # a name the allowlist vouches for; resolved only when fetched
    return is_global_address(str(address))


def _split(url: str) -> SplitResult:
    if any(ch <= " " or ch in "\x7f\\" for ch in url):
        raise DisallowedURLError(f"URL contains whitespace, control or backslash: {show_url(url)}")
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise DisallowedURLError(f"URL does not parse ({exc}): {show_url(url)}") from None


def _port_of(parts: SplitResult, url: str) -> int | None:
    try:
        port = parts.port
    except ValueError:
        raise DisallowedURLError(f"bad port: {show_url(url)}") from None
    if port == 0:
        raise DisallowedURLError(f"bad port: {show_url(url)}")
    return port


def _normalise_host(host: str, url: str) -> str:
    """Lowercase, IDNA (punycode) and without one trailing dot; refuses empty hosts."""
    host = host.lower().removesuffix(".")
    if not host:
        raise DisallowedURLError(f"URL has no host: {show_url(url)}")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise DisallowedURLError(f"host is not valid IDNA: {show_url(url)}") from None


def _check_parsers_agree(url: str, host: str, port: int | None) -> None:
    """requests connects where urllib3's parser says; refuse URLs the two read differently."""
    try:
        theirs = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError:
        raise DisallowedURLError(f"URL does not parse: {show_url(url)}") from None
    their_host = (theirs.host or "").lower().strip("[]").removesuffix(".")
    if their_host != host or theirs.port != port:
        raise DisallowedURLError(f"ambiguous URL: {show_url(url)}")


def _check_addresses(url: str, host: str, port: int, resolver: Resolver) -> None:
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host} ({type(exc).__name__}): {show_url(url)}") from None
    if not addresses:
        raise FetchError(f"cannot resolve {host} (no addresses): {show_url(url)}")
    for address in addresses:
        if not is_global_address(address):
            raise DisallowedURLError(
                f"host {host} resolves to non-global address {address}: {show_url(url)}"
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


def show_url(url: str) -> str:
    """The URL for messages and logs: printable characters only, at most 200 of them."""
    shown = "".join(ch if ch.isprintable() and ch != " " else "?" for ch in url[:_URL_SHOWN])
    return shown + ("..." if len(url) > _URL_SHOWN else "")


def checked_socket(sock: socket.socket, host: str) -> socket.socket:
    """Close and refuse `sock` unless its peer is a global address (anti DNS rebinding)."""
    try:
        peer = str(sock.getpeername()[0])
    except OSError:
        peer = ""
    if not is_global_address(peer):
        sock.close()
        raise DisallowedURLError(f"host {host} connected to non-global address {peer or '?'}")
    return sock
