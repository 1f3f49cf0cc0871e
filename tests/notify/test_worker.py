"""The notifier against fake Kodi, Jellyfin, Emby and Plex servers: batching by show folder
within the window, each entry's path map, backoff on an injected clock (no real waits), a
server that is down or refuses, the counters in the state, and the threads."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from svimaged.config import Config, parse_config
from svimaged.core.clock import FakeClock, SystemClock
from svimaged.notify import NotifyWorker
from svimaged.state import State
from tests.notify.fakes import FakeKodi, FakeMediaBrowser, FakePlex, FakeServer, closed_port_url

REC = "/srv/rec"
ALICE, BOB = f"{REC}/Alice Plays", f"{REC}/Bob"
E1, E2 = (
    f"{ALICE}/Season 2026-11/a - S202611E01 - x.nfo",
    f"{ALICE}/Season 2026-11/a - S202611E02 - y.nfo",
)
KEY = "0123456789abcdef"
ENV = {"KODI_PW": "kodi-pw", "JF_KEY": KEY, "EMBY_KEY": KEY, "PLEX_TOKEN": "plex-token-1234"}


@pytest.fixture
def servers() -> Iterator[dict[str, FakeServer]]:
    fakes: dict[str, FakeServer] = {
        "kodi": FakeKodi(),
        "jellyfin": FakeMediaBrowser(flavor="jellyfin", api_key=KEY),
        "emby": FakeMediaBrowser(flavor="emby", api_key=KEY),
        "plex": FakePlex(sections={"3": ("Twitch", "show", ["/data/tv"])}),
    }
    with ExitStack() as stack:
        for fake in fakes.values():
            stack.enter_context(fake)
        yield fakes


def config(fakes: dict[str, FakeServer], **kodi_extra: Any) -> Config:
    entries = [
        {"type": "kodi", "url": fakes["kodi"].url, "password_env": "KODI_PW", **kodi_extra},
        {"type": "jellyfin", "url": fakes["jellyfin"].url, "api_key_env": "JF_KEY"},
        {"type": "emby", "url": fakes["emby"].url, "api_key_env": "EMBY_KEY"},
        {"type": "plex", "url": fakes["plex"].url, "token_env": "PLEX_TOKEN"},
    ]
    data = {
        "recordings": REC,
        "nfo": {"path_map": [{"from": REC, "to": "/data/tv"}]},
        "notify": entries,
    }
    return parse_config(data, ENV)


def notifications(fakes: dict[str, FakeServer]) -> dict[str, list[str]]:
    """The show folder each server was told about, call by call (Kodi's scans, Jellyfin's
    and Emby's Media/Updated, Plex's partial scans)."""
    kodi = fakes["kodi"]
    assert isinstance(kodi, FakeKodi)
    told = {"kodi": [c["params"]["directory"] for c in kodi.rpc_calls("VideoLibrary.Scan")]}
    for name in ("jellyfin", "emby"):
        updates = [r.body["Updates"] for r in fakes[name].calls("POST", "/Library/Media/Updated")]
        told[name] = [u["Path"] for batch in updates for u in batch]
    refreshes = fakes["plex"].calls("GET", "/library/sections/3/refresh")
    told["plex"] = [r.query["path"][0] for r in refreshes]
    return told


def step_all(worker: NotifyWorker) -> None:
    for server in worker.servers:
        server.step()


def test_changes_in_one_window_are_one_call_per_show_folder_per_server(
    servers: dict[str, FakeServer], state: State
) -> None:
    clock = FakeClock()
    worker = NotifyWorker(config(servers), state.notify, clock, window=2.0)
    worker.submit([E1], [f"{ALICE}/tvshow.nfo"])
    clock.advance(0.5)
    worker.submit([E2], [E1])
    clock.advance(1.0)
    worker.submit([f"{BOB}/b - S202611E01 - z.nfo"], [f"{ALICE}/Season 2026-11/season.nfo"])
    step_all(worker)
    assert all(not fake.requests for fake in servers.values())  # Alice's window is open
    clock.advance(0.5)
    step_all(worker)
    alice = "/data/tv/Alice Plays"
    assert notifications(servers) == {
        "kodi": [alice + "/"],
        "jellyfin": [alice],
        "emby": [alice],
        "plex": [alice],
    }
    jellyfin_body = servers["jellyfin"].calls("POST", "/Library/Media/Updated")[0].body
    assert jellyfin_body == {"Updates": [{"Path": alice, "UpdateType": "Created"}]}
    clock.advance(1.5)
    step_all(worker)
    told = notifications(servers)
    assert told["kodi"] == [alice + "/", "/data/tv/Bob/"]
    assert told["jellyfin"] == told["emby"] == told["plex"] == [alice, "/data/tv/Bob"]
    assert {row.name: (row.sent, row.failed) for row in state.notify.rows()} == {
        "kodi": (2, 0),
        "jellyfin": (2, 0),
        "emby": (2, 0),
        "plex": (2, 0),
    }
    assert worker.pending() == 0


def test_each_entry_sees_the_paths_through_its_own_path_map(
    servers: dict[str, FakeServer], state: State
) -> None:
    clock = FakeClock()
    cfg = config(servers, path_map=[{"from": REC, "to": "smb://nas/recordings"}])
    worker = NotifyWorker(cfg, state.notify, clock, window=0.0)
    worker.submit([E1], [])
    step_all(worker)
    told = notifications(servers)
    assert told["kodi"] == ["smb://nas/recordings/Alice Plays/"]
    assert told["jellyfin"] == told["plex"] == ["/data/tv/Alice Plays"]


def kodi_only(url: str, **extra: Any) -> Config:
    data = {
        "recordings": REC,
        "notify": [{"type": "kodi", "url": url, "password_env": "KODI_PW", **extra}],
    }
    return parse_config(data, ENV)


def test_a_busy_server_is_retried_with_backoff_on_the_injected_clock(state: State) -> None:
    clock = FakeClock()
    with FakeKodi() as kodi:
        kodi.fail(500, times=2)
        url = kodi.url
        worker = NotifyWorker(kodi_only(url), state.notify, clock)
        worker.submit([E1], [])
        assert worker.flush(budget=30.0) == 0
        assert clock.slept == [5.0, 10.0]  # the backoff doubles; nothing really waited
        assert len(kodi.rpc_calls("VideoLibrary.Scan")) == 3
    (row,) = state.notify.rows()
    assert (row.sent, row.failed, row.last_success) == (1, 2, clock.now)
    assert row.last_error == f"POST {url}/jsonrpc: HTTP 500"


def test_a_server_that_is_down_is_logged_once_and_shows_in_the_counters(
    state: State, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    url = closed_port_url()
    worker = NotifyWorker(kodi_only(url), state.notify, clock)
    worker.submit([E1, f"{BOB}/b.nfo"], [])
    with caplog.at_level(logging.DEBUG, logger="svimaged.notify"):
        left = worker.flush(budget=30.0)
    assert left == 2 and clock.slept == [5.0, 10.0]  # the next try (at 35 s) is past the budget
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(" ")[:4] for r in warnings] == [
        ["media", "server", "not", "answering,"],
        ["notifications", "not", "sent", "in"],
    ]
    (row,) = state.notify.rows()
    assert (row.sent, row.failed, row.last_success) == (0, 3, None)
    assert row.last_error == f"POST {url}/jsonrpc: connection refused"


def test_a_refused_notification_is_dropped_and_logged_once(
    state: State, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    with FakeKodi() as kodi:
        worker = NotifyWorker(kodi_only(kodi.url), state.notify, clock)
        worker.submit([E1, f"{BOB}/b.nfo"], [])
        with caplog.at_level(logging.WARNING, logger="svimaged.notify"):
            left = worker.flush(budget=30.0)  # KODI_PW is right: make it wrong below
        assert left == 0
        kodi.password = "changed-on-the-server"
        worker.submit([E1, f"{BOB}/b.nfo"], [])
        with caplog.at_level(logging.WARNING, logger="svimaged.notify"):
            assert worker.flush(budget=30.0) == 0  # dropped: asking again cannot help
    assert clock.slept == []
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and "HTTP 401 (check the credentials)" in refused[0].getMessage()
    assert "kodi-pw" not in caplog.text
    (row,) = state.notify.rows()
    assert (row.sent, row.failed) == (2, 2)


def test_nothing_written_sends_nothing(servers: dict[str, FakeServer], state: State) -> None:
    worker = NotifyWorker(config(servers), state.notify, FakeClock(), window=0.0)
    worker.submit([], [])
    worker.submit([f"{REC}/loose-file.nfo"], [])  # not in a show folder
    assert worker.flush(budget=1.0) == 0
    assert all(not fake.requests for fake in servers.values())


def test_the_threads_send_on_their_own_and_stop(state: State) -> None:
    with FakeKodi() as kodi:
        worker = NotifyWorker(kodi_only(kodi.url), state.notify, SystemClock(), window=0.05)
        worker.start()
        try:
            worker.submit([E1], [])
            deadline = time.monotonic() + 5.0
            while not kodi.rpc_calls("VideoLibrary.Scan") and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            worker.stop(budget=2.0)
        assert len(kodi.rpc_calls("VideoLibrary.Scan")) == 1
    assert all(server.join(0.0) for server in worker.servers)
    assert state.notify.rows()[0].sent == 1
