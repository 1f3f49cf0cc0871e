"""Tests for svimaged.library.infojson: StreamVault and yt-dlp info.json files."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svimaged.core.errors import MetadataError
from svimaged.core.model import RecordingMeta
from svimaged.library.infojson import MAX_INFO_JSON_BYTES, parse_info_json, read_info_json
from svimaged.library.names import LOGIN_RE

STREAMVAULT: dict[str, Any] = {
    "id": 4711,
    "twitch_id": "315123456789",
    "streamer": {
        "id": 7,
        "username": "Alice_Plays",
        "display_name": "Alice Plays",
        "profile_image": "https://static-cdn.jtvnw.net/jtv_user_pictures/alice-300x300.png",
    },
    "title": "  Speedrun & <Chill>  ",
    "category": "Just Chatting",
    "started_at": "2026-11-03T18:30:00Z",
    "thumbnail": "https://static-cdn.jtvnw.net/previews/alice-1280x720.jpg",
}

YTDLP: dict[str, Any] = {
    "id": "v2233445566",
    "extractor": "twitch:vod",
    "uploader_id": "bob",
    "uploader": "Bob",
    "title": "Late night ranked",
    "thumbnail": "https://static-cdn.jtvnw.net/cf_vods/x/thumb0-1280x720.jpg",
    "timestamp": 1793730600,
    "categories": ["League of Legends"],
    "game": "Ignored Because Categories Wins",
}


def parse(obj: object) -> RecordingMeta:
    return parse_info_json(json.dumps(obj).encode(), source="test.info.json")


def test_streamvault_shape() -> None:
    meta = parse(STREAMVAULT)
    assert meta == RecordingMeta(
        login="alice_plays",
        display_name="Alice Plays",
        title="Speedrun & <Chill>",
        category_name="Just Chatting",
        stream_id="315123456789",
        local_id="4711",
        local_streamer_id="7",
        started_at=datetime(2026, 11, 3, 18, 30, tzinfo=UTC),
        thumbnail_url="https://static-cdn.jtvnw.net/previews/alice-1280x720.jpg",
        profile_image_url="https://static-cdn.jtvnw.net/jtv_user_pictures/alice-300x300.png",
    )


def test_streamvault_db_id_never_becomes_user_id() -> None:
    meta = parse({**STREAMVAULT, "streamer": {"id": 123456789, "username": "alice"}})
    assert meta.user_id is None
    assert "123456789" not in (meta.stream_id, meta.local_id, meta.user_id)


def test_streamvault_category_object() -> None:
    meta = parse({**STREAMVAULT, "category": {"name": " Minecraft ", "id": 27471}})
    assert (meta.category_name, meta.category_id) == ("Minecraft", "27471")


def test_streamvault_category_object_with_bad_types() -> None:
    meta = parse({**STREAMVAULT, "category": {"name": 5, "id": [1]}})
    assert (meta.category_name, meta.category_id) == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-03T18:30:00Z", datetime(2026, 11, 3, 18, 30, tzinfo=UTC)),
        ("2026-11-03T19:30:00+01:00", datetime(2026, 11, 3, 18, 30, tzinfo=UTC)),
        ("2026-11-03T18:30:00", datetime(2026, 11, 3, 18, 30, tzinfo=UTC)),
        ("2026-11-03T18:30:00.123456", datetime(2026, 11, 3, 18, 30, 0, 123456, tzinfo=UTC)),
        ("2026-11-03", datetime(2026, 11, 3, tzinfo=UTC)),
        (1793730600, datetime(2026, 11, 3, 18, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (True, None),
        (None, None),
        ([2026], None),
        (1e300, None),
    ],
)
def test_streamvault_started_at(value: object, expected: datetime | None) -> None:
    meta = parse({**STREAMVAULT, "started_at": value})
    assert meta.started_at == expected
    if meta.started_at is not None:
        assert meta.started_at.utcoffset() == timedelta(0)


def test_started_at_offset_is_converted_not_dropped() -> None:
    meta = parse({**STREAMVAULT, "started_at": "2026-11-03T23:30:00-05:00"})
    assert meta.started_at is not None
    assert meta.started_at.utcoffset() == timedelta(0)
    assert (meta.started_at.day, meta.started_at.hour) == (4, 4)


def test_ytdlp_vod_shape() -> None:
    meta = parse(YTDLP)
    assert meta == RecordingMeta(
        login="bob",
        display_name="Bob",
        title="Late night ranked",
        category_name="League of Legends",
        stream_id=None,
        local_id="v2233445566",
        started_at=datetime(2026, 11, 3, 18, 30, tzinfo=UTC),
        thumbnail_url="https://static-cdn.jtvnw.net/cf_vods/x/thumb0-1280x720.jpg",
    )


def test_ytdlp_stream_extractor_id_is_a_stream_id() -> None:
    meta = parse({**YTDLP, "extractor": "twitch:stream", "id": "315999"})
    assert (meta.stream_id, meta.local_id) == ("315999", None)
    meta = parse({**YTDLP, "extractor": "twitch:stream", "id": 315999})
    assert (meta.stream_id, meta.local_id) == ("315999", None)


def test_ytdlp_stream_extractor_non_numeric_id_is_not_a_stream_id() -> None:
    meta = parse({**YTDLP, "extractor": "twitch:stream", "id": "bob"})
    assert (meta.stream_id, meta.local_id) == (None, "bob")


def test_ytdlp_game_when_no_categories() -> None:
    assert parse({**YTDLP, "categories": [], "game": "Chess"}).category_name == "Chess"
    assert parse({**YTDLP, "categories": None, "game": "Chess"}).category_name == "Chess"
    assert parse({**YTDLP, "categories": [7], "game": "Chess"}).category_name == "Chess"


def test_ytdlp_time_fallbacks() -> None:
    base = {k: v for k, v in YTDLP.items() if k != "timestamp"}
    release = parse({**base, "release_timestamp": 1793730600.5})
    assert release.started_at == datetime(2026, 11, 3, 18, 30, 0, 500000, tzinfo=UTC)
    upload = parse({**base, "upload_date": "20261103"})
    assert upload.started_at == datetime(2026, 11, 3, tzinfo=UTC)
    assert parse({**base, "upload_date": "20261399"}).started_at is None
    assert parse(base).started_at is None


@pytest.mark.parametrize(
    "url",
    [
        "/data/images/profiles/alice.jpg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://static-cdn.jtvnw.net/x.jpg",
        "https://",
        "https://exa mple.com/x.jpg",
        "https://example.com/\tx.jpg",
        "https://example.com/\xa0x.jpg",  # whitespace beyond ASCII too
        "https://example.com/\u2028x.jpg",
        "https://example.com/\x1cx.jpg",
        "",
        42,
        None,
    ],
)
def test_only_http_urls_kept(url: object) -> None:
    meta = parse({**STREAMVAULT, "thumbnail": url, "streamer": {"profile_image": url}})
    assert meta.thumbnail_url is None
    assert meta.profile_image_url is None
    assert parse({**YTDLP, "thumbnail": url}).thumbnail_url is None


def test_http_and_mixed_case_scheme_kept() -> None:
    meta = parse({**YTDLP, "thumbnail": " HTTP://cdn.example/x.jpg "})
    assert meta.thumbnail_url == "HTTP://cdn.example/x.jpg"


WRONG_TYPES: list[object] = [
    None,
    True,
    float("nan"),
    float("inf"),
    [],
    {},
    [1, 2],
    {"a": 1},
    "",
    "   ",
]


@pytest.mark.parametrize("bad", WRONG_TYPES)
def test_wrong_types_everywhere_streamvault(bad: object) -> None:
    obj = {key: bad for key in STREAMVAULT}
    obj["streamer"] = {key: bad for key in STREAMVAULT["streamer"]}
    assert parse(obj) == RecordingMeta()


@pytest.mark.parametrize("bad", WRONG_TYPES)
def test_wrong_types_everywhere_ytdlp(bad: object) -> None:
    obj = {key: bad for key in YTDLP}
    obj["release_timestamp"] = bad
    obj["upload_date"] = bad
    assert parse(obj) == RecordingMeta()


@pytest.mark.parametrize("streamer", [None, "alice", 5, ["alice"]])
def test_streamer_not_an_object(streamer: object) -> None:
    meta = parse({**STREAMVAULT, "streamer": streamer})
    assert meta.login is None
    assert meta.stream_id == "315123456789"
    assert meta.local_id == "4711"


def test_ids_as_ints_become_strings_bools_do_not() -> None:
    assert parse({**STREAMVAULT, "twitch_id": 315, "id": 0}).stream_id == "315"
    assert parse({**STREAMVAULT, "id": 0}).local_id == "0"
    assert parse({**STREAMVAULT, "twitch_id": True}).stream_id is None


@pytest.mark.parametrize("login", ["Alice Smith", "a" * 26, "alice!", "ålice", "@bob"])
def test_invalid_logins_dropped(login: str) -> None:
    assert parse({**STREAMVAULT, "streamer": {"username": login}}).login is None
    assert parse({**YTDLP, "uploader_id": login}).login is None


def test_empty_object_knows_nothing() -> None:
    assert parse({}) == RecordingMeta()


def test_utf8_bom_accepted() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(YTDLP).encode()
    assert parse_info_json(data, source="x").login == "bob"


def test_lone_surrogate_in_json_string_replaced() -> None:
    meta = parse_info_json(b'{"title": "a\\ud800b"}', source="x")
    assert meta.title == "a\ufffdb"
    assert meta.title.encode("utf-8")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"title": "caf\xe9"}', "UTF-8"),
        (b'{"title": ', "JSON"),
        (b"", "JSON"),
        (b"NaN-ish garbage", "JSON"),
        (b"[1, 2, 3]", "list"),
        (b'"just a string"', "str"),
        (b"null", "NoneType"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
        (b'{"id": ' + b"9" * 5000 + b"}", "JSON"),
    ],
)
def test_bad_bytes_raise_metadata_error_naming_source(data: bytes, needle: str) -> None:
    with pytest.raises(MetadataError) as info:
        parse_info_json(data, source="/rec/bob/x.info.json")
    message = str(info.value)
    assert "/rec/bob/x.info.json" in message
    assert needle in message or "nested" in message


def test_too_large_refused() -> None:
    data = b'{"title": "' + b"a" * MAX_INFO_JSON_BYTES + b'"}'
    with pytest.raises(MetadataError, match="larger"):
        parse_info_json(data, source="big.info.json")


def test_read_info_json(tmp_path: Path) -> None:
    path = tmp_path / "x.info.json"
    path.write_text(json.dumps(STREAMVAULT), encoding="utf-8")
    assert read_info_json(path).stream_id == "315123456789"


def test_read_missing_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"missing\.info\.json"):
        read_info_json(tmp_path / "missing.info.json")


def test_read_directory_or_fifo_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.info.json").mkdir()
    with pytest.raises(MetadataError, match=r"dir\.info\.json"):
        read_info_json(tmp_path / "dir.info.json")
    os.mkfifo(tmp_path / "fifo.info.json")
    with pytest.raises(MetadataError, match="not a regular file"):
        read_info_json(tmp_path / "fifo.info.json")


def test_read_huge_file_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.info.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_INFO_JSON_BYTES * 4)
    with pytest.raises(MetadataError, match="larger"):
        read_info_json(path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [*STREAMVAULT, *STREAMVAULT["streamer"], *YTDLP, "release_timestamp", "upload_date", "x"]
)
SHAPED = st.dictionaries(KEYS, JSON_VALUES, max_size=10)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_VALUES, SHAPED, st.builds(lambda d: {"streamer": d}, SHAPED)))
def test_arbitrary_json_only_raises_metadata_error(value: object) -> None:
    data = json.dumps(value).encode()
    try:
        meta = parse_info_json(data, source="fuzz")
    except MetadataError:
        assert not isinstance(value, dict)
        return
    assert isinstance(value, dict)
    assert meta.user_id is None
    assert meta.login is None or LOGIN_RE.fullmatch(meta.login)
    for url in (meta.thumbnail_url, meta.profile_image_url):
        assert url is None or url.lower().startswith(("http://", "https://"))
    for text in (meta.title, meta.category_name, meta.display_name, meta.stream_id):
        assert text is None or (text == text.strip() and text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_metadata_error(data: bytes) -> None:
    try:
        meta = parse_info_json(data, source="fuzz")
    except MetadataError as exc:
        assert "fuzz" in str(exc)
    else:
        assert isinstance(meta, RecordingMeta)


@pytest.mark.parametrize(
    ("profile_image", "user_id"),
    [
        ("/recordings/.media/profiles/profile_avatar_123456789.jpg", "123456789"),
        (".media/profiles/profile_avatar_123456789.jpg", "123456789"),
        ("/recordings/.media/profiles/profile_avatar_12.jpg", None),  # a StreamVault db id
        ("/recordings/.media/profiles/streamer_123456789.jpg", None),  # older name
        ("/recordings/.images/profiles/profile_avatar_123456789.jpg", None),  # not StreamVault's
        ("https://static-cdn.jtvnw.net/profile_avatar_123456789.jpg", None),
        (None, None),
    ],
)
def test_streamvaults_local_avatar_name_hints_the_twitch_user_id(
    profile_image: str | None, user_id: str | None
) -> None:
    meta = parse({**STREAMVAULT, "streamer": {"id": 3, "profile_image": profile_image}})
    assert meta.avatar_user_id == user_id
    assert meta.user_id is None  # only a hint: trusted once the file is found
    assert meta.profile_image_url is None or meta.profile_image_url.startswith("https://")
