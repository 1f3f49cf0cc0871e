"""The `notify_servers` table (schema 10): registration follows the config, counters and
times per server, the stats object, and a version 9 database gaining the table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from svimaged.state import SCHEMA_VERSION, State
from svimaged.state.schema import MIGRATIONS

NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def test_registration_keeps_counters_by_name_and_forgets_the_rest(state: State) -> None:
    state.notify.register([("kodi", "kodi", "http://a:8080"), ("jf", "jellyfin", "http://j")])
    state.notify.sent("kodi", NOW)
    state.notify.sent("kodi", NOW + 1)
    state.notify.failed("jf", NOW + 2, "POST http://j/Library/Media/Updated: HTTP 401")
    state.notify.register([("kodi", "kodi", "http://b:8080")])  # jf removed, kodi moved
    (row,) = state.notify.rows()
    assert (row.name, row.url, row.sent, row.failed, row.last_success) == (
        "kodi",
        "http://b:8080",
        2,
        0,
        NOW + 1,
    )
    state.notify.register([])
    assert state.notify.rows() == []


def test_stats_show_each_server(state: State) -> None:
    state.notify.register([("kodi", "kodi", "http://a:8080"), ("plex", "plex", "http://p")])
    state.notify.sent("kodi", NOW)
    state.notify.failed("plex", NOW + 60, "GET http://p/library/sections: connection refused")
    state.notify.failed("plex", NOW + 65, "x" * 500)
    notify = state.stats(NOW)["notify"]
    assert notify == {
        "kodi": {
            "type": "kodi",
            "url": "http://a:8080",
            "sent": 1,
            "failed": 0,
            "last_success": "2026-05-28T20:26:40Z",
            "last_failure": None,
            "last_error": None,
        },
        "plex": {
            "type": "plex",
            "url": "http://p",
            "sent": 0,
            "failed": 2,
            "last_success": None,
            "last_failure": "2026-05-28T20:27:45Z",
            "last_error": "x" * 300,
        },
    }


def test_a_version_9_database_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for target in range(1, 10):
        conn.executescript(f"BEGIN; {MIGRATIONS[target]}; PRAGMA user_version = {target}; COMMIT;")
    conn.close()
    assert SCHEMA_VERSION >= 10  # every later migration runs too
    state = State.open(path)
    try:
        state.notify.register([("kodi", "kodi", "http://k")])
        assert [r.name for r in state.notify.rows()] == ["kodi"]
    finally:
        state.close()
