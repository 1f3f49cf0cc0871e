"""Tests for svimaged.core.names: slugs, safe names and cache paths (contract section 3.1)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svimaged.core.errors import UnsafeNameError
from svimaged.core.names import (
    ARTWORK_NAME,
    CATEGORY_NAME,
    PROFILE_NAME,
    SLUG_MAX_BYTES,
    artwork_rel,
    category_rel,
    category_slug,
    is_safe_id,
    profile_rel,
    safe_component,
    safe_id,
    slugify,
    stream_file_id,
)

SLUG_RE = re.compile(r"[a-z0-9_]*")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Just Chatting", "just_chatting"),
        ("League of Legends", "league_of_legends"),
        ("Pokémon Scarlet/Violet", "pokemon_scarlet_violet"),
        ("  --Counter-Strike: Global Offensive!!  ", "counter_strike_global_offensive"),
        ("Tom Clancy's Rainbow Six Siege", "tom_clancy_s_rainbow_six_siege"),
        ("ＦＵＬＬＷＩＤＴＨ ２", "fullwidth_2"),  # noqa: RUF001 - NFKD folds fullwidth forms
        ("Café  &  Crème", "cafe_creme"),
        ("Art", "art"),
        ("100% Orange Juice", "100_orange_juice"),
    ],
)
def test_slugify_examples(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize("name", ["", "???", "   ", "日本語", "🎮🎮", "___"])
def test_slugify_can_be_empty(name: str) -> None:
    assert slugify(name) == ""


def test_slugify_cut_to_100_bytes() -> None:
    assert slugify("a" * 150) == "a" * 100
    assert len(slugify("word " * 50)) <= SLUG_MAX_BYTES
    # the cut can leave a trailing `_`, which is stripped again
    assert slugify("a" * 99 + " b") == "a" * 99
    assert slugify("é" * 120) == "e" * 100


def test_category_slug_empty_uses_game_id() -> None:
    assert category_slug("???", "509658") == "category_509658"
    assert category_slug("", "1") == "category_1"


def test_category_slug_empty_without_id_uses_name_hash() -> None:
    digest = hashlib.sha256("日本語".encode()).hexdigest()[:8]
    assert category_slug("日本語", None) == f"category_{digest}"
    assert category_slug("日本語", None) != category_slug("中文", None)


def test_category_slug_collisions() -> None:
    first = "Pokémon Scarlet/Violet"
    second = "Pokemon Scarlet Violet"
    assert category_slug(first, "123") == "pokemon_scarlet_violet"
    assert category_slug(first, "123", taken_by=first) == "pokemon_scarlet_violet"
    assert category_slug(second, "456", taken_by=first) == "pokemon_scarlet_violet_456"
    digest = hashlib.sha256(second.encode()).hexdigest()[:8]
    assert category_slug(second, None, taken_by=first) == f"pokemon_scarlet_violet_{digest}"


@pytest.mark.parametrize("game_id", ["../1", "ABC", "12-3", "1" * 200])
def test_category_slug_never_puts_a_non_numeric_or_long_id_in_a_name(game_id: str) -> None:
    digest = hashlib.sha256(b"???").hexdigest()[:8]
    expected = "1" * 24 if game_id.isdigit() else digest
    assert category_slug("???", game_id) == f"category_{expected}"
    long_name = "x" * 300
    slug = category_slug(long_name, game_id, taken_by="other")
    assert category_rel(slug) == f"categories/{slug}.jpg"


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        ".hidden",
        "a/b",
        "/",
        "a\\b",
        "a\0b",
        "line\nbreak",
        "tab\there",
        "del\x7f",
        "x" * 256,
        "ü" * 128,  # 256 bytes
    ],
)
def test_safe_component_refuses(name: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_component(name)


@pytest.mark.parametrize(
    "name", ["Just Chatting", "a..b", "x" * 255, "ü" * 127 + "x", "日本語", "a b-c_d.jpg", "…"]
)
def test_safe_component_accepts(name: str) -> None:
    assert safe_component(name) == name


def test_lone_surrogate_is_an_unsafe_name() -> None:
    # A JSON body may carry "\ud800"; it must be a client error, never a 500.
    with pytest.raises(UnsafeNameError):
        safe_component("a\ud800b")


def test_lone_surrogate_category_gets_a_hashed_safe_slug() -> None:
    slug = category_slug("\ud800", None, taken_by=None)
    assert re.fullmatch(r"category_[0-9a-f]{8}", slug)
    assert category_rel(slug) == f"categories/{slug}.jpg"


def test_surrogateescaped_file_names_are_measured_as_bytes() -> None:
    # os.listdir gives undecodable bytes as U+DC80..U+DCFF; each is one byte on disk.
    assert safe_component("\udce9" * 255) == "\udce9" * 255
    with pytest.raises(UnsafeNameError):
        safe_component("\udce9" * 256)


@pytest.mark.parametrize("value", ["0", "123456789", "abc_DEF-9", "v2233", "x" * 128])
def test_safe_id_accepts(value: str) -> None:
    assert safe_id(value) == value
    assert is_safe_id(value)


@pytest.mark.parametrize(
    "value", ["", "a b", "../1", "1/2", "1.2", "x" * 129, "ü", "12\n", "\n12", "1\x00"]
)
def test_safe_id_refuses(value: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_id(value)
    assert not is_safe_id(value)


def test_is_safe_id_none() -> None:
    assert not is_safe_id(None)


def test_stream_file_id_fallbacks() -> None:
    rel = "Alice/Season 2026-11/alice - S202611E03 - x.mp4"
    digest = hashlib.sha256(rel.encode()).hexdigest()[:16]
    assert stream_file_id("315123", "4711", rel) == "315123"
    assert stream_file_id(None, "4711", rel) == "4711"
    assert stream_file_id("", "4711", rel) == "4711"
    assert stream_file_id("31 5", "4711", rel) == "4711"
    assert stream_file_id(None, None, rel) == digest
    assert stream_file_id("../x", "a/b", rel) == digest
    assert stream_file_id(None, None, rel + "x") != digest
    assert re.fullmatch(r"[0-9a-f]{16}", stream_file_id(None, None, "caf\udce9.mp4"))


def test_cache_rel_paths() -> None:
    assert profile_rel("12345") == "profiles/profile_avatar_12345.jpg"
    assert category_rel("just_chatting") == "categories/just_chatting.jpg"
    assert artwork_rel("12345", "315") == "artwork/12345/stream_315.jpg"
    assert PROFILE_NAME.fullmatch("profile_avatar_12345.jpg")
    assert CATEGORY_NAME.fullmatch("just_chatting.jpg")
    assert ARTWORK_NAME.fullmatch("stream_315.jpg")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a b"])
def test_cache_rel_paths_refuse_unsafe(bad: str) -> None:
    with pytest.raises(UnsafeNameError):
        profile_rel(bad)
    with pytest.raises(UnsafeNameError):
        artwork_rel(bad, "1")
    with pytest.raises(UnsafeNameError):
        artwork_rel("1", bad)
    with pytest.raises(UnsafeNameError):
        category_rel(bad)


def test_category_rel_refuses_non_slugs() -> None:
    for bad in ("Just_Chatting", "just-chatting", ".hidden", "a" * 131):
        with pytest.raises(UnsafeNameError):
            category_rel(bad)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_slugify_properties(name: str) -> None:
    slug = slugify(name)
    assert SLUG_RE.fullmatch(slug)
    assert not slug.startswith("_")
    assert not slug.endswith("_")
    assert "__" not in slug
    assert len(slug.encode()) <= SLUG_MAX_BYTES
    assert slugify(slug) == slug


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(0, 10**12), st.one_of(st.none(), st.text()))
def test_category_slug_always_a_valid_cache_name(
    name: str, game_id: int, taken: str | None
) -> None:
    slug = category_slug(name, str(game_id), taken_by=taken)
    assert category_rel(slug) == f"categories/{slug}.jpg"


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_safe_component_never_accepts_separator_nul_or_leading_dot(name: str) -> None:
    try:
        accepted = safe_component(name)
    except UnsafeNameError:
        return
    assert accepted == name
    assert accepted
    assert "/" not in accepted
    assert "\\" not in accepted
    assert "\0" not in accepted
    assert not accepted.startswith(".")
    assert accepted not in (".", "..")
    assert len(accepted.encode("utf-8")) <= 255


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["/", "\\", "\0", "\n"]), st.text(), st.text())
def test_safe_component_refuses_any_name_with_a_separator(sep: str, a: str, b: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_component(a + sep + b)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_safe_component_refuses_leading_dot(rest: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_component("." + rest)
