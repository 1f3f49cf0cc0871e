"""Fresh NFO rendering, text cleaning and the one output step."""

from __future__ import annotations

import datetime

import pytest
from lxml import etree

from svimaged.nfo.model import EpisodeInfo, SeasonThumb, ShowInfo
from svimaged.nfo.render import clean_text, render_episode, render_tvshow, serialize
from svimaged.nfo.xml import parse_xml

DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

EPISODE = EpisodeInfo(
    title="Late night chat",
    showtitle="Some Streamer",
    season=202611,
    episode=3,
    aired=datetime.date(2026, 11, 5),
    genre="Just Chatting",
    stream_id="40123456789",
    thumb="/data/tv/.images/artwork/123/stream_40123456789.jpg",
)
SHOW = ShowInfo(
    title="Some Streamer",
    plot="I stream things.",
    user_id="123",
    poster="/data/tv/.images/profiles/profile_avatar_123.jpg",
    fanart="https://static-cdn.jtvnw.net/offline.png",
    season_thumbs=(
        SeasonThumb(202611, "/data/tv/.images/profiles/profile_avatar_123.jpg"),
        SeasonThumb(202610, "/data/tv/.images/categories/just_chatting.jpg"),
    ),
)
EMPTY_EPISODE = EpisodeInfo(None, None, None, None, None, None, None, None)
EMPTY_SHOW = ShowInfo(None, None, None, None, None)


def children(data: bytes) -> list[tuple[str, dict[str, str], str | None]]:
    root = parse_xml(data)
    return [
        (str(child.tag), {str(k): str(v) for k, v in child.attrib.items()}, child.text)
        for child in root
    ]


def test_fresh_episode_has_every_element_in_order() -> None:
    data = render_episode(EPISODE)
    assert parse_xml(data).tag == "episodedetails"
    assert children(data) == [
        ("title", {}, "Late night chat"),
        ("showtitle", {}, "Some Streamer"),
        ("season", {}, "202611"),
        ("episode", {}, "3"),
        ("aired", {}, "2026-11-05"),
        ("genre", {}, "Just Chatting"),
        ("studio", {}, "Twitch"),
        ("uniqueid", {"type": "twitch", "default": "true"}, "40123456789"),
        ("thumb", {}, "/data/tv/.images/artwork/123/stream_40123456789.jpg"),
    ]


def test_fresh_episode_exact_bytes() -> None:
    info = EpisodeInfo("T", None, 202611, 3, None, None, None, "https://x/y.jpg")
    assert render_episode(info) == (
        DECLARATION + b"<episodedetails>\n"
        b"  <title>T</title>\n"
        b"  <season>202611</season>\n"
        b"  <episode>3</episode>\n"
        b"  <studio>Twitch</studio>\n"
        b"  <thumb>https://x/y.jpg</thumb>\n"
        b"</episodedetails>\n"
    )


def test_fresh_tvshow_has_every_element_in_order() -> None:
    data = render_tvshow(SHOW)
    root = parse_xml(data)
    assert root.tag == "tvshow"
    profile = "/data/tv/.images/profiles/profile_avatar_123.jpg"
    assert children(data)[:6] == [
        ("title", {}, "Some Streamer"),
        ("plot", {}, "I stream things."),
        ("uniqueid", {"type": "twitch", "default": "true"}, "123"),
        ("thumb", {"aspect": "poster"}, profile),
        (
            "thumb",
            {"aspect": "poster", "type": "season", "season": "202610"},
            "/data/tv/.images/categories/just_chatting.jpg",
        ),
        ("thumb", {"aspect": "poster", "type": "season", "season": "202611"}, profile),
    ]
    fanart = root[6]
    assert fanart.tag == "fanart" and len(root) == 7
    assert [(t.tag, t.text) for t in fanart] == [
        ("thumb", "https://static-cdn.jtvnw.net/offline.png")
    ]


def test_fresh_tvshow_exact_layout() -> None:
    info = ShowInfo("S", None, None, None, "/f.jpg")
    assert render_tvshow(info) == (
        DECLARATION + b"<tvshow>\n"
        b"  <title>S</title>\n"
        b"  <fanart>\n"
        b"    <thumb>/f.jpg</thumb>\n"
        b"  </fanart>\n"
        b"</tvshow>\n"
    )


def test_duplicate_season_thumbs_first_wins() -> None:
    info = ShowInfo(None, None, None, None, None, (SeasonThumb(5, "/a"), SeasonThumb(5, "/b")))
    assert children(render_tvshow(info)) == [
        ("thumb", {"aspect": "poster", "type": "season", "season": "5"}, "/a")
    ]


def test_unknown_values_are_omitted() -> None:
    assert children(render_episode(EMPTY_EPISODE)) == [("studio", {}, "Twitch")]
    assert render_tvshow(EMPTY_SHOW) == DECLARATION + b"<tvshow/>\n"


def test_output_is_utf8_without_bom_with_declaration() -> None:
    info = EpisodeInfo("Pokémon ✨ 日本", None, None, None, None, "Pokémon", None, None)
    data = render_episode(info)
    assert data.startswith(DECLARATION)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    assert "Pokémon ✨ 日本".encode() in data
    assert parse_xml(data).findtext("title") == "Pokémon ✨ 日本"


def test_markup_characters_in_title_are_escaped() -> None:
    title = "Tom & Jerry <script>alert(\"x\")</script> 'q' ]]>"
    info = EpisodeInfo(title, "A&B", None, None, None, "<genre>", "1", "/x?a=1&b=2")
    data = render_episode(info)
    assert b"Tom &amp; Jerry &lt;script&gt;" in data
    root = parse_xml(data)
    assert root.findtext("title") == title
    assert root.findtext("showtitle") == "A&B"
    assert root.findtext("genre") == "<genre>"
    assert root.findtext("thumb") == "/x?a=1&b=2"
    assert root.find("script") is None


def test_markup_in_attribute_values_is_escaped() -> None:
    info = ShowInfo(None, None, 'a"b&c<d', None, None)
    root = parse_xml(render_tvshow(info))
    assert root.findtext("uniqueid") == 'a"b&c<d'


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b", "ab"),
        ("\x1b[31mred", "[31mred"),
        ("x\ufffey\uffff", "xy"),
        ("lone \ud800 surrogate \udfff", "lone  surrogate "),
        ("tab\tnl\ncr\r", "tab\tnl\ncr\r"),
        ("\x7f\x85 kept", "\x7f\x85 kept"),
        ("emoji 😀 \U0010ffff", "emoji 😀 \U0010ffff"),
        ("\x01\x02\x08\x0b\x0c\x0e\x1f", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_forbidden_characters_are_dropped_from_output() -> None:
    info = EpisodeInfo("a\x00b\x1bc\ufffed", None, None, None, None, "g\ud800", None, "/t\x00.jpg")
    data = render_episode(info)
    root = parse_xml(data)
    assert root.findtext("title") == "abcd"
    assert root.findtext("genre") == "g"
    assert root.findtext("thumb") == "/t.jpg"
    assert b"\x00" not in data and b"\x1b" not in data


def test_carriage_return_round_trips() -> None:
    info = ShowInfo(None, "line one\r\nline two", None, None, None)
    assert parse_xml(render_tvshow(info)).findtext("plot") == "line one\r\nline two"


def test_serialize_keeps_prolog_nodes_each_on_a_line() -> None:
    source = (
        b"<!--a--><!DOCTYPE tvshow [<!ELEMENT tvshow ANY>]><?pi x?>"
        b"<tvshow><title>t</title></tvshow><!--z-->"
    )
    assert serialize(parse_xml(source)) == (
        DECLARATION + b"<!--a-->\n<!DOCTYPE tvshow [\n<!ELEMENT tvshow ANY>\n]>\n<?pi x?>\n"
        b"<tvshow><title>t</title></tvshow>\n<!--z-->\n"
    )


def test_serialize_of_a_new_element() -> None:
    root = etree.Element("episodedetails")
    etree.SubElement(root, "title").text = "x"
    assert serialize(root) == DECLARATION + b"<episodedetails><title>x</title></episodedetails>\n"
