"""HostRule: the TCP listener answers only `Host` headers that name it (DNS rebinding)."""

from __future__ import annotations

import pytest

from svimaged.control.hosts import HostRule

LOOPBACK = HostRule.for_listener("127.0.0.1", "127.0.0.1", 8000)
LOCALHOST = HostRule.for_listener("localhost", "127.0.0.1", 8000)
V6 = HostRule.for_listener("::1", "::1", 8000)
LAN = HostRule.for_listener("192.168.1.5", "192.168.1.5", 8000)
NAMED = HostRule.for_listener("NAS.lan.", "192.168.1.5", 8000)
ANY = HostRule.for_listener("0.0.0.0", "0.0.0.0", 8000)


@pytest.mark.parametrize(
    ("rule", "header", "allowed"),
    [
        (LOOPBACK, "127.0.0.1:8000", True),
        (LOOPBACK, "localhost:8000", True),
        (LOOPBACK, "LOCALHOST.:8000", True),
        (LOOPBACK, "[::1]:8000", True),
        (LOOPBACK, "127.0.0.2:8000", True),  # a loopback address is never rebound
        (LOOPBACK, "evil.example:8000", False),  # the rebinding case
        (LOOPBACK, "evil.example", False),
        (LOOPBACK, "127.0.0.1:8001", False),
        (LOOPBACK, "127.0.0.1", False),  # no port: 80
        (LOOPBACK, "localhost.evil.example:8000", False),
        (LOOPBACK, "127.0.0.1.evil.example:8000", False),
        (LOOPBACK, "user@127.0.0.1:8000", False),
        (LOOPBACK, "127.0.0.1:8000/x", False),
        (LOOPBACK, "127.0.0.1:99999", False),
        (LOOPBACK, "", False),
        (LOOPBACK, None, False),
        (LOCALHOST, "localhost:8000", True),
        (LOCALHOST, "127.0.0.1:8000", True),
        (V6, "[::1]:8000", True),
        (V6, "localhost:8000", True),
        (V6, "[::2]:8000", False),
        (LAN, "192.168.1.5:8000", True),
        (LAN, "localhost:8000", False),  # not on loopback: localhost would be another host
        (LAN, "nas.lan:8000", False),
        (LAN, "10.0.0.1:8000", False),
        (NAMED, "nas.lan:8000", True),
        (NAMED, "NAS.LAN:8000", True),
        (NAMED, "192.168.1.5:8000", True),
        (NAMED, "evil.example:8000", False),
        (ANY, "10.0.0.1:8000", True),
        (ANY, "[fe80::1]:8000", True),
        (ANY, "localhost:8000", True),
        (ANY, "nas.lan:8000", False),  # a name: could be anyone's
        (ANY, "10.0.0.1:80", False),
    ],
)
def test_host_rule(rule: HostRule, header: str | None, allowed: bool) -> None:
    assert rule.allows(header) is allowed


def test_port_80_may_be_left_out() -> None:
    rule = HostRule.for_listener("127.0.0.1", "127.0.0.1", 80)
    assert rule.allows("localhost") and rule.allows("127.0.0.1:80")
    assert not rule.allows("evil.example")
