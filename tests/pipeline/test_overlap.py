"""A pass writes a folder's outputs as soon as that folder's images are done, while other
folders' images are still being transferred (fake Twitch on 127.0.0.1, tree in tmp_path)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.passes import Pass
from svimaged.pipeline.resources import build_resources

#: Real seconds the test waits for the first folder's NFO before it gives up.
PATIENCE = 5.0
STREAMERS = [("91000001", "quick_one", "Quick One"), ("91000002", "slow_one", "Slow One")]


def test_a_folder_is_written_while_another_folders_image_is_still_downloading(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    for uid, login, display in STREAMERS:
        fake.add_user(uid, login, display)
    clock = FakeClock(start=time.time() + 3600)  # every recording has settled
    root = tmp_path / "rec"
    generate_tree(
        root, recordings=2, streamers=STREAMERS, categories=["x"], now=time.time(), with_info=False
    )
    slow_profile = urlsplit(fake.url_for("profile", STREAMERS[1][0])).path
    fake.hold(slow_profile)
    config = parse_config(fake_config_data(fake, root, tmp_path / "state"), {})
    res = build_resources(config, clock)
    summaries: list[PassSummary] = []
    pass_thread = threading.Thread(target=lambda: summaries.append(Pass(res).run()))
    pass_thread.start()
    quick_show = root / "Quick One" / "tvshow.nfo"
    deadline = time.monotonic() + PATIENCE
    while not quick_show.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    written_while_held = quick_show.exists() and fake.paths[slow_profile] == 1
    fake.release()
    pass_thread.join(timeout=60)
    res.close()
    assert written_while_held
    assert f"profile_avatar_{STREAMERS[0][0]}.jpg" in quick_show.read_text()  # cached, not URL
    slow_show = (root / "Slow One" / "tvshow.nfo").read_text()
    assert f"profile_avatar_{STREAMERS[1][0]}.jpg" in slow_show  # written after its image
    assert len(summaries[0].cached) == 2 and summaries[0].errors == 0
