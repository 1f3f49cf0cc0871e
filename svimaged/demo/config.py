"""Config data that points svimaged at a running `FakeTwitch` (demo, tests, benchmarks)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from svimaged.demo.fake_twitch import FakeTwitch


def fake_config_data(fake: FakeTwitch, recordings: Path, state_dir: Path) -> dict[str, Any]:
    """Plain config data (as YAML would give it): the tree and state in the given folders,
        Twitch and the CDN at `fake` on 127.0.0.1 (so http and a private address are allowed for
        that one host:port only), recordings finished after 60 s of quiet, the control socket in
        the state folder (or, when that path is too long for AF_UNIX, in a short folder under
        the system's temporary folder, named after the state folder), and no ffmpeg frames (the
    sample videos are placeholders)."""
    return {
        "control": {"socket": str(control_socket_for(state_dir))},
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
        # The sample videos are placeholders, not real video: no frame can be grabbed.
        "artwork": {"ffmpeg": False},
    }


#: AF_UNIX socket paths are limited to 108 bytes on Linux, including the final NUL.
MAX_SOCKET_PATH = 100


def control_socket_for(state_dir: Path) -> Path:
    """A control socket path for tests and the demo that fits AF_UNIX's length limit."""
    path = state_dir / "control.sock"
    if len(str(path).encode()) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"svimaged-{digest}" / "control.sock"
