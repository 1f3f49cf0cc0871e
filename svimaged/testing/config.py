"""Config data that points svimaged at a running `FakeTwitch` (demo, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from svimaged.testing.fake_twitch import FakeTwitch


def fake_config_data(fake: FakeTwitch, recordings: Path, state_dir: Path) -> dict[str, Any]:
    """Plain config data (as YAML would give it): the tree and state in the given folders,
    Twitch and the CDN at `fake` on 127.0.0.1 (so http and a private address are allowed for
    that one host:port only), recordings finished after 60 s of quiet."""
    return {
        "recordings": str(recordings),
        "state_dir": str(state_dir),
        "twitch": {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "api_base": fake.api_base,
            "auth_url": fake.auth_url,
        },
        "download": {
            "allowed_hosts": [fake.base_url.removeprefix("http://")],
            "require_https": False,
            "allow_private_networks": True,
            "timeout": 5,
        },
        "watch": {"settle_seconds": 60},
    }
