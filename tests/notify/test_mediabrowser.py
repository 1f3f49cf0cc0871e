"""Jellyfin and Emby, against fakes of their REST API: `POST /Library/Media/Updated` per
show folder, item refreshes for rewritten files, the API key header of each, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from svimaged.core.errors import NotifyError
from svimaged.notify.changes import folder_batches
from svimaged.notify.http import HttpClient
from svimaged.notify.mediabrowser import MediaBrowserClient
from tests.notify.fakes import FakeMediaBrowser
from tests.notify.sample import MAP, NFO_1, NFO_2, REC, SEASON, SHOW

ITEMS = [
    ("a1b2", "Series", SHOW, None),
    ("c3d4", "Season", SEASON, "a1b2"),
    ("e5f6", "Episode", f"{SEASON}/alice - S202611E01 - a.mp4", "a1b2"),
    ("9999", "Series", "/data/tv/Bob", None),
]
REFRESH = {
    "metadataRefreshMode": ["FullRefresh"],
    "imageRefreshMode": ["FullRefresh"],
    "replaceAllMetadata": ["false"],
    "replaceAllImages": ["false"],
}


@pytest.fixture(params=["jellyfin", "emby"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeMediaBrowser]:
    with FakeMediaBrowser(
        flavor=request.param, items=ITEMS, libraries={"Twitch": ["/data/tv"]}
    ) as fake:
        yield fake


def client(fake: FakeMediaBrowser, key: str | None = None) -> MediaBrowserClient:
    flavor = "jellyfin" if fake.flavor == "jellyfin" else "emby"
    return MediaBrowserClient(HttpClient(), fake.url, api_key=key or fake.api_key, flavor=flavor)


def test_a_new_recording_is_one_media_updated_call(server: FakeMediaBrowser) -> None:
    (batch,) = folder_batches([NFO_1, NFO_2], [f"{REC}/Alice Plays/tvshow.nfo"], REC, MAP).values()
    batch = type(batch)(batch.show, batch.created)  # only new files
    client(server).notify(batch)
    (request,) = server.requests
    assert (request.method, request.path, request.query) == ("POST", "/Library/Media/Updated", {})
    assert request.body == {"Updates": [{"Path": SHOW, "UpdateType": "Created"}]}
    assert request.header("Content-Type") == "application/json"
    if server.flavor == "jellyfin":
        assert request.header("Authorization") == f'MediaBrowser Token="{server.api_key}"'
        assert request.header("X-Emby-Token") is None
    else:
        assert request.header("X-Emby-Token") == server.api_key
        assert request.header("Authorization") is None


def test_a_rewritten_episode_nfo_refreshes_that_episode(server: FakeMediaBrowser) -> None:
    (batch,) = folder_batches([], [NFO_1], REC, MAP).values()
    client(server).notify(batch)
    shapes = [(r.method, r.path, r.query, r.body) for r in server.requests]
    assert shapes == [
        (
            "POST",
            "/Library/Media/Updated",
            {},
            {"Updates": [{"Path": SHOW, "UpdateType": "Modified"}]},
        ),
        (
            "GET",
            "/Items",
            {"recursive": ["true"], "includeItemTypes": ["Series"], "fields": ["Path"]},
            None,
        ),
        (
            "GET",
            "/Items",
            {
                "parentId": ["a1b2"],
                "recursive": ["true"],
                "includeItemTypes": ["Season,Episode"],
                "fields": ["Path"],
            },
            None,
        ),
        ("POST", "/Items/e5f6/Refresh", REFRESH, None),
    ]


def test_a_rewritten_tvshow_nfo_refreshes_the_series_only(server: FakeMediaBrowser) -> None:
    (batch,) = folder_batches([], [f"{REC}/Alice Plays/tvshow.nfo", NFO_1], REC, MAP).values()
    client(server).notify(batch)
    refreshes = [r.path for r in server.requests if r.path.endswith("/Refresh")]
    assert refreshes == ["/Items/a1b2/Refresh"]  # a series refresh covers its episodes


def test_a_rewritten_season_nfo_refreshes_the_season(server: FakeMediaBrowser) -> None:
    (batch,) = folder_batches(
        [], [f"{REC}/Alice Plays/Season 2026-11/season.nfo"], REC, MAP
    ).values()
    client(server).notify(batch)
    assert [r.path for r in server.requests if r.path.endswith("/Refresh")] == [
        "/Items/c3d4/Refresh"
    ]


def test_files_the_server_does_not_have_need_no_refresh(server: FakeMediaBrowser) -> None:
    (batch,) = folder_batches([], [f"{REC}/Carol/tvshow.nfo"], REC, MAP).values()
    client(server).notify(batch)
    assert [r.path for r in server.requests] == ["/Library/Media/Updated", "/Items"]


def test_a_wrong_key_is_permanent_a_server_error_transient(server: FakeMediaBrowser) -> None:
    (batch,) = folder_batches([NFO_1], [], REC, MAP).values()
    with pytest.raises(NotifyError, match="HTTP 401") as info:
        client(server, key="wrong-key").notify(batch)
    assert not info.value.transient and "wrong-key" not in str(info.value)
    server.fail(503)
    with pytest.raises(NotifyError, match="HTTP 503") as info:
        client(server).notify(batch)
    assert info.value.transient


def test_probe_reports_version_and_libraries(server: FakeMediaBrowser) -> None:
    probe = client(server).probe()
    expected = (
        "Jellyfin Server 10.10.3 (mediabox)"
        if server.flavor == "jellyfin"
        else "Emby 4.8.10.0 (mediabox)"
    )
    assert probe.version == expected
    assert [(lib.name, lib.paths) for lib in probe.libraries] == [("Twitch", ("/data/tv",))]
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/System/Info"),
        ("GET", "/Library/VirtualFolders"),
    ]
