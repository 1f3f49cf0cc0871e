"""Tests for svimaged.library.nfo_meta: existing episode NFOs and tvshow.nfo as a source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from svimaged.core.errors import MetadataError, NfoParseError
from svimaged.core.model import RecordingMeta, ShowMeta
from svimaged.library.nfo_meta import (
    parse_episode_nfo,
    parse_tvshow_nfo,
    read_episode_nfo,
    read_tvshow_nfo,
)
from svimaged.nfo.xml import MAX_NFO_BYTES

EPISODE = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<episodedetails>
  <!-- written by hand -->
  <title>Speedrun &amp; Chill</title>
  <showtitle>Alice Plays</showtitle>
  <season>202611</season>
  <episode>3</episode>
  <aired>2026-11-03</aired>
  <genre>Just Chatting</genre>
  <genre>Second Genre</genre>
  <studio>Twitch</studio>
  <uniqueid type="imdb">tt0000001</uniqueid>
  <uniqueid type="twitch" default="true">315123456789</uniqueid>
  <thumb>/data/tv/.images/artwork/1/stream_315123456789.jpg</thumb>
</episodedetails>
"""

TVSHOW = """<?xml version="1.0" encoding="UTF-8"?>
<tvshow>
  <title>Alice Plays</title>
  <plot>Speedruns, Käsekuchen &lt;3</plot>
  <uniqueid type="twitch" default="true">123456</uniqueid>
</tvshow>
""".encode()


def test_episode_fields() -> None:
    assert parse_episode_nfo(EPISODE, source="ep.nfo") == RecordingMeta(
        stream_id="315123456789",
        title="Speedrun & Chill",
        category_name="Just Chatting",
        started_at=datetime(2026, 11, 3, tzinfo=UTC),
        season=202611,
        episode=3,
        display_name="Alice Plays",
    )


def test_episode_with_bom_and_datetime_aired() -> None:
    data = b"\xef\xbb\xbf<episodedetails><aired>2026-11-03 18:30:00</aired></episodedetails>"
    meta = parse_episode_nfo(data, source="x")
    assert meta.started_at == datetime(2026, 11, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b"<episodedetails/>", RecordingMeta()),
        (b"<episodedetails><title>  </title><genre/></episodedetails>", RecordingMeta()),
        (
            b"<episodedetails><season>-1</season><episode>three</episode></episodedetails>",
            RecordingMeta(),
        ),
        (b"<episodedetails><aired>03.11.2026</aired></episodedetails>", RecordingMeta()),
        (b"<episodedetails><aired>2026-13-40</aired></episodedetails>", RecordingMeta()),
        (
            b'<episodedetails><uniqueid type="twitch">v123</uniqueid></episodedetails>',
            RecordingMeta(),
        ),
        (
            b'<episodedetails><uniqueid type="TWITCH"> 42 </uniqueid></episodedetails>',
            RecordingMeta(stream_id="42"),
        ),
        (
            b"<episodedetails><uniqueid>42</uniqueid></episodedetails>",
            RecordingMeta(),
        ),
        (
            b"<episodedetails><title></title><title>Second</title></episodedetails>",
            RecordingMeta(title="Second"),
        ),
        (
            b"<episodedetails><x><title>nested is ignored</title></x></episodedetails>",
            RecordingMeta(),
        ),
        (
            b"<movie><title>Other root</title></movie>",
            RecordingMeta(title="Other root"),
        ),
    ],
)
def test_episode_odd_values(xml: bytes, expected: RecordingMeta) -> None:
    assert parse_episode_nfo(xml, source="x") == expected


def test_episode_with_non_ascii_digits_is_not_a_number() -> None:
    xml = "<episodedetails><season>٣</season></episodedetails>".encode()
    assert parse_episode_nfo(xml, source="x").season is None


def test_tvshow_fields() -> None:
    assert parse_tvshow_nfo(TVSHOW, source="tvshow.nfo") == ShowMeta(
        user_id="123456", display_name="Alice Plays", description="Speedruns, Käsekuchen <3"
    )


@pytest.mark.parametrize("uid", ["alice", "12a", "", "1 2", "-5", "\uff11\uff12\uff13"])
def test_tvshow_user_id_only_digits(uid: str) -> None:
    xml = f'<tvshow><uniqueid type="twitch">{uid}</uniqueid></tvshow>'.encode()
    assert parse_tvshow_nfo(xml, source="x").user_id is None


MALFORMED = [
    b"",
    b"not xml at all",
    b"<tvshow><title>unclosed</tvshow>",
    b"<a>Speedrun & Chill</a>",
    b"https://www.thetvdb.com/series/12345",
    b"<a/><b/>",
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_raises_nfo_parse_error_naming_source(data: bytes) -> None:
    with pytest.raises(NfoParseError, match=r"/rec/bob/x\.nfo"):
        parse_episode_nfo(data, source="/rec/bob/x.nfo")
    with pytest.raises(NfoParseError, match="tvshow"):
        parse_tvshow_nfo(data, source="/rec/bob/tvshow.nfo")


ENTITIES = [
    b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x "boom">]><tvshow><title>&x;</title></tvshow>',
    b'<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><tvshow><title>&x;</title></tvshow>',
    b'<!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><tvshow><plot>&b;</plot></tvshow>',
]


@pytest.mark.parametrize("data", ENTITIES)
def test_entities_refused(data: bytes) -> None:
    with pytest.raises(NfoParseError):
        parse_tvshow_nfo(data, source="evil.nfo")
    with pytest.raises(NfoParseError):
        parse_episode_nfo(data, source="evil.nfo")


def test_external_dtd_never_fetched(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/evil.dtd").respond_with_data('<!ENTITY x "pwned">')
    url = httpserver.url_for("/evil.dtd")
    data = f'<!DOCTYPE t SYSTEM "{url}"><tvshow><title>a&x;b</title></tvshow>'.encode()
    try:
        meta = parse_tvshow_nfo(data, source="evil.nfo")
    except NfoParseError:
        meta = None
    assert httpserver.log == []
    assert meta is None or "pwned" not in (meta.display_name or "")


def test_read_episode_and_tvshow(tmp_path: Path) -> None:
    (tmp_path / "ep.nfo").write_bytes(EPISODE)
    (tmp_path / "tvshow.nfo").write_bytes(TVSHOW)
    assert read_episode_nfo(tmp_path / "ep.nfo").stream_id == "315123456789"
    assert read_tvshow_nfo(tmp_path / "tvshow.nfo").user_id == "123456"


def test_read_missing_names_path(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="gone") as info:
        read_episode_nfo(tmp_path / "gone.nfo")
    assert not isinstance(info.value, NfoParseError)
    with pytest.raises(MetadataError, match="gone"):
        read_tvshow_nfo(tmp_path / "gone" / "tvshow.nfo")


def test_read_malformed_names_path(tmp_path: Path) -> None:
    (tmp_path / "bad.nfo").write_bytes(b"<episodedetails>")
    with pytest.raises(NfoParseError, match="bad"):
        read_episode_nfo(tmp_path / "bad.nfo")


def test_read_huge_nfo_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.nfo"
    with path.open("wb") as handle:
        handle.truncate(MAX_NFO_BYTES * 8)
    with pytest.raises(NfoParseError, match="larger"):
        read_tvshow_nfo(path)
