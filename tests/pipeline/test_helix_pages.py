"""A first pass starts the image transfers of the streamers Helix's first users page named
while it still asks for the next page (fake Twitch on 127.0.0.1, tree in tmp_path)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_http import Reply
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import run_once

#: Real seconds the second users page waits for an image request before it is answered.
PATIENCE = 5.0
STREAMERS = [(str(94_000_000 + n), f"paged_{n:03d}", f"Paged {n:03d}") for n in range(101)]


def test_images_of_the_first_users_page_are_fetched_while_the_second_is_asked(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    for uid, login, display in STREAMERS:
        fake.add_user(uid, login, display)
    root = tmp_path / "rec"
    generate_tree(
        root, recordings=len(STREAMERS), streamers=STREAMERS, categories=["x"],
        now=time.time(), with_info=False,
    )  # fmt: skip
    image_asked = threading.Event()
    users_pages: list[bool] = []  # per users request: had an image been asked before it ended
    handle = fake.handle

    def watching(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if target.startswith("/cdn/"):
            image_asked.set()
        elif target.startswith("/helix/users"):
            if users_pages:  # a later page: wait (a while) for an image request
                image_asked.wait(PATIENCE)
            users_pages.append(image_asked.is_set())
        return handle(method, target, headers, body)

    monkeypatch.setattr(fake, "handle", watching)
    config = parse_config(fake_config_data(fake, root, tmp_path / "state"), {})
    summary = run_once(config, FakeClock(start=time.time()))
    assert users_pages == [False, True]  # two pages; images came between them
    assert len(summary.cached) == len(STREAMERS) and summary.errors == 0
