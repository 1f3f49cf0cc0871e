"""How many Helix `videos` listings a first pass costs for StreamVault recordings whose
info.json carries the stream id but no thumbnail: none for a streamer whose recordings all
have artwork of their own, one per streamer otherwise (fake Twitch on 127.0.0.1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.pictures import make_jpeg
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import run_once

STREAMERS = [(str(93_000_000 + n), f"vod_maker_{n}", f"Vod Maker {n}") for n in range(3)]
RECORDINGS = 6  # two per streamer
STREAM_ID_BASE = 50_000_000_000  # generate_tree's stream id of recording n is this + n


@pytest.mark.parametrize("local_thumbs", [True, False])
def test_videos_are_listed_only_for_streamers_that_need_a_helix_thumbnail(
    local_thumbs: bool, tmp_path: Path, fake: FakeTwitch
) -> None:
    for uid, login, display in STREAMERS:
        fake.add_user(uid, login, display)
    for n in range(RECORDINGS):
        uid = STREAMERS[n % len(STREAMERS)][0]
        fake.add_video(str(70_000_000 + n), uid, str(STREAM_ID_BASE + n), f"Stream {n}")
    root = tmp_path / "rec"
    videos = generate_tree(
        root,
        recordings=RECORDINGS,
        streamers=STREAMERS,
        categories=["Just Chatting"],
        now=time.time(),
    )
    if local_thumbs:
        for video in videos:
            video.with_name(f"{video.stem}-thumb.jpg").write_bytes(make_jpeg(64, 36, seed=1))
    config = parse_config(fake_config_data(fake, root, tmp_path / "state"), {})
    summary = run_once(config, FakeClock(start=time.time()))
    artwork = [p for p in (root / ".images" / "artwork").rglob("*.jpg")]
    assert len(artwork) == RECORDINGS and summary.failed == 0
    assert fake.hits["videos"] == (0 if local_thumbs else len(STREAMERS))
