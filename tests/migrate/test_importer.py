"""Tests for svimaged.migrate.importer: StreamVault's `.media`, the seed's `.images`, `.artwork`
and a `--from` install, named as StreamVault names them (see docs/migration.md), imported into the
SPEC cache: id mapping, validation, hard links, duplicates, symlinks, idempotence, dry run,
untouched sources, state rows."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from svimaged.core.clock import FakeClock
from svimaged.core.model import ImageKind, TwitchUser
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.pictures import make_jpeg, make_png
from svimaged.images.store import ImageStore, sniff
from svimaged.images.tasks import Action, ImageTask, decide
from svimaged.migrate.importer import (
    MIGRATED_SOURCE_PREFIX,
    Candidate,
    MigrationReport,
    build_id_map,
    find_candidates,
    migrate,
    run_migrate,
)
from svimaged.migrate.streamvault import Shape, hashed_category_name, list_sources
from svimaged.state import State
from svimaged.twitch.helix import HelixClient

HTML = b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, 0o644)
    return path


def recording(folder: Path, stem: str, info: dict[str, object] | str | None) -> None:
    put(folder / f"{stem}.mp4", b"\0" * 16)
    if info is not None:
        text = info if isinstance(info, str) else json.dumps(info)
        put(folder / f"{stem}.info.json", text.encode())


def sv_info(
    rec_id: int, twitch_id: str | None, db_id: int, username: str, category: str
) -> dict[str, object]:
    """The info.json StreamVault's metadata service writes."""
    return {
        "id": rec_id,
        "twitch_id": twitch_id,
        "streamer": {"id": db_id, "username": username, "profile_image": None},
        "title": "t",
        "category": category,
        "started_at": "2026-01-05T12:00:00+00:00",
        "events": [],
    }


def build_library(root: Path) -> tuple[Path, Path]:
    """A StreamVault-style recordings tree with every image layout; returns
    `(recordings, from_dir)`."""
    rec = root / "recordings"
    season = "Season 2026-01"
    put(
        rec / "Alice" / "tvshow.nfo",
        b'<tvshow><title>Alice</title><uniqueid type="twitch" default="true">1001'
        b"</uniqueid></tvshow>",
    )
    recording(
        rec / "Alice" / season,
        "alice - S202601E01 - One",
        sv_info(501, "90001", 7, "Alice", "Just Chatting"),
    )
    recording(
        rec / "Alice" / season,
        "alice - S202601E02 - Two",
        sv_info(503, "90003", 7, "Alice", "Pokémon Scarlet/Violet"),
    )
    recording(
        rec / "Bob Builds" / season,
        "bob - S202601E01 - Build",
        sv_info(502, None, 8, "Bob", "Minecraft"),
    )
    recording(rec / "Carol" / season, "carol - S202601E01 - x", "{not json")
    recording(
        rec / "Dave" / season,
        "dave - S202601E01 - x",
        sv_info(504, "90004", 9, "Dave", "Tom Clancy's Rainbow Six Siege"),
    )

    media = rec / ".media"
    put(media / "profiles" / "profile_avatar_1001.jpg", make_jpeg(40, 40, seed=1))
    put(media / "profiles" / "profile_avatar_8.jpg", make_png(40, 40, seed=2))  # PNG named .jpg
    put(media / "profiles" / "profile_avatar_424242.jpg", make_jpeg(40, 40, seed=3))
    put(media / "profiles" / "streamer_9.jpg", make_jpeg(40, 40, seed=4))
    outside = put(root / "outside" / "secret.jpg", make_jpeg(40, 40, seed=5))
    (media / "profiles" / "profile_avatar_1003.jpg").symlink_to(outside)
    put(media / "categories" / "just_chatting.jpg", make_jpeg(30, 40, seed=10))
    put(media / "categories" / "pokémon_scarlet_violet.jpg", make_jpeg(30, 40, seed=11))
    put(media / "categories" / "minecraft.jpg", HTML)
    put(media / "categories" / "fortnite.jpg", make_jpeg(60, 80, seed=12)[:300])  # truncated
    put(media / "artwork" / "streamer_7" / "stream_501.jpg", make_jpeg(64, 36, seed=20))
    put(media / "artwork" / "streamer_7" / "stream_777.jpg", make_jpeg(64, 36, seed=21))
    put(media / "artwork" / "streamer_8" / "stream_502.jpg", make_jpeg(64, 36, seed=22))
    put(media / "artwork" / "Alice" / "poster.jpg", make_jpeg(40, 40, seed=23))
    put(media / "artwork" / "Alice" / "banner.jpg", make_jpeg(64, 36, seed=24))
    put(media / "artwork" / "Alice" / "fanart.jpg", make_jpeg(64, 36, seed=25))
    put(media / "banners" / "banner_7.jpg", make_jpeg(64, 36, seed=26))

    seed = rec / ".images"
    put(seed / "profiles" / "streamer_7.jpg", make_jpeg(40, 40, seed=30))
    put(seed / "categories" / "counter-strike.jpg", make_jpeg(30, 40, seed=31))
    put(seed / "categories" / "league_of_legends.jpg", make_jpeg(30, 40, seed=32))
    put(seed / "artwork" / "streamer_8" / "stream_502.jpg", make_jpeg(64, 36, seed=33))
    put(seed / "artwork" / "Bob" / "poster.jpg", make_jpeg(40, 40, seed=34))
    put(rec / ".artwork" / "Alice" / "fanart.jpg", make_jpeg(64, 36, seed=35))

    src = root / "streamvault"
    front = src / "app" / "frontend" / "public" / "images" / "categories"
    put(front / "default-category.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    put(front / f"{hashed_category_name('Minecraft')}.jpg", make_png(30, 40, seed=40))
    put(front / f"{hashed_category_name('Just Chatting')}.jpg", make_jpeg(30, 40, seed=41))
    r6 = hashed_category_name("Tom Clancy's Rainbow Six Siege")
    put(front / f"{r6}.jpg", make_jpeg(30, 40, seed=42))
    put(front / f"{hashed_category_name('Some Unknown Game')}.jpg", make_jpeg(30, 40, seed=43))
    put(src / "artwork" / "Dave" / "poster.jpg", make_jpeg(40, 40, seed=44))
    return rec, src


def snapshot(*roots: Path) -> dict[str, tuple[str, int]]:
    """Every regular file below `roots` (links not followed): sha256 and mtime."""
    out: dict[str, tuple[str, int]] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[str(path)] = (
                    hashlib.sha256(path.read_bytes()).hexdigest(),
                    path.stat().st_mtime_ns,
                )
    return out


def cache_files(images: Path) -> set[str]:
    return {p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file()}


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    return build_library(tmp_path)


@pytest.fixture
def bob_state(state: State) -> State:
    state.upsert_user(TwitchUser("2002", "bob", "Bob", "", None, None), at=1.0)
    return state


SEED_FILES = {
    "profiles/streamer_7.jpg",
    "categories/counter-strike.jpg",
    "categories/league_of_legends.jpg",
    "artwork/streamer_8/stream_502.jpg",
    "artwork/Bob/poster.jpg",
}
IMPORTED = {
    "profiles/profile_avatar_1001.jpg",
    "profiles/profile_avatar_2002.jpg",
    "categories/just_chatting.jpg",
    "categories/pokemon_scarlet_violet.jpg",
    "categories/minecraft.jpg",
    "categories/counter_strike.jpg",
    "categories/tom_clancy_s_rainbow_six_siege.jpg",
    "categories/some_unknown_game.jpg",
    "artwork/1001/stream_90001.jpg",
    "artwork/2002/stream_502.jpg",
}


def run(rec: Path, state: State | None, src: Path | None, **kw: object) -> MigrationReport:
    store = ImageStore(rec / ".images")
    return migrate(rec, store, state, from_dir=src, clock=FakeClock(), **kw)  # type: ignore[arg-type]


# -- the whole migration ----------------------------------------------------------------


def test_migration_imports_every_layout_under_spec_names(
    library: tuple[Path, Path], bob_state: State
) -> None:
    rec, src = library
    report = run(rec, bob_state, src)
    assert cache_files(rec / ".images") == SEED_FILES | IMPORTED
    assert {rel for _s, rel in report.imported} == IMPORTED
    for rel in IMPORTED:
        assert sniff((rec / ".images" / rel).read_bytes()) == "jpeg", rel
    assert report.errors == []
    assert report.summary() == (
        "imported 10, skipped 17 (duplicate 5, unknown id 4, invalid image 2, "
        "symlink not followed 1, no SPEC place for banners 4, unrecognised name 1), errors 0"
    )


def test_sources_picked_in_priority_order(library: tuple[Path, Path], bob_state: State) -> None:
    rec, src = library
    report = dict((rel, source) for source, rel in run(rec, bob_state, src).imported)
    media, seed = rec / ".media", rec / ".images"
    assert report["profiles/profile_avatar_2002.jpg"] == str(
        media / "profiles/profile_avatar_8.jpg"
    )
    assert report["artwork/2002/stream_502.jpg"] == str(media / "artwork/streamer_8/stream_502.jpg")
    assert report["categories/counter_strike.jpg"] == str(seed / "categories/counter-strike.jpg")
    # the HTML page in .media loses to the valid PNG of the --from install
    assert report["categories/minecraft.jpg"].startswith(str(src / "app"))


def test_valid_jpeg_is_hard_linked_and_png_converted(
    library: tuple[Path, Path], bob_state: State
) -> None:
    rec, src = library
    run(rec, bob_state, src)
    linked = rec / ".images/profiles/profile_avatar_1001.jpg"
    source = rec / ".media/profiles/profile_avatar_1001.jpg"
    assert linked.stat().st_ino == source.stat().st_ino
    converted = rec / ".images/profiles/profile_avatar_2002.jpg"
    png = rec / ".media/profiles/profile_avatar_8.jpg"
    assert converted.stat().st_ino != png.stat().st_ino
    assert sniff(png.read_bytes()) == "png" and sniff(converted.read_bytes()) == "jpeg"


def test_report_lines_name_every_file_and_reason(
    library: tuple[Path, Path], bob_state: State
) -> None:
    rec, src = library
    lines = run(rec, bob_state, src).lines()
    media = rec / ".media"
    expected = [
        f"imported {media}/profiles/profile_avatar_1001.jpg -> profiles/profile_avatar_1001.jpg",
        f"skipped {media}/profiles/profile_avatar_1003.jpg: symlink not followed",
        f"skipped {media}/profiles/profile_avatar_424242.jpg: unknown id: cannot map "
        "StreamVault id 424242 to a Twitch user",
        f"skipped {media}/profiles/streamer_9.jpg: unknown id: cannot map StreamVault id 9 "
        "to a Twitch user (login dave has no known Twitch id)",
        f"skipped {media}/artwork/streamer_7/stream_777.jpg: unknown id: no info.json has "
        "StreamVault recording id 777",
        f"skipped {media}/banners/banner_7.jpg: no SPEC place for banners: banner_7.jpg",
        f"skipped {media}/artwork/Alice/poster.jpg: duplicate: profiles/profile_avatar_1001.jpg "
        f"comes from {media}/profiles/profile_avatar_1001.jpg",
        f"skipped {src}/artwork/Dave/poster.jpg: unknown id: cannot map StreamVault user "
        "folder 'Dave' to a user",
        f"skipped {src}/app/frontend/public/images/categories/default-category.svg: "
        "unrecognised name",
        "metadata files unreadable: 1",
    ]
    for line in expected:
        assert line in lines
    assert any(
        line.startswith(f"skipped {media}/categories/minecraft.jpg: invalid image: not an image")
        and "HTML" in line
        for line in lines
    )
    assert any(
        line.startswith(f"skipped {media}/categories/fortnite.jpg: invalid image:")
        for line in lines
    )
    assert lines[-1].startswith("imported 10, skipped 17")


def test_second_run_imports_nothing_and_changes_nothing(
    library: tuple[Path, Path], bob_state: State
) -> None:
    rec, src = library
    run(rec, bob_state, src)
    before, rows = snapshot(rec / ".images"), bob_state.images()
    again = run(rec, bob_state, src)
    assert again.imported == [] and again.errors == []
    assert snapshot(rec / ".images") == before
    assert bob_state.images() == rows
    assert again.summary().startswith("imported 0, skipped 27 (already cached 16,")


def test_dry_run_writes_nothing_and_reports_the_same(
    library: tuple[Path, Path], bob_state: State, tmp_path: Path
) -> None:
    rec, src = library
    before = snapshot(tmp_path)
    dry = run(rec, bob_state, src, dry_run=True)
    assert snapshot(tmp_path) == before
    assert bob_state.images() == []
    assert dry.lines()[-1].startswith("would import 10, skipped 17")
    real = run(rec, bob_state, src)
    assert dry.imported == real.imported and dry.skipped == real.skipped


def test_sources_untouched(library: tuple[Path, Path], bob_state: State, tmp_path: Path) -> None:
    rec, src = library
    sources = snapshot(rec / ".media", rec / ".artwork", src, tmp_path / "outside")
    seed = snapshot(rec / ".images")
    run(rec, bob_state, src)
    assert snapshot(rec / ".media", rec / ".artwork", src, tmp_path / "outside") == sources
    after = snapshot(rec / ".images")
    assert {path: after[path] for path in seed} == seed
    assert (rec / ".media/profiles/profile_avatar_1003.jpg").is_symlink()


def test_symlink_outside_is_not_followed(library: tuple[Path, Path], bob_state: State) -> None:
    rec, src = library
    bob_state.upsert_user(TwitchUser("1003", "eve", "Eve", "", None, None), at=1.0)
    report = run(rec, bob_state, src)
    assert not (rec / ".images/profiles/profile_avatar_1003.jpg").exists()
    assert (str(rec / ".media/profiles/profile_avatar_1003.jpg"), "symlink not followed") in (
        report.skipped
    )


def test_state_rows_count_as_cached(library: tuple[Path, Path], bob_state: State) -> None:
    rec, src = library
    run(rec, bob_state, src)
    row = bob_state.image("profiles/profile_avatar_1001.jpg")
    assert row is not None and row.cached and row.kind is ImageKind.PROFILE and row.key == "1001"
    source = rec / ".media/profiles/profile_avatar_1001.jpg"
    assert row.source_url == f"{MIGRATED_SOURCE_PREFIX}{source}"
    info = source.stat()
    assert row.etag == ImageTask.stamp(info.st_size, info.st_mtime_ns)
    assert row.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    art = bob_state.image("artwork/1001/stream_90001.jpg")
    assert art is not None and art.key == "1001/90001" and art.kind is ImageKind.ARTWORK
    cat = bob_state.image("categories/pokemon_scarlet_violet.jpg")
    assert cat is not None and cat.key == "Pokémon Scarlet/Violet"
    assert {r.rel for r in bob_state.images()} == IMPORTED
    stats = bob_state.stats(0.0)
    assert stats["total_cached"] == 10 and stats["total_failed"] == 0


def test_migrated_row_is_fetched_again_from_the_real_source(
    library: tuple[Path, Path], bob_state: State
) -> None:
    rec, src = library
    run(rec, bob_state, src)
    rel = "profiles/profile_avatar_1001.jpg"
    real = ImageTask(rel, ImageKind.PROFILE, "1001", url="https://static-cdn.jtvnw.net/a.png")
    row = bob_state.image(rel)
    assert decide(real, row, file_present=True, now=2.0, refresh_interval=604800) is Action.FETCH


def test_without_state_nothing_is_recorded_and_unknown_logins_stay_unknown(
    library: tuple[Path, Path],
) -> None:
    rec, src = library
    report = run(rec, None, src)
    assert "profiles/profile_avatar_2002.jpg" not in {rel for _s, rel in report.imported}
    assert (
        str(rec / ".media/profiles/profile_avatar_8.jpg"),
        "unknown id: cannot map StreamVault id 8 to a Twitch user "
        "(login bob has no known Twitch id)",
    ) in report.skipped


def test_without_from_the_install_is_not_read(library: tuple[Path, Path], bob_state: State) -> None:
    rec, src = library
    report = run(rec, bob_state, None)
    assert not any(source.startswith(str(src)) for source, _ in report.imported + report.skipped)
    assert not (rec / ".images/categories/minecraft.jpg").exists()


def test_state_slug_wins_over_the_plain_slug(library: tuple[Path, Path], bob_state: State) -> None:
    rec, src = library
    bob_state.assign_slug("Just Chatting", "just_chatting_509658", "509658")
    report = run(rec, bob_state, src)
    rels = {rel for _s, rel in report.imported}
    assert "categories/just_chatting_509658.jpg" in rels
    assert "categories/just_chatting.jpg" not in rels


def test_write_failure_is_an_error_not_a_crash(
    library: tuple[Path, Path], bob_state: State
) -> None:
    rec, src = library
    (rec / ".images/profiles/profile_avatar_1001.jpg").mkdir(parents=True)
    report = run(rec, bob_state, src)
    assert [s for s, _m in report.errors] == [str(rec / ".media/profiles/profile_avatar_1001.jpg")]
    assert report.summary().endswith("errors 1")
    assert (rec / ".images/profiles/profile_avatar_2002.jpg").is_file()
    assert not [p for p in (rec / ".images/profiles").iterdir() if "svimaged-tmp" in p.name]


# -- the id map and candidates ---------------------------------------------------------


def test_id_map_from_tree_and_state(library: tuple[Path, Path], bob_state: State) -> None:
    rec, _src = library
    ids = build_id_map(rec, state=bob_state, helix=None)
    assert ids.db_logins == {"7": "alice", "8": "bob", "9": "dave"}
    assert ids.user_for_db_id("7") == "1001" and ids.user_for_db_id("8") == "2002"
    assert ids.user_for_db_id("9") is None and ids.user_for_db_id("99") is None
    assert ids.user_for_name("Bob") == "2002" and ids.user_for_name("alice") == "1001"
    assert ids.recordings["501"].stream_file_id == "90001"
    assert ids.recordings["502"].stream_file_id == "502"  # no twitch_id: StreamVault's id
    assert ids.categories["Pokémon Scarlet/Violet"] == "pokemon_scarlet_violet"
    assert ids.unreadable == 1


def test_helix_asked_once_for_all_unknown_logins(library: tuple[Path, Path]) -> None:
    rec, src = library
    with FakeTwitch() as fake:
        fake.add_user("2002", "bob", "Bob")
        helix = HelixClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            api_base=fake.api_base,
            auth_url=fake.auth_url,
            clock=FakeClock(),
        )
        report = run(rec, None, src, helix=helix)
        helix.close()
        assert fake.hits["users"] == 1
    assert ("profiles/profile_avatar_2002.jpg") in {rel for _s, rel in report.imported}


def test_helix_failure_is_reported(library: tuple[Path, Path]) -> None:
    rec, _src = library
    helix = HelixClient(
        client_id="id",
        client_secret="secret",
        api_base="http://127.0.0.1:9/helix",
        auth_url="http://127.0.0.1:9/oauth2/token",
        clock=FakeClock(),
        timeout=1,
    )
    ids = build_id_map(rec, state=None, helix=helix)
    helix.close()
    assert [where for where, _m in ids.problems] == ["helix"]


def test_find_candidates_reads_no_file(
    library: tuple[Path, Path], bob_state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, src = library
    ids = build_id_map(rec, state=bob_state, helix=None)

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"file opened: {args[:1]}")

    with monkeypatch.context() as patch:
        patch.setattr(os, "open", no_open)
        patch.setattr("builtins.open", no_open)
        patch.setattr(io, "open", no_open)
        candidates, skipped = find_candidates(rec, from_dir=src, id_map=ids)
    first = candidates[0]
    assert first == Candidate(
        rec / ".media/profiles/profile_avatar_1001.jpg",
        ImageKind.PROFILE,
        "profiles/profile_avatar_1001.jpg",
        "1001",
    )
    assert len(candidates) + len(skipped) == 27


def test_cache_files_with_spec_names_are_not_sources(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    put(rec / ".images/profiles/profile_avatar_5.jpg", make_jpeg(8, 8))
    put(rec / ".images/artwork/5/stream_1.jpg", make_jpeg(8, 8))
    put(rec / ".images/categories/just_chatting.jpg", make_jpeg(8, 8))
    put(rec / ".images/profiles/streamer_5.jpg", make_jpeg(8, 8))
    found = list_sources(rec, from_dir=None)
    assert [(f.source.name, f.shape) for f in found] == [("streamer_5.jpg", Shape.PROFILE_DB_ID)]


def test_candidate_state_key_derived_from_rel(tmp_path: Path) -> None:
    assert (
        Candidate(tmp_path, ImageKind.PROFILE, "profiles/profile_avatar_12.jpg").state_key == "12"
    )
    art = Candidate(tmp_path, ImageKind.ARTWORK, "artwork/12/stream_34.jpg")
    assert art.state_key == "12/34"
    assert Candidate(tmp_path, ImageKind.CATEGORY, "categories/dota_2.jpg").state_key == "dota_2"


def test_report_summary_without_skips() -> None:
    report = MigrationReport(imported=[("a", "b")], skipped=[], errors=[])
    assert report.lines() == ["imported a -> b", "imported 1, skipped 0, errors 0"]


# -- the CLI entry point ---------------------------------------------------------------


def test_run_migrate_with_config(library: tuple[Path, Path], tmp_path: Path) -> None:
    from svimaged.config.load import load_config

    rec, src = library
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(f"recordings: {rec}\nstate_dir: {tmp_path / 'st'}\n")
    config = load_config(cfg_file, {})
    dry = run_migrate(config, FakeClock(), from_dir=src, dry_run=True)
    assert (
        not config.state_db.exists()
        and not (rec / ".images/profiles/profile_avatar_1001.jpg").exists()
    )
    report = run_migrate(config, FakeClock(), from_dir=src)
    assert report.imported == dry.imported and report.imported
    state = State.open(config.state_db)
    try:
        assert state.image("profiles/profile_avatar_1001.jpg") is not None
    finally:
        state.close()


def test_run_migrate_refuses_a_missing_from_dir(library: tuple[Path, Path], tmp_path: Path) -> None:
    from svimaged.config.load import load_config
    from svimaged.core.errors import UsageError

    rec, _src = library
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(f"recordings: {rec}\nstate_dir: {tmp_path / 'st'}\n")
    with pytest.raises(UsageError, match="--from"):
        run_migrate(load_config(cfg_file, {}), FakeClock(), from_dir=tmp_path / "nope")


# -- how the engine treats migrated rows afterwards ------------------------------------


def test_migrated_image_is_replaced_from_twitch_after_a_stale_refresh(
    library: tuple[Path, Path], tmp_path: Path
) -> None:
    import yaml

    from svimaged.config.load import load_config
    from svimaged.demo.config import fake_config_data
    from svimaged.pipeline.engine import Engine
    from svimaged.pipeline.resources import build_services

    rec, src = library
    with FakeTwitch() as fake:
        fake.add_user("1001", "alice", "Alice")
        cdn = fake.base_url
        cfg_file = tmp_path / "config.yaml"
        cfg_file.write_text(yaml.safe_dump(fake_config_data(fake, rec, tmp_path / "st")))
        clock = FakeClock()
        engine = Engine(build_services(load_config(cfg_file, {}), clock))
        try:
            migrate(rec, engine.svc.store, engine.svc.state, from_dir=src, clock=clock)
            clock.advance(8 * 86400)  # past refresh_interval
            engine.full_pass()
            row = engine.svc.state.image("profiles/profile_avatar_1001.jpg")
        finally:
            engine.close()
    assert row is not None and row.failures == 0
    assert row.source_url is not None and row.source_url.startswith(cdn)
