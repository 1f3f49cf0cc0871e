"""Tests for svimaged.library.metadata: contract section 2 precedence and conflict reporting."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from svimaged.core.errors import MetadataError, NfoParseError
from svimaged.core.model import Layout, RecordingFiles, RecordingMeta, ShowMeta
from svimaged.library.metadata import (
    CONFLICT_FIELDS,
    Conflict,
    gather_recording,
    merge_meta,
    show_meta_from,
)

STEM = "alice - S202611E03 - From the name"


def recording(
    tmp_path: Path,
    *,
    info: object | bytes | None = None,
    nfo: bytes | None = None,
    stem: str = STEM,
    folder: str = "Alice Plays",
) -> RecordingFiles:
    season = tmp_path / folder / "Season 2026-11"
    season.mkdir(parents=True, exist_ok=True)
    video = season / f"{stem}.mp4"
    video.write_bytes(b"v")
    info_path = nfo_path = None
    if info is not None:
        info_path = season / f"{stem}.info.json"
        info_path.write_bytes(info if isinstance(info, bytes) else json.dumps(info).encode())
    if nfo is not None:
        nfo_path = season / f"{stem}.nfo"
        nfo_path.write_bytes(nfo)
    return RecordingFiles(
        video=str(video),
        rel=f"{folder}/Season 2026-11/{stem}.mp4",
        streamer_folder=folder,
        stem=stem,
        size=1,
        mtime_ns=0,
        sidecar=None if info_path is None else str(info_path),
        nfo=None if nfo_path is None else str(nfo_path),
        layout=Layout.INFO_JSON if info_path is not None else Layout.NAMES,
    )


def test_first_non_none_wins_per_field() -> None:
    merged, conflicts = merge_meta(
        [
            ("a", RecordingMeta(title="A", season=None)),
            ("b", RecordingMeta(title="B", season=1, episode=0)),
            ("c", RecordingMeta(season=2, category_name="C")),
        ]
    )
    assert merged == RecordingMeta(title="A", season=1, episode=0, category_name="C")
    assert conflicts == []


def test_merge_of_nothing() -> None:
    assert merge_meta([]) == (RecordingMeta(), [])
    assert show_meta_from([]) == ShowMeta()


def test_login_conflict_case_insensitive() -> None:
    merged, conflicts = merge_meta(
        [("info.json", RecordingMeta(login="bob")), ("names", RecordingMeta(login="BOB"))]
    )
    assert merged.login == "bob"
    assert conflicts == []


@pytest.mark.parametrize("field", ["login", "stream_id", "user_id"])
def test_identity_conflicts_reported(field: str) -> None:
    def meta(value: str) -> RecordingMeta:
        kwargs: dict[str, Any] = {field: value}
        return RecordingMeta(**kwargs)

    layers = [
        ("one", meta("x1")),
        ("two", RecordingMeta()),
        ("three", meta("x1")),
        ("four", meta("x2")),
        ("five", meta("x3")),
    ]
    merged, conflicts = merge_meta(layers)
    assert getattr(merged, field) == "x1"
    assert conflicts == [
        Conflict(field, "one", "x1", "four", "x2"),
        Conflict(field, "one", "x1", "five", "x3"),
    ]


@pytest.mark.parametrize("field", CONFLICT_FIELDS)
@pytest.mark.parametrize("others", range(len(CONFLICT_FIELDS)))
def test_identity_conflicts_of_two_layers(field: str, others: int) -> None:
    """Two layers (a sidecar and the names: most recordings) take a shorter way that names
    the identity fields itself; it finds the same conflicts, for every field of
    CONFLICT_FIELDS, whichever other identity fields the layers share."""

    def meta(value: str | None) -> RecordingMeta:
        kwargs: dict[str, Any] = {name: "same" for name in CONFLICT_FIELDS[: others + 1]}
        kwargs[field] = value
        return RecordingMeta(**kwargs)

    _, conflicts = merge_meta([("a", meta("x1")), ("b", meta("x2"))])
    assert conflicts == [Conflict(field, "a", "x1", "b", "x2")]
    for first, second in (("x1", "x1"), ("x1", None), (None, "x2")):
        assert merge_meta([("a", meta(first)), ("b", meta(second))])[1] == []
    _, case = merge_meta([("a", meta("Bob")), ("b", meta("bob"))])
    assert case == ([] if field == "login" else [Conflict(field, "a", "Bob", "b", "bob")])


def test_other_fields_never_conflict() -> None:
    _, conflicts = merge_meta(
        [("a", RecordingMeta(title="A", season=1)), ("b", RecordingMeta(title="B", season=2))]
    )
    assert conflicts == []


def test_show_meta_first_hit() -> None:
    merged = show_meta_from(
        [
            ("tvshow.nfo", ShowMeta(user_id="1", display_name="Alice")),
            ("info.json", ShowMeta(user_id="2", login="alice", profile_image_url="https://x/p")),
        ]
    )
    assert merged == ShowMeta(
        user_id="1", display_name="Alice", login="alice", profile_image_url="https://x/p"
    )


def test_spec_example_name_alice_info_json_bob(tmp_path: Path) -> None:
    rec = recording(tmp_path, info={"id": 1, "twitch_id": "99", "streamer": {"username": "bob"}})
    meta, conflicts, errors = gather_recording(rec, None)
    assert meta.login == "bob"
    assert conflicts == [
        Conflict(
            field="login", kept_source="info.json", kept="bob", other_source="names", other="alice"
        )
    ]
    assert errors == []


EPISODE_NFO = b"""<episodedetails>
  <title>From the NFO</title><genre>Chess</genre><aired>2026-11-02</aired>
  <season>202611</season><episode>9</episode><showtitle>NFO Show</showtitle>
  <uniqueid type="twitch">77</uniqueid>
</episodedetails>"""


def test_precedence_info_json_nfo_tvshow_names(tmp_path: Path) -> None:
    info = {
        "id": 5,
        "twitch_id": "88",
        "streamer": {"id": 3, "username": "alice"},
        "title": "From info.json",
        "started_at": "2026-11-03T18:30:00Z",
    }
    rec = recording(tmp_path, info=info, nfo=EPISODE_NFO)
    show = ShowMeta(user_id="12345", display_name="Tvshow Alice", description="ignored")
    meta, conflicts, errors = gather_recording(rec, show)
    assert meta == RecordingMeta(
        login="alice",  # info.json (agrees with the name)
        user_id="12345",  # tvshow.nfo; never StreamVault's streamer.id 3
        display_name="NFO Show",  # episode NFO's showtitle beats tvshow.nfo and folder
        title="From info.json",
        category_name="Chess",  # only the NFO knows
        stream_id="88",  # info.json beats the NFO's 77
        local_id="5",
        local_streamer_id="3",
        started_at=datetime(2026, 11, 3, 18, 30, tzinfo=UTC),
        season=202611,
        episode=9,  # NFO beats the name's 3
    )
    assert conflicts == [Conflict("stream_id", "info.json", "88", "nfo", "77")]
    assert errors == []


def test_tvshow_layer_beats_names(tmp_path: Path) -> None:
    rec = recording(tmp_path, stem="S202611E03", folder="carol")
    show = ShowMeta(login="dave", user_id="1", display_name="Dave")
    meta, conflicts, _ = gather_recording(rec, show)
    assert (meta.login, meta.user_id, meta.display_name) == ("dave", "1", "Dave")
    assert conflicts == [Conflict("login", "tvshow.nfo", "dave", "names", "carol")]


def test_names_only(tmp_path: Path) -> None:
    meta, conflicts, errors = gather_recording(recording(tmp_path), None)
    assert meta == RecordingMeta(
        login="alice", display_name="Alice Plays", title="From the name", season=202611, episode=3
    )
    assert (conflicts, errors) == ([], [])


def test_broken_files_become_errors_and_the_pass_goes_on(tmp_path: Path) -> None:
    rec = recording(tmp_path, info=b"{broken", nfo=b"<episodedetails>")
    meta, _, errors = gather_recording(rec, ShowMeta(user_id="7"))
    assert meta.login == "alice"
    assert meta.user_id == "7"
    assert [type(e) for e in errors] == [MetadataError, NfoParseError]
    assert str(rec.sidecar) in str(errors[0])
    assert str(rec.nfo) in str(errors[1])


def test_missing_files_become_errors(tmp_path: Path) -> None:
    rec = recording(tmp_path, info={}, nfo=EPISODE_NFO)
    assert rec.sidecar is not None and rec.nfo is not None
    Path(rec.sidecar).unlink()
    Path(rec.nfo).unlink()
    meta, _, errors = gather_recording(rec, None)
    assert len(errors) == 2
    assert all(isinstance(e, MetadataError) for e in errors)
    assert meta.title == "From the name"
