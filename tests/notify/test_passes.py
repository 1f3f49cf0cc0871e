"""Notifications from real passes: `run --once` tells every server once per show folder it
wrote into (Created for new NFOs, Modified for rewrites, with item refreshes), a pass that
wrote nothing tells nobody, and a server that refuses or is down changes nothing in what
svimaged writes while the stats show the failure. The daemon, in-process, tells a server
about a recording copied into the tree."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from svimaged.config import parse_config
from svimaged.control.client import ControlClient
from svimaged.core.clock import FakeClock
from svimaged.daemon.lifecycle import Daemon
from svimaged.daemon.sdnotify import Notifier
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import PassSummary, run_once
from svimaged.state import State
from tests.notify.fakes import FakeKodi, FakeMediaBrowser, FakePlex, closed_port_url

KEY = "0123456789abcdef"
ENV = {"JF_KEY": KEY, "PLEX_TOKEN": "plex-token-1234", "KODI_PW": "kodi-pw"}


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file below `root` (the cache included) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def shows_written(summary: PassSummary, root: Path) -> set[str]:
    """The show folders a pass wrote into, as /data/tv paths."""
    paths = [*summary.nfo_written, *summary.placed]
    return {f"/data/tv/{Path(p).relative_to(root).parts[0]}" for p in paths}


def base_config(fake: FakeTwitch, tmp: Path, name: str, notify: list[dict[str, Any]]) -> Any:
    data = fake_config_data(fake, tmp / name / "rec", tmp / name / "state")
    data["nfo"] = {"path_map": [{"from": str(tmp / name / "rec"), "to": "/data/tv"}]}
    data["media_servers"] = ["kodi", "jellyfin", "plex"]
    data["notify"] = notify
    return data


def media_updated(fake: FakeMediaBrowser) -> list[dict[str, str]]:
    return [u for r in fake.calls("POST", "/Library/Media/Updated") for u in r.body["Updates"]]


def test_run_once_tells_each_server_once_per_show_folder(fake: FakeTwitch, tmp_path: Path) -> None:
    now = time.time()
    root = tmp_path / "one" / "rec"
    build_demo_tree(root, fake, now=now)
    sections = {"5": ("Twitch", "show", ["/data/tv"])}
    with (
        FakeMediaBrowser(flavor="jellyfin", api_key=KEY) as jellyfin,
        FakePlex(sections=sections) as plex,
        FakeKodi() as kodi,
    ):
        notify = [
            {"type": "jellyfin", "url": jellyfin.url, "api_key_env": "JF_KEY"},
            {"type": "plex", "url": plex.url, "token_env": "PLEX_TOKEN"},
            {"type": "kodi", "url": kodi.url, "password_env": "KODI_PW"},
        ]
        data = base_config(fake, tmp_path, "one", notify)
        summary = run_once(parse_config(data, ENV), FakeClock(start=now))
        shows = shows_written(summary, root)
        assert len(shows) == 5 and summary.nfo_created and summary.placed
        updates = media_updated(jellyfin)
        assert sorted(u["Path"] for u in updates) == sorted(shows)  # once each
        assert {u["UpdateType"] for u in updates} == {"Created"}
        refreshed = [r.query["path"][0] for r in plex.calls("GET", "/library/sections/5/refresh")]
        assert sorted(refreshed) == sorted(shows)
        scans = [c["params"]["directory"] for c in kodi.rpc_calls("VideoLibrary.Scan")]
        assert sorted(scans) == sorted(f"{show}/" for show in shows)

        seen = len(jellyfin.requests), len(plex.requests), len(kodi.requests)
        again = run_once(parse_config(data, ENV), FakeClock(start=now))  # dana still records
        assert again.nfo_written == [] and again.placed == []
        assert (len(jellyfin.requests), len(plex.requests), len(kodi.requests)) == seen

        # NFOs that name another path are rewritten: Modified, and the items the server
        # has are refreshed. (Jellyfin keeps seeing the tree at /data/tv.)
        data["notify"][0]["path_map"] = [{"from": str(root), "to": "/data/tv"}]
        data["nfo"]["path_map"] = [{"from": str(root), "to": "/mnt/tv"}]
        jellyfin.items = [("abc1", "Series", "/data/tv/Alice Plays", None)]
        rewritten = run_once(parse_config(data, ENV), FakeClock(start=now + 120))
        latest = media_updated(jellyfin)[len(updates) :]
        assert sorted(u["Path"] for u in latest) == sorted(shows_written(rewritten, root))
        # dana_draws' recording is finished by now: its episode NFO is new.
        new = {f"/data/tv/{Path(p).relative_to(root).parts[0]}" for p in rewritten.nfo_created}
        assert new == {"/data/tv/dana_draws"}
        assert {u["Path"]: u["UpdateType"] for u in latest} == {
            show: "Created" if show in new else "Modified"
            for show in shows_written(rewritten, root)  # eve_quiet's NFOs name no image
        }
        assert [r.path for r in jellyfin.requests if r.path.endswith("/Refresh")] == [
            "/Items/abc1/Refresh"
        ]


@pytest.fixture
def refusing() -> Iterator[FakeMediaBrowser]:
    with FakeMediaBrowser(flavor="jellyfin", api_key="the-real-key") as server:
        yield server


def test_servers_that_refuse_or_are_down_change_nothing_svimaged_writes(
    fake: FakeTwitch, tmp_path: Path, refusing: FakeMediaBrowser
) -> None:
    now = time.time()
    down = closed_port_url()
    results = {}
    for name, notify in (
        ("plain", []),
        (
            "failing",
            [
                {"type": "jellyfin", "url": refusing.url, "api_key_env": "JF_KEY"},  # 401
                {"type": "kodi", "url": down, "password_env": "KODI_PW"},  # refused
            ],
        ),
    ):
        build_demo_tree(tmp_path / name / "rec", fake, now=now)
        data = base_config(fake, tmp_path, name, notify)
        data["nfo"] = {"path_map": [{"from": str(tmp_path / name / "rec"), "to": "/data/tv"}]}
        clock = FakeClock(start=now)
        summary = run_once(parse_config(data, ENV), clock)
        results[name] = (summary.line(), tree_bytes(tmp_path / name / "rec"), clock.slept)
    assert results["failing"][0] == results["plain"][0]
    assert results["failing"][1] == results["plain"][1]  # byte for byte, the cache included
    assert results["failing"][2] == [5.0, 10.0]  # Kodi retried within run --once's budget
    state = State.open(tmp_path / "failing" / "state" / "state.db")
    try:
        notify = state.stats(now)["notify"]
    finally:
        state.close()
    assert notify["jellyfin"]["failed"] == 5 and notify["jellyfin"]["sent"] == 0  # one per show
    assert "HTTP 401 (check the credentials)" in notify["jellyfin"]["last_error"]
    assert notify["kodi"]["failed"] == 3 and notify["kodi"]["last_success"] is None
    assert notify["kodi"]["last_error"].endswith("connection refused")


def test_the_daemon_tells_a_server_about_a_copied_recording(
    fake: FakeTwitch, tmp_path: Path
) -> None:
    now = time.time()
    root = tmp_path / "d" / "rec"
    build_demo_tree(root, fake, now=now)
    with FakeMediaBrowser(flavor="emby", api_key=KEY) as emby:
        data = base_config(
            fake, tmp_path, "d", [{"type": "emby", "url": emby.url, "api_key_env": "JF_KEY"}]
        )
        data["watch"] = {"settle_seconds": 0.5, "mode": "inotify"}
        # The tree as it was (dana_draws' recording finished too: 10 s > settle_seconds).
        run_once(parse_config(data, ENV), FakeClock(start=now + 10))
        first = len(media_updated(emby))
        config = tmp_path / "d" / "config.yaml"
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        daemon = Daemon(config, ENV, notifier=Notifier({}))
        thread = threading.Thread(target=daemon.run)
        thread.start()
        try:
            socket = Path(data["control"]["socket"])
            wait(lambda: socket.exists(), "the control socket")
            season = root / "Alice Plays" / "Season 2026-11"
            staging = tmp_path / "d" / "staging"
            staging.mkdir()
            stem = "alice_plays - S202611E04 - Late night"
            info = {"id": 4, "twitch_id": "40000000004", "streamer": {"username": "alice_plays"},
                    "title": "Late night", "category": "Just Chatting"}  # fmt: skip
            (staging / f"{stem}.info.json").write_text(json.dumps(info), encoding="utf-8")
            (staging / f"{stem}.mp4").write_bytes(b"a finished recording")
            old = now - 3600
            os.utime(staging / f"{stem}.mp4", (old, old))
            for part in sorted(staging.iterdir()):  # info.json first, like a recorder
                shutil.copy2(part, season / part.name)
            wait(lambda: len(media_updated(emby)) > first, "the notification")
            time.sleep(0.5)  # nothing else may follow for this change
            latest = media_updated(emby)[first:]
            assert latest == [{"Path": "/data/tv/Alice Plays", "UpdateType": "Created"}]
            _status, stats = ControlClient(socket).request("GET", "/api/images/stats")
            assert isinstance(stats, dict)
            assert stats["notify"]["emby"]["sent"] == first + 1
        finally:
            daemon.request_stop()
            thread.join(15)
        assert not thread.is_alive()


def wait(condition: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
