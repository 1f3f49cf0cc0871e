"""Tests for svimaged.nfo.refs: what an NFO references (path_map, https only) and season
art."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svimaged.nfo.model import SeasonThumb
from svimaged.nfo.refs import map_path, reference, season_thumbs

URL = "https://static-cdn.jtvnw.net/jtv_user_pictures/1-profile_image-300x300.png"
REL = "profiles/profile_avatar_1.jpg"

MAP = [("/recordings", "/data/tv"), ("/recordings/special", "/never")]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/recordings/.images/profiles/p.jpg", "/data/tv/.images/profiles/p.jpg"),
        ("/recordings", "/data/tv"),
        ("/recordings/special/x.jpg", "/data/tv/special/x.jpg"),  # first match wins
        ("/recordings2/x.jpg", "/recordings2/x.jpg"),
        ("/other/recordings/x.jpg", "/other/recordings/x.jpg"),
        ("/rec", "/rec"),
    ],
)
def test_map_path_component_aware(path: str, expected: str) -> None:
    assert map_path(path, MAP) == expected


def test_map_path_trailing_slashes_and_empty_map() -> None:
    assert map_path("/recordings/x.jpg", [("/recordings/", "/data/tv/")]) == "/data/tv/x.jpg"
    assert map_path("/recordings/x.jpg", []) == "/recordings/x.jpg"


ROOT = Path("/recordings/.images")


def test_reference_cached_is_absolute_path() -> None:
    assert reference(ROOT, REL, True, URL, ()) == "/recordings/.images/" + REL


def test_reference_applies_path_map() -> None:
    mapped = reference(ROOT, REL, True, URL, [("/recordings", "/data/tv")])
    assert mapped == "/data/tv/.images/" + REL


def test_reference_path_map_is_component_aware() -> None:
    root = Path("/recordings2/.images")
    assert reference(root, REL, True, URL, [("/recordings", "/data/tv")]) == (
        "/recordings2/.images/" + REL
    )


def test_reference_first_matching_map_wins() -> None:
    rules = [("/elsewhere", "/x"), ("/recordings/.images", "/img"), ("/recordings", "/data")]
    assert reference(ROOT, REL, True, URL, rules) == "/img/" + REL


def test_reference_trailing_slash_in_map() -> None:
    assert reference(ROOT, REL, True, None, [("/recordings/", "/data/tv/")]) == (
        "/data/tv/.images/" + REL
    )


@pytest.mark.parametrize("url", [URL, "HTTPS://static-cdn.jtvnw.net/a.png"])
def test_reference_uncached_uses_https_url(url: str) -> None:
    assert reference(ROOT, REL, False, url, [("/recordings", "/data")]) == url
    assert reference(ROOT, None, True, url, ()) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://static-cdn.jtvnw.net/a.png",
        "file:///recordings/.images/profiles/profile_avatar_1.jpg",
        "profiles/profile_avatar_1.jpg",
        "//static-cdn.jtvnw.net/a.png",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_reference_never_relative_or_insecure(url: str | None) -> None:
    assert reference(ROOT, REL, False, url, ()) is None


_component = st.text(
    alphabet=st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))
_abs_path = st.lists(_component, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(
    root=_abs_path,
    rules=st.lists(st.tuples(_abs_path, _abs_path), max_size=3),
    cached=st.booleans(),
    url=st.sampled_from([URL, "http://x/y.png", None]),
)
def test_reference_is_always_absolute_or_https(
    root: str, rules: list[tuple[str, str]], cached: bool, url: str | None
) -> None:
    got = reference(Path(root), REL, cached, url, rules)
    if cached:
        assert got is not None and PurePosixPath(got).is_absolute()
        assert got.endswith("/" + REL)
    else:
        assert got == (URL if url == URL else None)


def test_season_thumbs_modes() -> None:
    seasons = {202611: ["Just Chatting", "Minecraft", "Minecraft"], 202610: [None]}
    boxes = {"Minecraft": "/img/minecraft.jpg"}
    assert season_thumbs(seasons, "none", "/p.jpg", boxes.get) == ()
    assert season_thumbs(seasons, "profile", "/p.jpg", boxes.get) == (
        SeasonThumb(202610, "/p.jpg"),
        SeasonThumb(202611, "/p.jpg"),
    )
    assert season_thumbs(seasons, "category", "/p.jpg", boxes.get) == (
        SeasonThumb(202610, "/p.jpg"),
        SeasonThumb(202611, "/img/minecraft.jpg"),
    )
    assert season_thumbs(seasons, "profile", None, boxes.get) == ()
