"""The state is written in batches: a pass costs a few SQLite statements per folder, not
several per recording (issue 14)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import run_once
from svimaged.state.db import Database

STREAMERS = 4
PER_STREAMER = 25


def _count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    execute, executemany = Database.execute, Database.executemany

    def counted_execute(self: Database, sql: str, params: tuple[object, ...] = ()) -> object:
        seen.append(sql)
        return execute(self, sql, params)

    def counted_many(self: Database, sql: str, rows: object) -> None:
        seen.append(sql)
        executemany(self, sql, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(Database, "execute", counted_execute)
    monkeypatch.setattr(Database, "executemany", counted_many)
    return seen


def test_a_local_first_pass_costs_statements_per_folder_not_per_recording(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(start=time.time())
    streamers = [(str(30_000_000 + n), f"user_{n}", f"User {n}") for n in range(STREAMERS)]
    generate_tree(
        tmp_path / "rec",
        recordings=STREAMERS * PER_STREAMER,
        streamers=streamers,
        categories=["Just Chatting"],
        now=clock.time() - 3600,
    )
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    del data["twitch"]  # local sources only: nothing to download
    seen = _count_statements(monkeypatch)
    summary = run_once(parse_config(data, {}), clock)
    assert len(summary.nfo_written) >= STREAMERS * PER_STREAMER
    per_recording = len(seen) / (STREAMERS * PER_STREAMER)
    assert per_recording < 1.5, f"{len(seen)} statements for {STREAMERS * PER_STREAMER}"
