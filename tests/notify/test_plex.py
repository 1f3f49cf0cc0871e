"""Plex, against a fake Plex Media Server: the section that holds the show folder found
from `/library/sections`, then one partial scan of that folder; the token header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from svimaged.core.errors import NotifyError
from svimaged.notify.changes import folder_batches
from svimaged.notify.http import HttpClient
from svimaged.notify.plex import PlexClient
from tests.notify.fakes import FakePlex
from tests.notify.sample import MAP, NFO_1, REC


@pytest.fixture
def plex() -> Iterator[FakePlex]:
    sections = {
        "1": ("Movies", "movie", ["/data/movies"]),
        "2": ("Twitch", "show", ["/data/other", "/data/tv"]),
    }
    with FakePlex(sections=sections) as fake:
        yield fake


def client(fake: FakePlex, token: str | None = None) -> PlexClient:
    return PlexClient(HttpClient(), fake.url, token=token if token is not None else fake.token)


def test_a_show_folder_is_one_partial_scan_of_its_section(plex: FakePlex) -> None:
    (batch,) = folder_batches([NFO_1], [f"{REC}/Alice Plays/Alice Plays.jpg"], REC, MAP).values()
    client(plex).notify(batch)
    listing, refresh = plex.requests
    assert (listing.method, listing.path, listing.query) == ("GET", "/library/sections", {})
    assert (refresh.method, refresh.path) == ("GET", "/library/sections/2/refresh")
    assert refresh.query == {"path": ["/data/tv/Alice Plays"]}
    for request in plex.requests:
        assert request.header("X-Plex-Token") == plex.token
        assert request.header("Accept") == "application/json"
        assert plex.token not in request.path and "X-Plex-Token" not in request.query


def test_a_folder_no_library_holds_is_a_permanent_error(plex: FakePlex) -> None:
    (batch,) = folder_batches([NFO_1], [], REC, [("/srv/rec", "/mnt/elsewhere")]).values()
    with pytest.raises(
        NotifyError, match="no Plex library holds /mnt/elsewhere/Alice Plays"
    ) as info:
        client(plex).notify(batch)
    assert not info.value.transient
    assert [r.path for r in plex.requests] == ["/library/sections"]


def test_a_wrong_token_is_a_permanent_error(plex: FakePlex) -> None:
    (batch,) = folder_batches([NFO_1], [], REC, MAP).values()
    with pytest.raises(NotifyError, match="HTTP 401") as info:
        client(plex, token="bad-token").notify(batch)
    assert not info.value.transient and "bad-token" not in str(info.value)


def test_probe_reports_version_and_libraries(plex: FakePlex) -> None:
    probe = client(plex).probe()
    assert probe.version == "Plex Media Server 1.41.3.9314-a0bfb8370"
    assert [(lib.name, lib.paths) for lib in probe.libraries] == [
        ("Movies", ("/data/movies",)),
        ("Twitch", ("/data/other", "/data/tv")),
    ]
