"""Tests for svimaged.state: schema and migrations, image rows, stats, notes, Twitch tables,
transactions and use from many threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from svimaged.core.errors import ShuttingDownError, StateError
from svimaged.core.model import (
    FolderRow,
    ImageKind,
    Origin,
    RecordingRow,
    TwitchGame,
    TwitchUser,
)
from svimaged.state import SCHEMA_VERSION, State
from svimaged.state.damage import DamagedError, is_damage

NOW = 1_780_000_000.0


def success(db: State, rel: str, kind: ImageKind, key: str, size: int, at: float = NOW) -> None:
    db.images.record_success(
        rel,
        kind,
        key,
        origin=Origin.URL,
        source=f"https://static-cdn.jtvnw.net/{rel}",
        etag='"e1"',
        last_modified="Wed, 01 Jan 2026 00:00:00 GMT",
        sha256="ab" * 32,
        size=size,
        at=at,
    )


def failure(
    db: State,
    rel: str,
    kind: ImageKind,
    key: str,
    *,
    next_retry: float,
    at: float = NOW,
    status: int | None = 500,
) -> int:
    return db.images.record_failure(
        rel,
        kind,
        key,
        origin=Origin.URL,
        source=f"https://static-cdn.jtvnw.net/{rel}",
        error="HTTP 500",
        status=status,
        at=at,
        next_retry=next_retry,
    )


# -- opening, schema, migrations ---------------------------------------------------------


def test_open_creates_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "state.db"
    db = State.open(path)
    db.close()
    assert path.is_file()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        raw.close()
    assert {"images", "twitch_users", "games", "missing", "nfo_files", "notes"} <= tables


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = State.open(path)
    success(db, "profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1", 123)
    db.meta.set("last_sync", "2026-11-05T10:00:00Z")
    db.close()
    again = State.open(path)
    try:
        row = again.images.get("profiles/profile_avatar_1.jpg")
        assert row is not None and row.cached and row.size == 123
        assert again.meta.get("last_sync") == "2026-11-05T10:00:00Z"
    finally:
        again.close()


def test_a_closed_state_refuses_work_as_shutting_down(tmp_path: Path) -> None:
    """Work still running when the daemon closes the state ends as a shutdown (logged as
    abandoned work), never as sqlite's "Cannot operate on a closed database"."""
    state = State.open(tmp_path / "state.db")
    state.close()
    with pytest.raises(ShuttingDownError, match="closed"):
        state.meta.get("last_sync")
    with pytest.raises(ShuttingDownError, match="closed"), state.transaction():
        pass


def test_newer_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StateError) as err:
        State.open(path)
    assert str(path) in str(err.value)
    assert "newer" in str(err.value)


@pytest.mark.parametrize("content", [b"not a db", b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_damaged_file_is_moved_aside_with_its_companions_and_a_fresh_state_starts(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content * 20)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").write_bytes(b"companion" + suffix.encode())
    now = 1_780_000_000.0  # 2026-05-28T20:26:40Z
    state = State.open(path, now=now)
    try:
        assert state.meta.get("last_sync") is None  # fresh, migrated, usable
        state.meta.set("k", "v")
    finally:
        state.close()
    aside = tmp_path / "state.db.corrupt-20260528T202640Z"
    assert aside.read_bytes() == content * 20
    assert Path(f"{aside}-wal").read_bytes() == b"companion-wal"  # the log, untouched
    assert Path(f"{aside}-shm").exists()  # SQLite's index of the log; it may rewrite it
    assert [p.name for p in tmp_path.iterdir() if "corrupt" not in p.name] == ["state.db"]
    lines = [r for r in caplog.records if "moved aside" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelname == "ERROR"
    assert f"path={path}" in lines[0].getMessage()
    assert f"moved_to={aside}" in lines[0].getMessage()


def test_a_second_damaged_file_in_the_same_second_does_not_overwrite_the_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    for n in range(2):
        path.write_bytes(b"garbage %d" % n * 100)
        State.open(path, now=1_780_000_000.0).close()
    first = tmp_path / "state.db.corrupt-20260528T202640Z"
    assert first.read_bytes() == b"garbage 0" * 100
    assert Path(f"{first}.1").read_bytes() == b"garbage 1" * 100


def test_damaged_pages_found_by_quick_check_move_the_file_aside(tmp_path: Path) -> None:
    """A real state file whose table pages are overwritten opens fine in SQLite; only
    `PRAGMA quick_check` (or a later query) finds the damage."""
    path = tmp_path / "state.db"
    state = State.open(path)
    with state.transaction():
        for n in range(300):
            state.meta.set(f"key-{n}", "value " * 20)
    state.close()
    raw = sqlite3.connect(path)
    (root,) = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").fetchone()
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes(range(256)) * (page_size // 256))
    State.open(path, now=1_780_000_000.0).close()
    assert (tmp_path / "state.db.corrupt-20260528T202640Z").exists()


def test_a_state_that_is_only_unusable_is_never_moved(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StateError, match="newer"):
        State.open(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


def test_what_counts_as_damage() -> None:
    assert is_damage(UnicodeDecodeError("utf-8", b"\xe1", 0, 1, "invalid"))
    assert is_damage(DamagedError("quick_check: row 3 missing from index"))
    notadb = sqlite3.DatabaseError("file is not a database")
    notadb.sqlite_errorname = "SQLITE_NOTADB"  # type: ignore[attr-defined]
    assert is_damage(notadb)
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
    assert not is_damage(locked)
    assert not is_damage(PermissionError(13, "Permission denied"))


def test_unwritable_location_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError):
        State.open(blocker / "state.db")


# -- image rows ------------------------------------------------------------------------


def test_failure_then_success_resets(state: State) -> None:
    rel = "categories/just_chatting.jpg"
    assert failure(state, rel, ImageKind.CATEGORY, "Just Chatting", next_retry=NOW + 60) == 1
    assert failure(state, rel, ImageKind.CATEGORY, "Just Chatting", next_retry=NOW + 120) == 2
    row = state.images.get(rel)
    assert row is not None
    assert (row.cached, row.failures, row.next_retry, row.error_status) == (
        False,
        2,
        NOW + 120,
        500,
    )
    assert row.last_error == "HTTP 500"
    success(state, rel, ImageKind.CATEGORY, "Just Chatting", 777, at=NOW + 200)
    row = state.images.get(rel)
    assert row is not None
    assert (row.cached, row.failures, row.next_retry, row.last_error) == (True, 0, None, None)
    assert (row.size, row.last_success, row.etag) == (777, NOW + 200, '"e1"')


def test_failure_keeps_a_previously_cached_row_cached(state: State) -> None:
    rel = "profiles/profile_avatar_7.jpg"
    success(state, rel, ImageKind.PROFILE, "7", 500)
    assert failure(state, rel, ImageKind.PROFILE, "7", next_retry=NOW + 60, status=404) == 1
    row = state.images.get(rel)
    assert row is not None
    assert row.cached is True
    assert (row.size, row.sha256, row.last_success) == (500, "ab" * 32, NOW)
    assert (row.failures, row.error_status) == (1, 404)


def test_failure_from_a_new_url_keeps_the_cached_files_source(state: State) -> None:
    rel = "profiles/profile_avatar_7.jpg"
    success(state, rel, ImageKind.PROFILE, "7", 500)
    state.images.record_failure(
        rel,
        ImageKind.PROFILE,
        "7",
        origin=Origin.URL,
        source="https://static-cdn.jtvnw.net/new.png",
        error="HTTP 500",
        status=500,
        at=NOW,
        next_retry=NOW + 60,
    )
    row = state.images.get(rel)
    assert row is not None and row.cached
    assert row.source == f"https://static-cdn.jtvnw.net/{rel}"
    assert row.etag == '"e1"'


def test_failure_of_an_uncached_row_records_the_new_url(state: State) -> None:
    rel = "profiles/profile_avatar_7.jpg"
    failure(state, rel, ImageKind.PROFILE, "7", next_retry=NOW + 60)
    state.images.record_failure(
        rel,
        ImageKind.PROFILE,
        "7",
        origin=Origin.URL,
        source="https://static-cdn.jtvnw.net/new.png",
        error="HTTP 500",
        status=500,
        at=NOW,
        next_retry=NOW + 120,
    )
    row = state.images.get(rel)
    assert row is not None and row.source == "https://static-cdn.jtvnw.net/new.png"


def test_long_error_is_truncated(state: State) -> None:
    state.images.record_failure(
        "profiles/profile_avatar_8.jpg",
        ImageKind.PROFILE,
        "8",
        origin=Origin.URL,
        source=None,
        error="x" * 5000,
        status=None,
        at=NOW,
        next_retry=NOW + 1,
    )
    row = state.images.get("profiles/profile_avatar_8.jpg")
    assert row is not None and row.last_error is not None
    assert len(row.last_error) == 500


def test_not_modified_refreshes_and_clears_failures(state: State) -> None:
    rel = "profiles/profile_avatar_9.jpg"
    success(state, rel, ImageKind.PROFILE, "9", 10)
    failure(state, rel, ImageKind.PROFILE, "9", next_retry=NOW + 60)
    state.images.record_not_modified(rel, NOW + 500)
    row = state.images.get(rel)
    assert row is not None
    assert (row.cached, row.failures, row.next_retry, row.last_error) == (True, 0, None, None)
    assert (row.last_success, row.last_attempt, row.etag) == (NOW + 500, NOW + 500, '"e1"')


def test_not_modified_for_unknown_row_creates_nothing(state: State) -> None:
    state.images.record_not_modified("profiles/profile_avatar_404.jpg", NOW)
    assert state.images.get("profiles/profile_avatar_404.jpg") is None


def test_mark_uncached_and_forget(state: State) -> None:
    rel = "profiles/profile_avatar_5.jpg"
    success(state, rel, ImageKind.PROFILE, "5", 10)
    state.images.mark_uncached(rel)
    row = state.images.get(rel)
    assert row is not None
    assert (row.cached, row.etag, row.last_modified) == (False, None, None)
    state.images.forget(rel)
    assert state.images.get(rel) is None


def test_images_filters_by_kind(state: State) -> None:
    success(state, "profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1", 1)
    success(state, "categories/a.jpg", ImageKind.CATEGORY, "A", 1)
    success(state, "artwork/1/stream_1.jpg", ImageKind.ARTWORK, "1/1", 1)
    assert [r.rel for r in state.images.all(ImageKind.CATEGORY)] == ["categories/a.jpg"]
    assert len(state.images.all()) == 3


# -- stats -----------------------------------------------------------------------------


def _fill_for_stats(db: State) -> None:
    success(db, "profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1", 100)
    failure(db, "profiles/profile_avatar_2.jpg", ImageKind.PROFILE, "2", next_retry=NOW + 60)
    success(db, "profiles/profile_avatar_3.jpg", ImageKind.PROFILE, "3", 500)
    db.images.mark_uncached("profiles/profile_avatar_3.jpg")  # pending: wanted, not cached
    success(db, "profiles/profile_avatar_4.jpg", ImageKind.PROFILE, "4", 1000)
    failure(db, "profiles/profile_avatar_4.jpg", ImageKind.PROFILE, "4", next_retry=NOW + 60)
    success(db, "categories/a.jpg", ImageKind.CATEGORY, "A", 200)
    success(db, "categories/b.jpg", ImageKind.CATEGORY, "B", 300)
    failure(db, "categories/c.jpg", ImageKind.CATEGORY, "C", next_retry=NOW - 1)
    success(db, "artwork/111/stream_1.jpg", ImageKind.ARTWORK, "111/1", 50)
    success(db, "artwork/111/stream_2.jpg", ImageKind.ARTWORK, "111/2", 70)
    success(db, "artwork/222/stream_3.jpg", ImageKind.ARTWORK, "222/3", 10)
    failure(db, "artwork/333/stream_4.jpg", ImageKind.ARTWORK, "333/4", next_retry=NOW + 600)
    for path, status in [
        ("a/tvshow.nfo", "written"),
        ("b/tvshow.nfo", "written"),
        ("c/tvshow.nfo", "up_to_date"),
        ("d/tvshow.nfo", "error"),
        ("e/tvshow.nfo", "locked"),
    ]:
        note = "not well-formed (invalid token): line 4" if status == "error" else None
        db.outputs.record_nfos([(path, status, None, NOW, note)])
    db.meta.set("last_sync", "2026-11-05T10:00:00Z")


def test_stats_exact_shape_and_numbers(state: State) -> None:
    _fill_for_stats(state)
    assert state.stats(NOW) == {
        "profiles": {"cached_profiles": 2, "failed_downloads": 1},
        "categories": {"cached_categories": 2, "failed_downloads": 1},
        "artwork": {"cached_artworks": 3, "streamers_with_artwork": 2, "failed_downloads": 1},
        "backdrops": {"cached_backdrops": 0, "failed_downloads": 0},
        "total_cached": 7,
        "total_failed": 3,
        "bytes_on_disk": 100 + 1000 + 200 + 300 + 50 + 70 + 10,
        "queue": {"pending": 1, "retrying": 3},
        "nfo": {
            "written": 2,
            "up_to_date": 1,
            "errors": 1,
            "left_alone": [
                {"path": "d/tvshow.nfo", "reason": "not well-formed (invalid token): line 4"}
            ],
        },
        "sidecars": {"files": 0, "bytes": 0},
        "last_sync": "2026-11-05T10:00:00Z",
        "needs_credentials": 0,
        "notify": {},
    }
    state.meta.set("needs_credentials", "4")
    assert state.stats(NOW)["needs_credentials"] == 4


def test_stats_retrying_depends_on_now(state: State) -> None:
    _fill_for_stats(state)
    queue = state.stats(NOW + 120)["queue"]
    assert queue == {"pending": 1, "retrying": 1}  # only the artwork waits past NOW + 120
    assert state.stats(NOW + 601)["queue"] == {"pending": 1, "retrying": 0}


def test_stats_of_empty_state(state: State) -> None:
    stats = state.stats(NOW)
    assert stats["total_cached"] == 0 and stats["bytes_on_disk"] == 0
    assert stats["queue"] == {"pending": 0, "retrying": 0}
    assert stats["nfo"] == {"written": 0, "up_to_date": 0, "errors": 0, "left_alone": []}
    assert stats["last_sync"] is None


def test_nfo_status_is_replaced(state: State) -> None:
    state.outputs.record_nfos([("a/tvshow.nfo", "error", None, NOW, None)])
    state.outputs.record_nfos([("a/tvshow.nfo", "written", "cd" * 32, NOW + 1, None)])
    statuses = state.outputs.nfo_statuses(["a/tvshow.nfo", "b/tvshow.nfo"])
    assert statuses == {"a/tvshow.nfo": "written"}  # b has none
    assert state.stats(NOW)["nfo"] == {"written": 1, "up_to_date": 0, "errors": 0, "left_alone": []}


# -- notes, meta, Twitch tables, recordings ---------------------------------------------


def test_first_time_and_forget_notes(state: State) -> None:
    assert state.meta.first_time("bad-file:/x.nfo", NOW) is True
    assert state.meta.first_time("bad-file:/x.nfo", NOW + 1) is False
    assert state.meta.first_time("bad-file:/y.nfo", NOW) is True
    state.meta.forget_notes(["bad-file:/x.nfo"])
    assert state.meta.first_time("bad-file:/x.nfo", NOW + 2) is True
    assert state.meta.first_time("bad-file:/y.nfo", NOW + 2) is False


def test_users_by_id_and_login_case_insensitive(state: State) -> None:
    user = TwitchUser("42", "Alice", "Alice", "hi", "https://x/p.png", None)
    state.twitch.mark_missing("login", "alice", NOW - 10)
    state.twitch.upsert_user(user, NOW)
    assert state.twitch.missing_since("login", "alice") is None  # found now: no longer missing
    found = state.twitch.user_by_login("ALICE")
    assert found is not None and found.id == "42" and found.login == "alice"
    assert state.twitch.user_by_id("42") == found
    assert state.twitch.logins_fetched_at(["Alice", "nobody"]) == {"alice": NOW}
    assert state.twitch.ids_fetched_at(["42", "43"]) == {"42": NOW}
    assert state.twitch.users_by_login(["ALICE", "nobody"]) == {"alice": found}
    assert state.twitch.users_by_id(["42", "43"]) == {"42": found}


def test_many_users_and_missing_keys_at_once(state: State) -> None:
    """The bulk look-ups answer as the single ones, over more keys than one `IN` query
    takes; a login's newest user wins, and `missing_many` keeps to its kind."""
    for i in range(1100):
        state.twitch.upsert_user(TwitchUser(str(i), f"u{i % 700}", "", "", None, None), NOW + i)
        state.twitch.mark_missing("login" if i % 2 else "game", f"k{i}", NOW + i)
    logins = [f"U{i}" for i in range(800)]
    assert state.twitch.users_by_login(logins) == {
        login.lower(): user for login in logins if (user := state.twitch.user_by_login(login))
    }
    assert state.twitch.users_by_login(["u5"])["u5"].id == "705"
    assert state.twitch.logins_fetched_at(["u5"]) == {"u5": NOW + 705}
    ids = [str(i) for i in range(0, 1200, 3)]
    assert state.twitch.users_by_id(ids) == {
        uid: user for uid in ids if (user := state.twitch.user_by_id(uid)) is not None
    }
    keys = [f"k{i}" for i in range(1200)]
    assert state.twitch.missing_many("login", keys) == {
        key: at for key in keys if (at := state.twitch.missing_since("login", key)) is not None
    }
    assert len(state.twitch.missing_many("login", keys)) == 550


def test_user_by_login_prefers_the_newest(state: State) -> None:
    state.twitch.upsert_user(TwitchUser("1", "name", "Old", "", None, None), NOW)
    state.twitch.upsert_user(TwitchUser("2", "name", "New", "", None, None), NOW + 5)
    found = state.twitch.user_by_login("name")
    assert found is not None and found.id == "2"


def test_games_by_casefolded_name(state: State) -> None:
    state.twitch.mark_missing("game", "just chatting", NOW - 5)
    state.twitch.upsert_game(TwitchGame("509658", "Just Chatting", "https://x/b.jpg"), NOW)
    assert state.twitch.game_by_name("JUST CHATTING") == TwitchGame(
        "509658", "Just Chatting", "https://x/b.jpg"
    )
    assert state.twitch.game_fetched_at("just chatting") == NOW
    assert state.twitch.missing_since("game", "just chatting") is None
    assert state.twitch.game_by_name("Unknown") is None


def test_missing_is_replaced_with_the_newer_time(state: State) -> None:
    state.twitch.mark_missing("login", "ghost", NOW)
    state.twitch.mark_missing("login", "ghost", NOW + 10)
    assert state.twitch.missing_since("login", "ghost") == NOW + 10
    assert state.twitch.missing_since("game", "ghost") is None


def test_category_slugs(state: State) -> None:
    state.twitch.assign_slug("Just Chatting", "just_chatting", "509658")
    assert state.twitch.category_slug("Just Chatting") == "just_chatting"
    assert state.twitch.slug_owner("just_chatting") == "Just Chatting"
    assert state.twitch.slug_owner("other") is None
    assert state.twitch.category_slug("Unknown") is None
    with pytest.raises(StateError):  # a slug belongs to one name only
        state.twitch.assign_slug("Just-Chatting", "just_chatting", "1")


def test_invalidate_streamers_and_categories_in_one_call(state: State) -> None:
    """Every recording of the given users and categories looks changed afterwards (the
    users' folders too), the others keep their signatures; more ids than one `IN` takes."""
    users = [str(1000 + i) for i in range(700)]
    for i, uid in enumerate(users):
        folder = f"f{i}"
        category = "Chess" if i % 100 == 0 else f"Game {i % 7}"
        row = RecordingRow(f"{folder}/x.mp4", folder, 1, 2, uid, None, category, None, sig="s")
        state.recordings.upsert(row, NOW)
        state.folders.upsert(FolderRow(folder, "tv", uid, None), NOW)
    picked = users[1::2]
    folders = state.recordings.invalidate(user_ids=picked, categories=["Chess", "Nope"])
    expected = {f"f{i}" for i in range(700) if i % 2 == 1 or i % 100 == 0}
    assert folders == expected
    sigs = state.recordings.signatures()
    assert {name for name, rows in sigs.items() if rows[f"{name}/x.mp4"] is None} == expected
    known = state.folders.get_many(f"f{i}" for i in range(700))
    tv = {name for name, row in known.items() if row.sig is None}
    assert tv == {f"f{i}" for i in range(1, 700, 2)}  # the users' folders, not the category's
    assert state.recordings.invalidate() == set()


def test_recordings_and_forget_unseen(state: State) -> None:
    old = RecordingRow("a/old.mp4", "a", 1, 2, None, None, None, None)
    new = RecordingRow("a/new.mp4", "a", 3, 4, "42", "99", "Just Chatting", "artwork/42/s.jpg")
    state.recordings.upsert(old, NOW)
    state.recordings.upsert(new, NOW + 10)
    assert state.recordings.get("a/new.mp4") == new
    state.recordings.forget(["a/old.mp4"])
    assert state.recordings.get("a/old.mp4") is None
    assert state.recordings.get("a/new.mp4") == new


def test_rows_of_many_folders_at_once_match_one_at_a_time(state: State) -> None:
    """`in_folders` gives every row of each folder asked for, and `get_many` answers as
    `get` does, over more folders than one `IN` query takes; a folder named like another's
    prefix gets only its own rows."""
    names = [f"f{i}" for i in range(1200)] + ["f1 0", "f1/x"]
    rows: dict[str, dict[str, RecordingRow]] = {}
    for i, name in enumerate(names):
        for n in range(i % 3):
            row = RecordingRow(f"{name}/{n}.mp4", name, i, n, None, None, None, None, "s")
            state.recordings.upsert(row, NOW)
            rows.setdefault(name, {})[row.rel] = row
        if i % 3 == 0:
            state.folders.upsert(FolderRow(name, f"sig{i}", None, f"login{i}"), NOW)
    asked = [*names, "unknown"]
    many = state.recordings.in_folders(asked)
    assert many == {name: rows.get(name, {}) for name in asked}
    assert many["unknown"] == {} and len(many["f1"]) == 1
    known = state.folders.get_many(asked)
    one_by_one = {name: state.folders.get(name) for name in asked}
    assert known == {name: found for name, found in one_by_one.items() if found is not None}
    assert len(known) == len(range(0, len(names), 3))


# -- transactions and threads ----------------------------------------------------------


def test_transaction_rolls_back_on_exception(state: State) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), state.transaction():
        success(state, "profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1", 1)
        state.meta.set("k", "v")
        raise Boom
    assert state.images.get("profiles/profile_avatar_1.jpg") is None
    assert state.meta.get("k") is None
    with state.transaction():  # usable again afterwards
        state.meta.set("k", "v2")
    assert state.meta.get("k") == "v2"


def test_nested_transaction_joins_the_outer_one(state: State) -> None:
    with pytest.raises(RuntimeError), state.transaction():
        with state.transaction():
            state.meta.set("inner", "1")
        assert failure(state, "categories/x.jpg", ImageKind.CATEGORY, "X", next_retry=NOW) == 1
        raise RuntimeError("outer fails")
    assert state.meta.get("inner") is None
    assert state.images.get("categories/x.jpg") is None


def test_many_threads_write_without_loss(state: State) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                rel = f"artwork/{n}/stream_{i}.jpg"
                if i % 2:
                    failure(state, rel, ImageKind.ARTWORK, f"{n}/{i}", next_retry=NOW + 60)
                else:
                    success(state, rel, ImageKind.ARTWORK, f"{n}/{i}", 1)
                state.images.get(rel)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = state.images.all(ImageKind.ARTWORK)
    assert len(rows) == 1600
    assert sum(r.cached for r in rows) == 800
    assert state.stats(NOW)["artwork"] == {
        "cached_artworks": 800,
        "streamers_with_artwork": 8,
        "failed_downloads": 800,
    }


def test_reassigning_a_slug_to_the_same_name_updates_it(state: State) -> None:
    state.twitch.assign_slug("Just Chatting", "just_chatting", None)
    state.twitch.assign_slug("Just Chatting", "just_chatting", "509658")
    assert state.twitch.category_slug("Just Chatting") == "just_chatting"


def test_a_taken_slug_is_not_stolen(state: State) -> None:
    state.twitch.assign_slug("Foo 1", "foo_1", "7")
    with pytest.raises(StateError):
        state.twitch.assign_slug("Foo", "foo_1", "1")
    assert state.twitch.slug_owner("foo_1") == "Foo 1"
    assert state.twitch.category_slug("Foo 1") == "foo_1"
    assert state.twitch.category_slug("Foo") is None


def test_twitch_text_with_lone_surrogates_is_stored_with_u_fffd(state: State) -> None:
    """The last guard before SQLite (whose UTF-8 encoder refuses lone surrogates): whatever
    reaches the Twitch cache is stored, the bad characters as U+FFFD."""
    bad = "\ud800"
    user = TwitchUser(
        id="1", login=f"a{bad}", display_name=f"A{bad}", description=bad,
        profile_image_url=f"https://x/{bad}", offline_image_url=None,
    )  # fmt: skip
    state.twitch.upsert_user(user, NOW)
    state.twitch.upsert_game(TwitchGame(id="2", name=f"G{bad}", box_art_url=bad), NOW)
    stored = state.twitch.user_by_id("1")
    assert stored is not None
    assert (stored.login, stored.display_name) == ("a\ufffd", "A\ufffd")
    assert stored.description == "\ufffd"
    assert stored.profile_image_url == "https://x/\ufffd"
    assert state.twitch.game_by_name("G\ufffd") == TwitchGame("2", "G\ufffd", "\ufffd")


def test_a_recording_row_is_stored_and_read_back_field_for_field(state: State) -> None:
    """Rows are bound as they are (their fields are the table's columns in order): every
    field, the status and `numbered` included, comes back equal."""
    from svimaged.core.model import RecordingStatus

    row = RecordingRow(
        "a/x.mp4", "a", 5, 6, "42", "99", "Just Chatting", "artwork/42/stream_99.jpg",
        "5:6:sig", RecordingStatus.INCOMPLETE, 1767614400.5, 202601, 3, True, 1767614401.25,
    )  # fmt: skip
    state.recordings.upsert_many([row], 10.0)
    back = state.recordings.get("a/x.mp4")
    assert back == row
    assert back is not None and back.status is RecordingStatus.INCOMPLETE
    assert back.numbered is True
