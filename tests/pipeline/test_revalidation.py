"""A refresh pass (`refresh_interval: 0`) revalidates each URL once, however many cache files
come from it (fake Twitch on 127.0.0.1, the demo tree in tmp_path)."""

from __future__ import annotations

import collections
import time
from pathlib import Path

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import run_once


def test_a_refresh_pass_sends_one_request_per_url(tmp_path: Path, fake: FakeTwitch) -> None:
    clock = FakeClock(start=time.time())
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    config = parse_config({**data, "refresh_interval": 0}, {})
    first = run_once(config, clock)
    assert first.failed == 0
    clock.advance(10)
    before = collections.Counter(fake.paths)
    refresh = run_once(config, clock)
    asked = collections.Counter(fake.paths)
    asked.subtract(before)
    cdn = {path: n for path, n in asked.items() if path.startswith("/cdn/") and n}
    assert len(cdn) >= 10  # box art, avatars, thumbnails, the offline image
    assert {path: n for path, n in cdn.items() if n > 1} == {}
    assert refresh.cached == [] and refresh.failed == 0 and refresh.refreshed >= len(cdn)
