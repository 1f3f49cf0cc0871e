"""Kodi's JSON-RPC, against a fake Kodi 20 web server: the exact requests for new and
rewritten files, authentication, errors and `notify test`'s probe."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from svimaged.core.errors import NotifyError
from svimaged.notify.changes import folder_batches
from svimaged.notify.http import HttpClient
from svimaged.notify.kodi import KodiClient
from tests.notify.fakes import FakeKodi, closed_port_url
from tests.notify.sample import MAP, NFO_1, NFO_2, REC, SEASON, SHOW


@pytest.fixture
def kodi() -> Iterator[FakeKodi]:
    fake = FakeKodi(
        shows={SHOW + "/": 7},
        episodes=[(11, 7, f"{SEASON}/alice - S202611E01 - a.mp4"), (12, 7, f"{SEASON}/x.mkv")],
        sources=["/data/tv/", "/data/movies/"],
    )
    with fake:
        yield fake


def client(fake: FakeKodi, password: str | None = None) -> KodiClient:
    return KodiClient(HttpClient(), fake.url, username="kodi", password=password or fake.password)


def sent(fake: FakeKodi) -> list[tuple[str, dict[str, object]]]:
    return [(body["method"], body["params"]) for body in fake.rpc_calls()]


def test_a_new_recording_is_one_scan_of_its_show_folder(kodi: FakeKodi) -> None:
    (batch,) = folder_batches([NFO_1], [], REC, MAP).values()
    client(kodi).notify(batch)
    (request,) = kodi.requests
    pair = base64.b64encode(b"kodi:kodi-pw").decode()
    assert (request.method, request.path, request.query) == ("POST", "/jsonrpc", {})
    assert request.header("Authorization") == f"Basic {pair}"
    assert request.header("Content-Type") == "application/json"
    assert request.body == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "VideoLibrary.Scan",
        "params": {"directory": SHOW + "/", "showdialogs": False},
    }


def test_a_rewritten_episode_nfo_refreshes_that_episode_only(kodi: FakeKodi) -> None:
    (batch,) = folder_batches([], [NFO_1], REC, MAP).values()
    client(kodi).notify(batch)
    assert sent(kodi) == [
        (
            "VideoLibrary.GetTVShows",
            {
                "filter": {"field": "path", "operator": "is", "value": SHOW + "/"},
                "properties": ["file"],
            },
        ),
        ("VideoLibrary.GetEpisodes", {"tvshowid": 7, "properties": ["file"]}),
        ("VideoLibrary.RefreshEpisode", {"episodeid": 11, "ignorenfo": False}),
    ]


def test_a_rewritten_tvshow_nfo_refreshes_the_show(kodi: FakeKodi) -> None:
    (batch,) = folder_batches([], [f"{REC}/Alice Plays/tvshow.nfo"], REC, MAP).values()
    client(kodi).notify(batch)
    assert [m for m, _p in sent(kodi)] == ["VideoLibrary.GetTVShows", "VideoLibrary.RefreshTVShow"]
    assert sent(kodi)[-1][1] == {"tvshowid": 7, "ignorenfo": False, "refreshepisodes": False}


def test_new_and_unknown_files_with_rewritten_ones_refresh_then_scan(kodi: FakeKodi) -> None:
    (batch,) = folder_batches([NFO_2], [NFO_1], REC, MAP).values()
    client(kodi).notify(batch)
    assert [m for m, _p in sent(kodi)] == [
        "VideoLibrary.GetTVShows",
        "VideoLibrary.GetEpisodes",
        "VideoLibrary.RefreshEpisode",
        "VideoLibrary.Scan",
    ]


def test_a_show_kodi_does_not_have_is_scanned(kodi: FakeKodi) -> None:
    (batch,) = folder_batches([], [f"{REC}/Bob/tvshow.nfo"], REC, MAP).values()
    client(kodi).notify(batch)
    assert sent(kodi)[-1] == (
        "VideoLibrary.Scan",
        {"directory": "/data/tv/Bob/", "showdialogs": False},
    )
    assert len(sent(kodi)) == 2  # the look-up, then the scan


def test_a_wrong_password_is_a_permanent_error_that_never_shows_the_password(
    kodi: FakeKodi,
) -> None:
    (batch,) = folder_batches([NFO_1], [], REC, MAP).values()
    with pytest.raises(NotifyError) as info:
        client(kodi, password="not-the-password").notify(batch)
    assert not info.value.transient
    assert "HTTP 401" in str(info.value) and "credentials" in str(info.value)
    assert "not-the-password" not in str(info.value)


def test_a_json_rpc_error_is_permanent(kodi: FakeKodi) -> None:
    with pytest.raises(NotifyError, match=r"Kodi VideoLibrary\.Nope: Method not found\.") as info:
        client(kodi).rpc("VideoLibrary.Nope")
    assert not info.value.transient


def test_a_server_error_or_no_server_is_transient(kodi: FakeKodi) -> None:
    (batch,) = folder_batches([NFO_1], [], REC, MAP).values()
    kodi.fail(500)
    with pytest.raises(NotifyError, match="HTTP 500") as info:
        client(kodi).notify(batch)
    assert info.value.transient
    down = KodiClient(HttpClient(), closed_port_url(), username=None, password="")
    with pytest.raises(NotifyError, match="connection refused") as info:
        down.notify(batch)
    assert info.value.transient


def test_probe_reports_version_and_sources(kodi: FakeKodi) -> None:
    probe = client(kodi).probe()
    assert probe.version == "Kodi 20.1 (JSON-RPC 13.0.0)"
    assert [(lib.name, lib.paths) for lib in probe.libraries] == [
        ("Source 0", ("/data/tv/",)),
        ("Source 1", ("/data/movies/",)),
    ]
    assert [m for m, _p in sent(kodi)] == [
        "JSONRPC.Version",
        "Application.GetProperties",
        "Files.GetSources",
    ]
