"""What a pass keeps until its end (docs/performance.md, issue 14): no written paths waiting
for `remember` (the summary has them). Offline: no credentials, a generated tree."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import control_socket_for
from svimaged.demo.sample_tree import generate_tree
from svimaged.outputs.apply import FolderResult
from svimaged.pipeline import Pipeline
from svimaged.pipeline.items import StreamerItem
from svimaged.pipeline.passes import Pass
from svimaged.pipeline.resources import build_resources

STREAMERS = [(str(1000 + i), f"streamer_{i}", f"Streamer {i}") for i in range(4)]
RECORDINGS = 24


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    clock = FakeClock(start=time.time())
    generate_tree(
        tmp_path / "rec",
        recordings=RECORDINGS,
        streamers=STREAMERS,
        categories=["Just Chatting", "Art"],
        now=clock.time(),
    )
    data = {
        "recordings": str(tmp_path / "rec"),
        "state_dir": str(tmp_path / "state"),
        "control": {"socket": str(control_socket_for(tmp_path / "state"))},
        "watch": {"settle_seconds": 60},
        "artwork": {"ffmpeg": False},
    }
    engine = Pipeline(build_resources(parse_config(data, {}), clock))
    yield engine
    engine.close()


def test_remember_gets_no_written_paths_but_what_it_stores(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[FolderResult] = []
    remember = Pass.remember

    def spy(self: Pass, items: list[StreamerItem], results: Mapping[str, FolderResult]) -> None:
        seen.extend(results.values())
        remember(self, items, results)

    monkeypatch.setattr(Pass, "remember", spy)
    summary = pipeline.full_pass()
    assert len(seen) == len(STREAMERS)
    assert all(not r.written and not r.created and not r.placed for r in seen)
    # What `remember` stores is still there: every recording got a new NFO.
    assert sum(len(r.recordings_written) for r in seen) == RECORDINGS
    assert all(r.touched for r in seen)
    assert pipeline.res.state.recordings.count() == RECORDINGS
    assert len(summary.nfo_written) > RECORDINGS
