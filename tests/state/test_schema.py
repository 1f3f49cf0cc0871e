"""Tests for schema migration 7 (facts in columns): a state database written by the previous
version, with `local:`/`frame:`/`migrated:` prefixes in the URL column, `pending` and
`incomplete:<sig>` sentinels in the signature column and `rec:`/`folder:` sidecar owners,
opens with every fact moved into its column and nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from svimaged.core.model import ImageKind, Origin, RecordingStatus
from svimaged.state import OwnerKind, State
from svimaged.state.schema import MIGRATIONS

NOW = 1_780_000_000.0


def version_6_database(path: Path) -> None:
    """A database as svimaged 0.1 left it (schema 6), with one row of each old encoding."""
    conn = sqlite3.connect(path, isolation_level=None)
    for target in range(1, 7):
        conn.executescript(f"BEGIN; {MIGRATIONS[target]}; PRAGMA user_version = {target}; COMMIT;")
    images = [
        ("profiles/profile_avatar_1.jpg", "profile", "1", "https://cdn.example/a.png"),
        ("artwork/1/stream_2.jpg", "artwork", "1/2", "local:/rec/a/x - S1E1-thumb.jpg"),
        ("artwork/1/stream_3.jpg", "artwork", "1/3", "frame:/rec/a/y.mp4"),
        ("artwork/1/stream_4.jpg", "artwork", "1/4", "migrated:/rec/.media/artwork/4.jpg"),
    ]
    for rel, kind, key, source in images:
        conn.execute(
            "INSERT INTO images (rel, kind, key, source_url, sha256, size, cached, last_success)"
            " VALUES (?, ?, ?, ?, 'ab', 10, 1, ?)",
            (rel, kind, key, source, NOW),
        )
    for rel, sig in (
        ("a/done.mp4", "1:2:-"),
        ("a/live.mp4", "pending"),
        ("a/half.mp4", "incomplete:3:4:-"),
    ):
        conn.execute(
            "INSERT INTO recordings (rel, folder, size, mtime_ns, seen_at, sig)"
            " VALUES (?, 'a', 1, 2, ?, ?)",
            (rel, NOW, sig),
        )
    conn.execute("INSERT INTO folders (name, sig, seen_at) VALUES ('a', '9.9', ?)", (NOW,))
    for path_, owner in (("a/poster.jpg", "folder:a"), ("a/done-thumb.jpg", "rec:a/done.mp4")):
        conn.execute(
            "INSERT INTO sidecars (path, owner, sha256, foreign_file, updated_at)"
            " VALUES (?, ?, 'cd', 0, ?)",
            (path_, owner, NOW),
        )
    conn.close()


def test_version_6_database_moves_every_fact_into_its_column(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    version_6_database(path)
    state = State.open(path)
    try:
        rows = {row.rel: row for row in state.images.all()}
        assert (
            rows["profiles/profile_avatar_1.jpg"].origin,
            rows["profiles/profile_avatar_1.jpg"].source,
        ) == (
            Origin.URL,
            "https://cdn.example/a.png",
        )
        assert rows["artwork/1/stream_2.jpg"].origin is Origin.LOCAL
        assert rows["artwork/1/stream_2.jpg"].source == "/rec/a/x - S1E1-thumb.jpg"
        assert (rows["artwork/1/stream_3.jpg"].origin, rows["artwork/1/stream_3.jpg"].source) == (
            Origin.FRAME,
            "/rec/a/y.mp4",
        )
        assert rows["artwork/1/stream_4.jpg"].origin is Origin.MIGRATED
        assert rows["artwork/1/stream_4.jpg"].source == "/rec/.media/artwork/4.jpg"
        done, live, half = (state.recordings.get(f"a/{n}.mp4") for n in ("done", "live", "half"))
        # version 9 asks for a fresh look at every recording (signatures changed shape)
        assert done is not None and (done.status, done.sig) == (RecordingStatus.DONE, None)
        assert live is not None and (live.status, live.sig) == (RecordingStatus.PENDING, None)
        assert half is not None and (half.status, half.sig) == (RecordingStatus.INCOMPLETE, None)
        # they all look changed, and their folder is one a quick rescan looks at
        assert state.recordings.signatures("a") == {
            "a": {"a/done.mp4": None, "a/live.mp4": None, "a/half.mp4": None}
        }
        assert state.folders.to_look_at() == {"a"}
        # sidecar owners: the folder's poster stays while the folder is known
        state.recordings.forget(["a/done.mp4"])
        assert state.outputs.orphan_sidecars() == [("a/done-thumb.jpg", "cd")]
        rows = state.outputs.sidecars_under("a")
        assert {p: (r.owner_kind, r.owner, r.sha256, r.foreign) for p, r in rows.items()} == {
            "a/done-thumb.jpg": (OwnerKind.RECORDING, "a/done.mp4", "cd", False),
            "a/poster.jpg": (OwnerKind.FOLDER, "a", "cd", False),
        }
        state.folders.forget("a")
        assert [p for p, _ in state.outputs.orphan_sidecars()] == [
            "a/done-thumb.jpg",
            "a/poster.jpg",
        ]
    finally:
        state.close()


def test_sidecars_under_one_folder_only(state: State) -> None:
    for path, owner in (
        ("ab/x-thumb.jpg", "ab/x.mp4"),
        ("a/y-thumb.jpg", "a/y.mp4"),
        ("a b/z.jpg", "a b/z.mp4"),
    ):
        state.outputs.record_sidecar(path, OwnerKind.RECORDING, owner, "ee", foreign=False, at=NOW)
    assert set(state.outputs.sidecars_under("a")) == {"a/y-thumb.jpg"}
    assert set(state.outputs.sidecars_under("ab")) == {"ab/x-thumb.jpg"}


def test_images_get_many_is_one_lookup_for_many_rels(state: State) -> None:
    rels = [f"artwork/1/stream_{n}.jpg" for n in range(1200)]
    for rel in rels[:700]:
        state.images.record_success(
            rel, ImageKind.ARTWORK, rel[8:-4], origin=Origin.URL, source="https://x/y.jpg",
            etag=None, last_modified=None, sha256="ab", size=1, at=NOW,
        )  # fmt: skip
    found = state.images.get_many(rels + rels)
    assert set(found) == set(rels[:700])
    assert found[rels[3]].source == "https://x/y.jpg"
    assert state.images.get_many([]) == {}


def test_sidecar_counters_follow_every_change(state: State) -> None:
    """Files and bytes of the daemon's own sidecars, kept by triggers (foreign ones and
    unknown hashes are not counted; rewriting a row replaces its size)."""

    def counts() -> tuple[int, int]:
        sidecars = state.stats(NOW)["sidecars"]
        assert isinstance(sidecars, dict)
        return sidecars["files"], sidecars["bytes"]

    record = state.outputs.record_sidecar
    record("a/poster.jpg", OwnerKind.FOLDER, "a", "s1", foreign=False, at=NOW, size=100)
    record("a/x.jpg", OwnerKind.RECORDING, "a/x.mp4", "s2", foreign=False, at=NOW, size=50)
    record("a/y.jpg", OwnerKind.RECORDING, "a/y.mp4", None, foreign=True, at=NOW)
    assert counts() == (2, 150)
    record("a/x.jpg", OwnerKind.RECORDING, "a/x.mp4", "s3", foreign=False, at=NOW, size=70)
    assert counts() == (2, 170)
    record("a/x.jpg", OwnerKind.RECORDING, "a/x.mp4", None, foreign=True, at=NOW)
    assert counts() == (1, 100)
    state.outputs.forget_sidecar("a/poster.jpg")
    state.outputs.forget_sidecar("a/y.jpg")
    assert counts() == (0, 0)


def test_nfo_statuses_of_more_paths_than_one_query_takes(state: State) -> None:
    paths = [f"s/e{n}.nfo" for n in range(1200)]
    state.outputs.record_nfos([(path, "written", None, NOW, None) for path in paths[::2]])
    found = state.outputs.nfo_statuses(paths)
    assert found == {path: "written" for path in paths[::2]}
    assert state.outputs.nfo_statuses([]) == {}


def test_version_10_loses_the_user_and_category_indexes_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    """Migrations 11 and 12 drop indexes a first pass paid for per recording and per NFO;
    the rows stay and invalidation still finds them (by a scan)."""
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for target in range(1, 11):
        conn.executescript(f"BEGIN; {MIGRATIONS[target]}; PRAGMA user_version = {target}; COMMIT;")
    conn.execute(
        "INSERT INTO recordings (rel, folder, size, mtime_ns, user_id, category, seen_at, sig) "
        "VALUES ('a/x.mp4', 'a', 1, 2, '42', 'Chess', ?, 'sig')",
        (NOW,),
    )
    conn.close()
    state = State.open(path)
    try:
        indexes = {
            str(row[0])
            for row in state.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert "recordings_user" not in indexes and "recordings_category" not in indexes
        assert "recordings_folder" in indexes
        assert "nfo_status" not in indexes and "nfo_errors" in indexes  # migration 12
        assert state.recordings.invalidate(categories=["Chess"]) == {"a"}
        assert state.recordings.signatures("a") == {"a": {"a/x.mp4": None}}
    finally:
        state.close()
