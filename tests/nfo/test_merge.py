"""Merging into existing NFO files: keep the user's data, replace only what we manage."""

from __future__ import annotations

import dataclasses
import datetime
import time

import pytest

from svimaged.core.errors import NfoParseError
from svimaged.nfo.merge import is_locked, merge_episode, merge_tvshow
from svimaged.nfo.model import EpisodeInfo, SeasonThumb, ShowInfo
from svimaged.nfo.render import render_episode, render_tvshow
from svimaged.nfo.xml import MAX_NFO_BYTES, parse_xml

DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
ART = "/data/tv/.images/artwork/123/stream_40.jpg"
PROFILE = "/data/tv/.images/profiles/profile_avatar_123.jpg"

EPISODE = EpisodeInfo(
    title="Our title",
    showtitle="Streamer",
    season=202611,
    episode=3,
    aired=datetime.date(2026, 11, 5),
    genre="Just Chatting",
    stream_id="40",
    thumb=ART,
)
SHOW = ShowInfo(
    title="Streamer",
    plot="Our plot",
    user_id="123",
    poster=PROFILE,
    fanart="https://static-cdn.jtvnw.net/offline.png",
    season_thumbs=(SeasonThumb(202611, PROFILE),),
)
NO_THUMB = EpisodeInfo("t", None, None, None, None, None, None, None)


def test_none_renders_fresh() -> None:
    assert merge_episode(None, EPISODE) == render_episode(EPISODE)
    assert merge_tvshow(None, SHOW) == render_tvshow(SHOW)


@pytest.mark.parametrize("info", [EPISODE, NO_THUMB])
def test_merging_into_our_fresh_episode_changes_nothing(info: EpisodeInfo) -> None:
    fresh = render_episode(info)
    assert merge_episode(fresh, info) == fresh


def test_merging_into_our_fresh_tvshow_changes_nothing() -> None:
    fresh = render_tvshow(SHOW)
    assert merge_tvshow(fresh, SHOW) == fresh


def test_streamvault_episode_is_merged_keeping_user_data_in_order() -> None:
    existing = (
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b"<episodedetails>\n"
        b"  <title>My own title</title>\n"
        b"  <!-- written by StreamVault -->\n"
        b'  <plot lang="en">Plot &amp; more</plot>\n'
        b"  <thumb>../.media/artwork/7/stream_40.jpg</thumb>\n"
        b'  <thumb aspect="banner">banner.jpg</thumb>\n'
        b'  <custom a="1"><nested>x</nested></custom>\n'
        b"  <genre></genre>\n"
        b"  <aired>2020-01-01</aired>\n"
        b"</episodedetails>\n"
    )
    assert merge_episode(existing, EPISODE) == (
        DECL + b"<episodedetails>\n"
        b"  <title>My own title</title>\n"
        b"  <!-- written by StreamVault -->\n"
        b'  <plot lang="en">Plot &amp; more</plot>\n'
        b"  <thumb>" + ART.encode() + b"</thumb>\n"
        b'  <thumb aspect="banner">banner.jpg</thumb>\n'
        b'  <custom a="1"><nested>x</nested></custom>\n'
        b"  <genre/>\n"
        b"  <aired>2020-01-01</aired>\n"
        b"  <showtitle>Streamer</showtitle>\n"
        b"  <season>202611</season>\n"
        b"  <episode>3</episode>\n"
        b"  <studio>Twitch</studio>\n"
        b'  <uniqueid type="twitch" default="true">40</uniqueid>\n'
        b"</episodedetails>\n"
    )


def test_all_our_thumbs_are_replaced_by_one_at_the_first_position() -> None:
    existing = (
        b"<episodedetails>\n\t<a/>\n\t<thumb>rel/one.jpg</thumb>\n\t<b/>\n"
        b'\t<thumb aspect="poster">file:///two.jpg</thumb>\n'
        b'\t<thumb aspect="clearlogo">logo.png</thumb>\n'
        b"\t<thumb preview='p'>three.jpg</thumb>\n</episodedetails>"
    )
    info = EpisodeInfo(None, None, None, None, None, None, None, ART)
    assert merge_episode(existing, info) == (
        DECL + b"<episodedetails>\n\t<a/>\n\t<thumb>" + ART.encode() + b"</thumb>\n\t<b/>\n"
        b'\t<thumb aspect="clearlogo">logo.png</thumb>\n'
        b"\t<studio>Twitch</studio>\n</episodedetails>\n"
    )


def test_thumb_appended_when_none_existed() -> None:
    existing = b'<episodedetails>\n    <thumb aspect="landscape">l.jpg</thumb>\n</episodedetails>'
    info = EpisodeInfo(None, None, None, None, None, None, None, "/x.jpg")
    assert merge_episode(existing, info) == (
        DECL + b"<episodedetails>\n"
        b'    <thumb aspect="landscape">l.jpg</thumb>\n'
        b"    <studio>Twitch</studio>\n"
        b"    <thumb>/x.jpg</thumb>\n"
        b"</episodedetails>\n"
    )


def test_thumb_kept_without_replacement() -> None:
    existing = (
        b"<episodedetails>\n  <thumb>mine.jpg</thumb>\n  <studio>X</studio>\n</episodedetails>"
    )
    root = parse_xml(merge_episode(existing, NO_THUMB))
    assert [t.text for t in root.iter("thumb")] == ["mine.jpg"]
    assert root.findtext("studio") == "X"


def test_existing_text_elements_are_never_changed() -> None:
    existing = (
        b"<episodedetails><title/><genre>Mine</genre><aired>bogus</aired><season>1</season>"
        b"<episode>99</episode><showtitle> </showtitle><studio>YouTube</studio>"
        b'<uniqueid type="Twitch">old</uniqueid></episodedetails>'
    )
    root = parse_xml(merge_episode(existing, EPISODE))
    assert [(c.tag, c.text) for c in root] == [
        ("title", None),
        ("genre", "Mine"),
        ("aired", "bogus"),
        ("season", "1"),
        ("episode", "99"),
        ("showtitle", " "),
        ("studio", "YouTube"),
        ("uniqueid", "old"),
        ("thumb", ART),
    ]


def test_compact_file_stays_compact() -> None:
    existing = b"<episodedetails><title>x</title></episodedetails>"
    assert merge_episode(existing, NO_THUMB) == (
        DECL + b"<episodedetails><title>x</title><studio>Twitch</studio></episodedetails>\n"
    )


def test_other_default_uniqueid_keeps_its_default() -> None:
    existing = b'<episodedetails><uniqueid type="tmdb" default="true">9</uniqueid></episodedetails>'
    root = parse_xml(merge_episode(existing, EPISODE))
    ids = [(u.get("type"), u.get("default"), u.text) for u in root.iter("uniqueid")]
    assert ids == [("tmdb", "true", "9"), ("twitch", None, "40")]


def test_bom_and_foreign_declaration_are_normalized() -> None:
    existing = (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8" standalone="no" ?>\r\n'
        b"<!--created on 2024-01-01 - tinyMediaManager-->\r\n"
        b"<episodedetails>\r\n  <title>T\xc3\xa9</title>\r\n</episodedetails>\r\n"
    )
    merged = merge_episode(existing, NO_THUMB)
    assert merged == (
        DECL + b"<!--created on 2024-01-01 - tinyMediaManager-->\n"
        b"<episodedetails>\n  <title>T\xc3\xa9</title>\n  <studio>Twitch</studio>\n"
        b"</episodedetails>\n"
    )


def test_tvshow_merge_replaces_poster_seasons_and_fanart_keeps_the_rest() -> None:
    existing = (
        b"<tvshow>\n"
        b"\t<title>Custom name</title>\n"
        b"\t<thumb>../.media/profiles/avatar.jpg</thumb>\n"
        b'\t<thumb aspect="banner">banner.jpg</thumb>\n'
        b'\t<thumb aspect="poster" type="season" season="202611">old.jpg</thumb>\n'
        b'\t<thumb aspect="poster" type="season" season="202001">user.jpg</thumb>\n'
        b'\t<fanart url="x"><thumb>old-fanart.jpg</thumb><thumb>two.jpg</thumb></fanart>\n'
        b"\t<?kodi keep?>\n"
        b"\t<actor><name>n</name></actor>\n"
        b"</tvshow>\n"
    )
    assert merge_tvshow(existing, SHOW) == (
        DECL + b"<tvshow>\n"
        b"\t<title>Custom name</title>\n"
        b'\t<thumb aspect="poster">' + PROFILE.encode() + b"</thumb>\n"
        b'\t<thumb aspect="poster" type="season" season="202611">'
        + PROFILE.encode()
        + b"</thumb>\n"
        b'\t<thumb aspect="banner">banner.jpg</thumb>\n'
        b'\t<thumb aspect="poster" type="season" season="202001">user.jpg</thumb>\n'
        b"\t<fanart>\n\t\t<thumb>https://static-cdn.jtvnw.net/offline.png</thumb>\n\t</fanart>\n"
        b"\t<?kodi keep?>\n"
        b"\t<actor><name>n</name></actor>\n"
        b"\t<plot>Our plot</plot>\n"
        b'\t<uniqueid type="twitch" default="true">123</uniqueid>\n'
        b"</tvshow>\n"
    )


def test_tvshow_without_images_keeps_all_thumbs_and_fanart() -> None:
    existing = (
        b'<tvshow>\n  <thumb aspect="poster">p.jpg</thumb>\n'
        b'  <thumb aspect="poster" type="season" season="1">s.jpg</thumb>\n'
        b"  <fanart><thumb>f.jpg</thumb></fanart>\n</tvshow>\n"
    )
    info = ShowInfo(None, None, None, None, None)
    assert merge_tvshow(existing, info) == DECL + existing


def test_tvshow_season_thumbs_alone_leave_the_poster() -> None:
    existing = (
        b'<tvshow>\n  <thumb aspect="poster">p.jpg</thumb>\n'
        b'  <thumb aspect="poster" type="season" season="007">s.jpg</thumb>\n</tvshow>\n'
    )
    info = ShowInfo(None, None, None, None, None, (SeasonThumb(7, "/new.jpg"),))
    assert merge_tvshow(existing, info) == DECL + (
        b'<tvshow>\n  <thumb aspect="poster">p.jpg</thumb>\n'
        b'  <thumb aspect="poster" type="season" season="7">/new.jpg</thumb>\n</tvshow>\n'
    )


def test_removing_the_last_child_keeps_the_closing_layout() -> None:
    existing = b"<tvshow>\n  <title>t</title>\n  <fanart/>\n  <fanart/>\n</tvshow>\n"
    info = ShowInfo(None, None, None, None, "/f.jpg")
    assert merge_tvshow(existing, info) == DECL + (
        b"<tvshow>\n  <title>t</title>\n  <fanart>\n    <thumb>/f.jpg</thumb>\n  </fanart>\n"
        b"</tvshow>\n"
    )


@pytest.mark.parametrize("flag", [b"true", b"TRUE", b"  True\n "])
def test_lockdata_returns_the_same_bytes_object(flag: bytes) -> None:
    existing = (
        b"<episodedetails><lockdata>" + flag + b"</lockdata><thumb>../x</thumb></episodedetails>"
    )
    assert merge_episode(existing, EPISODE) is existing
    show = b"<tvshow><lockdata>" + flag + b"</lockdata></tvshow>"
    assert merge_tvshow(show, SHOW) is show


@pytest.mark.parametrize("flag", [b"false", b"", b"yes", b"truee"])
def test_lockdata_other_values_do_not_lock(flag: bytes) -> None:
    existing = b"<episodedetails><lockdata>" + flag + b"</lockdata></episodedetails>"
    merged = merge_episode(existing, EPISODE)
    assert parse_xml(merged).findtext("thumb") == ART


def test_lockdata_below_the_root_does_not_lock() -> None:
    root = parse_xml(b"<tvshow><x><lockdata>true</lockdata></x></tvshow>")
    assert not is_locked(root)
    assert is_locked(parse_xml(b"<tvshow><lockdata>true</lockdata></tvshow>"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"<episodedetails><title>x</episodedetails>",
        b"<episodedetails>&undefined;</episodedetails>",
        b"<episodedetails/><episodedetails/>",
        b"<episodedetails><title>a & b</title></episodedetails>",
        b"\xff\xfe<\x00e\x00/\x00>\x00",
    ],
)
def test_malformed_raises(data: bytes) -> None:
    with pytest.raises(NfoParseError):
        merge_episode(data, EPISODE)
    with pytest.raises(NfoParseError):
        merge_tvshow(data, SHOW)


def test_billion_laughs_is_refused_without_expansion() -> None:
    levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?><!DOCTYPE episodedetails [<!ENTITY lol0 "lol">{levels}]>'
        "<episodedetails><title>&lol9;</title></episodedetails>"
    ).encode()
    started = time.monotonic()
    with pytest.raises(NfoParseError):
        merge_episode(data, EPISODE)
    assert time.monotonic() - started < 20  # refused, not expanded (10**9 times "lol")


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><episodedetails>'
        b"<title>&xxe;</title></episodedetails>",
        b'<!DOCTYPE e [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><episodedetails/>',
        b'<!DOCTYPE e [ <!entity xxe SYSTEM "http://127.0.0.1:9/x"> ]><episodedetails/>',
    ],
)
def test_external_entities_are_refused(data: bytes) -> None:
    with pytest.raises(NfoParseError):
        merge_episode(data, EPISODE)


def test_external_dtd_reference_is_refused_never_loaded() -> None:
    # An undeclared entity would make our standalone output invalid, and loading the DTD
    # would read a file: the NFO is refused and left as it is.
    data = (
        b'<!DOCTYPE episodedetails SYSTEM "file:///etc/passwd">'
        b"<episodedetails><title>&xxe;</title></episodedetails>"
    )
    with pytest.raises(NfoParseError, match="does not declare"):
        merge_episode(data, EPISODE)


def test_external_dtd_without_entities_is_kept() -> None:
    data = (
        b'<!DOCTYPE episodedetails SYSTEM "x.dtd"><episodedetails><title>T</title></episodedetails>'
    )
    merged = merge_episode(data, EPISODE)
    assert b'<!DOCTYPE episodedetails SYSTEM "x.dtd">' in merged
    assert b"<title>T</title>" in merged


def test_huge_nfo_is_refused() -> None:
    data = b"<episodedetails>" + b" " * MAX_NFO_BYTES + b"</episodedetails>"
    with pytest.raises(NfoParseError):
        merge_episode(data, EPISODE)


@pytest.mark.parametrize(
    ("data", "merge"),
    [
        (b"<movie><title>x</title></movie>", "tvshow"),
        (b"<episodedetails/>", "tvshow"),
        (b"<tvshow/>", "episode"),
        (b'<tvshow xmlns="urn:x"/>', "tvshow"),
        (b"<TVSHOW/>", "tvshow"),
    ],
)
def test_wrong_root_raises(data: bytes, merge: str) -> None:
    with pytest.raises(NfoParseError, match="root"):
        if merge == "tvshow":
            merge_tvshow(data, SHOW)
        else:
            merge_episode(data, EPISODE)


def test_wrong_root_raises_even_when_locked() -> None:
    with pytest.raises(NfoParseError):
        merge_tvshow(b"<movie><lockdata>true</lockdata></movie>", SHOW)


EPISODE_DOCS = [
    b"<episodedetails/>",
    b"<episodedetails></episodedetails>",
    b"<episodedetails>\n</episodedetails>",
    b"<episodedetails>text only</episodedetails>",
    b"<episodedetails><title>x</title></episodedetails>",
    b"<episodedetails>\n\t<thumb>a</thumb>\n\t<thumb>b</thumb>\n</episodedetails>",
    b"<episodedetails>\n  <thumb>a</thumb>tail text\n  <x/>\n</episodedetails>",
    b"<episodedetails><!--c--><thumb>a</thumb><?pi?></episodedetails><!--after-->",
    b"<episodedetails>\n\n    <thumb/>\n\n    <!-- c -->\n\n</episodedetails>",
    b'<episodedetails><uniqueid type="imdb" default="true">tt1</uniqueid></episodedetails>',
    b"<episodedetails><![CDATA[raw <stuff>]]><thumb>x</thumb></episodedetails>",
    b"<!--a--><!DOCTYPE episodedetails><!--b--><episodedetails> <thumb/> </episodedetails>",
]
EPISODE_INFOS = [EPISODE, NO_THUMB, EpisodeInfo(None, None, None, None, None, None, None, None)]


@pytest.mark.parametrize("data", EPISODE_DOCS)
@pytest.mark.parametrize("info", EPISODE_INFOS)
def test_episode_merge_is_idempotent(data: bytes, info: EpisodeInfo) -> None:
    once = merge_episode(data, info)
    assert merge_episode(once, info) == once
    if info.thumb is not None:
        assert [t.text for t in parse_xml(once).iter("thumb")] == [info.thumb]


TVSHOW_DOCS = [
    b"<tvshow/>",
    b"<tvshow>\n</tvshow>",
    b"<tvshow><fanart/><thumb/><fanart/></tvshow>",
    b'<tvshow>\n  <thumb aspect="poster" type="season" season="x">a</thumb>\n</tvshow>',
    b'<tvshow>\n  <thumb type="season" season="-1">a</thumb>\n  <fanart>\n  </fanart>\n</tvshow>',
    b'<tvshow>\n\t<thumb aspect="banner"/>\n\t<plot/>\n</tvshow>\n',
]
TVSHOW_INFOS = [
    SHOW,
    ShowInfo(None, None, None, None, None),
    ShowInfo("t", None, None, None, "/f", (SeasonThumb(-1, "/m"), SeasonThumb(0, "/z"))),
    ShowInfo(None, None, "1", "/p", None, (SeasonThumb(3, "/a"), SeasonThumb(1, "/b"))),
]


@pytest.mark.parametrize("data", TVSHOW_DOCS)
@pytest.mark.parametrize("info", TVSHOW_INFOS)
def test_tvshow_merge_is_idempotent(data: bytes, info: ShowInfo) -> None:
    once = merge_tvshow(data, info)
    assert merge_tvshow(once, info) == once
    assert merge_tvshow(merge_tvshow(None, info), info) == render_tvshow(info)


def test_merge_is_idempotent_when_our_edits_change_which_separator_comes_first() -> None:
    """Found by the property test: removing a second `<fanart>` used to make another blank
    separator the first one, so the next merge laid out our thumbs with another indent."""
    source = b"<tvshow><title/><fanart/>\n<fanart/>\n  <title/></tvshow>"
    info = ShowInfo(
        title="T", plot=None, user_id=None, poster="/p.jpg", fanart="/f.jpg",
        season_thumbs=(SeasonThumb(1, "/s.jpg"),),
    )  # fmt: skip
    once = merge_tvshow(source, info)
    assert merge_tvshow(once, info) == once


# -- other archivers' NFOs ------------------------------------------------------------------

GANYMEDE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<movie>\n'
    b"  <title>Gwen&#39;s cozy stream &amp; chill</title>\n  <premiered>2026-11-14</premiered>\n"
    b"  <studio>Gwen Vods</studio>\n  <genre>Just Chatting</genre>\n  <genre>Minecraft</genre>\n"
    b'  <uniqueid type="twitch" default="true">2000000011</uniqueid>\n</movie>\n'
)


def test_ganymede_movie_merge_keeps_its_root_and_every_child() -> None:
    merged = merge_episode(GANYMEDE, EPISODE, "merge")
    root = parse_xml(merged)
    assert root.tag == "movie"
    assert [(c.tag, c.text) for c in root] == [
        ("title", "Gwen's cozy stream & chill"),
        ("premiered", "2026-11-14"),
        ("studio", "Gwen Vods"),
        ("genre", "Just Chatting"),
        ("genre", "Minecraft"),
        ("uniqueid", "2000000011"),  # ganymede's video id stays
        ("showtitle", "Streamer"),
        ("season", "202611"),
        ("episode", "3"),
        ("aired", "2026-11-05"),
        ("thumb", ART),
    ]
    assert merge_episode(merged, EPISODE, "merge") == merged


def test_ganymede_movie_episode_rule_renames_the_root_and_keep_leaves_it() -> None:
    episode = parse_xml(merge_episode(GANYMEDE, EPISODE, "episode"))
    assert episode.tag == "episodedetails" and episode.findtext("studio") == "Gwen Vods"
    assert merge_episode(GANYMEDE, EPISODE, "keep") is GANYMEDE


def test_other_roots_are_still_refused() -> None:
    with pytest.raises(NfoParseError, match="expected <episodedetails>"):
        merge_episode(b"<tvshow><title>x</title></tvshow>", EPISODE, "merge")


def test_livestreamdvr_undefined_uniqueid_gets_the_stream_id_and_nothing_else_changes() -> None:
    existing = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n<episodedetails>\n'
        b'\t<title>T</title>\n\t<uniqueid type="twitch">undefined</uniqueid>\n'
        b"\t<season>202611</season>\n\t<episode>13</episode>\n\t<id>undefined</id>\n"
        b"</episodedetails>"
    )
    root = parse_xml(merge_episode(existing, EPISODE))
    assert root.findtext("uniqueid") == "40"
    assert (root.findtext("season"), root.findtext("episode")) == ("202611", "13")
    assert root.findtext("id") == "undefined"


def test_svimaged_numbers_are_replaced_when_they_move_other_numbers_never() -> None:
    ours = render_episode(EPISODE)
    moved = dataclasses.replace(EPISODE, episode=4, numbered=True)
    assert parse_xml(merge_episode(ours, moved)).findtext("episode") == "4"
    assert (
        parse_xml(merge_episode(ours, dataclasses.replace(moved, numbered=False))).findtext(
            "episode"
        )
        == "3"
    )
