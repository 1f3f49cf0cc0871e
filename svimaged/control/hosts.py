"""Which `Host` headers the TCP listener answers (SPEC section 7, `http.listen`).

A web page on another site can make a browser send requests to `127.0.0.1:8000` by pointing
a name it controls at that address (DNS rebinding); the `Host` header then names the
attacker's site. So the TCP listener answers only requests whose `Host` names the listen
address itself: the configured host name or the bound IP address, with the bound port
(absent: 80); `localhost` and any loopback address too when the listener is on loopback;
any IP address (an address cannot be rebound) and `localhost` when it listens on all
addresses. Pure: no sockets, no name lookups.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOST = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?|([^\s:\[\]/@]+)(?::([0-9]{1,5}))?")


@dataclass(frozen=True)
class HostRule:
    """The `Host` values one TCP listener accepts."""

    name: str  # the configured host, lower case, no trailing dot
    address: ipaddress.IPv4Address | ipaddress.IPv6Address  # what the socket is bound to
    port: int

    @classmethod
    def for_listener(cls, configured_host: str, bound_address: str, port: int) -> HostRule:
        """The rule for a listener configured as `configured_host` (from `http.listen`)
        and bound to `bound_address`:`port`."""
        address = ipaddress.ip_address(bound_address.split("%", 1)[0])
        return cls(configured_host.lower().rstrip("."), address, port)

    def allows(self, header: str | None) -> bool:
        """True when `header` (the request's `Host`) names this listener."""
        parsed = _parse(header)
        if parsed is None or parsed[1] != self.port:
            return False
        host = parsed[0]
        loopback = self.address.is_loopback or self.name == "localhost"
        wildcard = self.address.is_unspecified
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return host == self.name or (host == "localhost" and (loopback or wildcard))
        return wildcard or literal == self.address or (loopback and literal.is_loopback)


def _parse(header: str | None) -> tuple[str, int] | None:
    """(host in lower case without a trailing dot, port) of a `Host` value; None if it is
    missing or malformed."""
    match = _HOST.fullmatch((header or "").strip())
    if match is None:
        return None
    host = (match.group(1) or match.group(3)).lower()
    port = match.group(2) or match.group(4)
    host = host[:-1] if host.endswith(".") else host
    if not host or (port is not None and int(port) > 65535):
        return None
    return host, int(port) if port is not None else 80
