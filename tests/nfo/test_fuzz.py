"""Property tests: hostile NFO bytes and hostile metadata never break rendering or merging."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from svimaged.core.errors import NfoParseError
from svimaged.nfo import render
from svimaged.nfo.merge import merge_episode, merge_tvshow
from svimaged.nfo.model import EpisodeInfo, SeasonInfo, SeasonThumb, ShowInfo
from svimaged.nfo.render import (
    clean_text,
    episode_fields,
    episode_thumbs,
    fresh_bytes,
    fresh_root,
    render_episode,
    render_season,
    render_tvshow,
    season_fields,
    serialize,
    text_element,
)
from svimaged.nfo.xml import parse_xml

LONG_RUN = os.environ.get("HYPOTHESIS_PROFILE") == "long"
FUZZ = settings(
    # CI: a fixed set (derandomized profile); `HYPOTHESIS_PROFILE=long`: the profile's many.
    max_examples=settings.default.max_examples if LONG_RUN else 200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Any code point, lone surrogates and control characters included.
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
maybe_text = st.none() | any_text
xml_text = st.text(max_size=20).map(clean_text)
blank = st.sampled_from([None, "", " ", "\n", "\n  ", "\n\t", "\n\n    ", "\r\n  "])
filler = blank | xml_text

episode_infos = st.builds(
    EpisodeInfo,
    title=maybe_text,
    showtitle=maybe_text,
    season=st.none() | st.integers(-(10**12), 10**12),
    episode=st.none() | st.integers(-(10**12), 10**12),
    aired=st.none() | st.dates(),
    genre=maybe_text,
    stream_id=maybe_text,
    thumb=maybe_text,
)
season_thumbs = st.builds(SeasonThumb, season=st.integers(-(10**6), 10**9), ref=any_text)
show_infos = st.builds(
    ShowInfo,
    title=maybe_text,
    plot=maybe_text,
    user_id=maybe_text,
    poster=maybe_text,
    fanart=maybe_text,
    season_thumbs=st.lists(season_thumbs, max_size=4).map(tuple),
)

TAGS = ["title", "thumb", "fanart", "genre", "aired", "uniqueid", "studio", "plot", "lockdata", "x"]
ATTRS = {
    "aspect": st.sampled_from(["poster", "banner", "", "clearlogo", "Poster"]),
    "type": st.sampled_from(["season", "twitch", "tmdb", "Twitch"]),
    "season": st.sampled_from(["1", "007", "-1", "x", " 3", "202611"]),
    "default": st.sampled_from(["true", "false"]),
}


@st.composite
def child_nodes(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    kind = draw(st.sampled_from(["element"] * 6 + ["comment", "pi"]))
    if kind == "comment":
        node: etree._Element = etree.Comment(draw(xml_text).replace("-", "_"))
    elif kind == "pi":
        node = etree.ProcessingInstruction("app", draw(xml_text).replace("?>", ""))
    else:
        node = etree.Element(draw(st.sampled_from(TAGS)))
        for name in draw(st.lists(st.sampled_from(sorted(ATTRS)), max_size=3, unique=True)):
            node.set(name, draw(ATTRS[name]))
        node.text = draw(filler)
        if depth < 1:
            for child in draw(st.lists(child_nodes(depth + 1), max_size=2)):
                node.append(child)
    node.tail = draw(blank)
    return node


@st.composite
def nfo_documents(draw: st.DrawFn, root_tag: str) -> bytes:
    """Well-formed NFOs of many shapes (sometimes with the wrong root) as bytes."""
    tag = draw(st.sampled_from([root_tag] * 8 + ["movie"]))
    root = etree.Element(tag)
    root.text = draw(blank)
    for child in draw(st.lists(child_nodes(), max_size=8)):
        root.append(child)
    data = etree.tostring(root, encoding="UTF-8", xml_declaration=draw(st.booleans()))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(documents))
    for _ in range(draw(st.integers(1, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


hostile_bytes = (
    st.binary(max_size=300)
    | mutated(nfo_documents("episodedetails"))
    | nfo_documents("episodedetails")
)


def is_ours(node: etree._Element) -> bool:
    return node.tag in ("thumb", "fanart")


def signature(root: etree._Element) -> list[bytes]:
    """Each non-image root child as serialized without its tail: what merge must keep."""
    return [etree.tostring(c, with_tail=False) for c in root if not is_ours(c)]


@FUZZ
@given(data=hostile_bytes, info=episode_infos)
def test_arbitrary_bytes_raise_or_give_parseable_output(data: bytes, info: EpisodeInfo) -> None:
    try:
        merged = merge_episode(data, info)
    except NfoParseError:
        return
    # the root stays what it was: an episode's, or a movie's (ganymede's NFO, merged)
    assert parse_xml(merged).tag == parse_xml(data).tag
    assert parse_xml(merged).tag in ("episodedetails", "movie")


@FUZZ
@given(info=episode_infos)
def test_episode_text_round_trips_cleaned(info: EpisodeInfo) -> None:
    root = parse_xml(render_episode(info))
    assert root.tag == "episodedetails"
    for tag, value in [
        ("title", info.title),
        ("showtitle", info.showtitle),
        ("genre", info.genre),
        ("uniqueid", info.stream_id),
        ("thumb", info.thumb),
    ]:
        assert root.findtext(tag) == (None if value is None else clean_text(value))
    assert root.findtext("season") == (None if info.season is None else str(info.season))
    assert root.findtext("aired") == (None if info.aired is None else info.aired.isoformat())
    assert root.findtext("studio") == "Twitch"


@FUZZ
@given(info=show_infos)
def test_tvshow_text_round_trips_cleaned(info: ShowInfo) -> None:
    root = parse_xml(render_tvshow(info))
    for tag, value in [("title", info.title), ("plot", info.plot), ("uniqueid", info.user_id)]:
        assert root.findtext(tag) == (None if value is None else clean_text(value))
    posters = [t.text or "" for t in root.iterfind("thumb") if t.get("type") is None]
    assert posters == ([] if info.poster is None else [clean_text(info.poster)])
    fanart = None if info.fanart is None else clean_text(info.fanart)
    assert root.findtext("fanart/thumb") == fanart
    expected: dict[str, str] = {}
    for season_thumb in info.season_thumbs:
        expected.setdefault(str(season_thumb.season), clean_text(season_thumb.ref))
    seasons = {t.get("season"): t.text or "" for t in root.iterfind("thumb[@type='season']")}
    assert seasons == expected


@FUZZ
@given(data=nfo_documents("episodedetails"), info=episode_infos)
def test_episode_merge_is_idempotent_and_keeps_user_data(data: bytes, info: EpisodeInfo) -> None:
    assert merge_episode(merge_episode(None, info), info) == render_episode(info)
    try:
        once = merge_episode(data, info)
    except NfoParseError:
        assert parse_xml(data).tag != "episodedetails"
        return
    assert merge_episode(once, info) == once
    kept = signature(parse_xml(data))
    assert signature(parse_xml(once))[: len(kept)] == kept


@FUZZ
@given(data=nfo_documents("tvshow"), info=show_infos)
def test_tvshow_merge_is_idempotent_and_keeps_user_data(data: bytes, info: ShowInfo) -> None:
    assert merge_tvshow(merge_tvshow(None, info), info) == render_tvshow(info)
    try:
        once = merge_tvshow(data, info)
    except NfoParseError:
        assert parse_xml(data).tag != "tvshow"
        return
    assert merge_tvshow(once, info) == once
    kept = signature(parse_xml(data))
    assert signature(parse_xml(once))[: len(kept)] == kept
    assert serialize(parse_xml(once)) == once


season_infos = st.builds(
    SeasonInfo, season=st.integers(-(10**12), 10**12), title=maybe_text, thumb=maybe_text
)


@FUZZ
@given(info=episode_infos)
def test_a_fresh_episode_nfo_is_written_as_lxml_would_write_it(info: EpisodeInfo) -> None:
    """`render.fresh_bytes` writes fresh NFOs without building a tree: byte for byte what
    building the tree and serializing it gives (the oracle), hostile text included."""
    elements = [*episode_fields(info), *episode_thumbs(info)]
    assert render_episode(info) == serialize(fresh_root("episodedetails", elements))


@FUZZ
@given(info=season_infos)
def test_a_fresh_season_nfo_is_written_as_lxml_would_write_it(info: SeasonInfo) -> None:
    elements = [*season_fields(info), *render.season_thumbs(info)]
    assert render_season(info) == serialize(fresh_root("season", elements))


@FUZZ
@given(tag=st.sampled_from(["thumb", "uniqueid"]), text=any_text, attrib=st.dictionaries(
    st.sampled_from(["aspect", "type", "season"]), any_text, max_size=3))  # fmt: skip
def test_fresh_bytes_escape_text_and_attributes_as_lxml(
    tag: str, text: str, attrib: dict[str, str]
) -> None:
    spec = (tag, text, tuple(attrib.items()))
    oracle = serialize(fresh_root("episodedetails", [text_element(tag, text, attrib)]))
    assert fresh_bytes("episodedetails", [spec]) == oracle
    assert fresh_bytes("season", []) == serialize(fresh_root("season", []))
