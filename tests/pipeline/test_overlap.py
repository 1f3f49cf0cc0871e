"""A pass writes a folder's outputs as soon as that folder's images are done, while other
folders' images are still being transferred (fake Twitch on 127.0.0.1, tree in tmp_path):
a few folders on the writer threads, many in batches with shared syncs (`outputs.grouped`),
which are made durable and put in place before the pass waits for a download."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.groupsync import GroupSync
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import resources
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.passes import GROUP_SYNC_FOLDERS, Pass
from svimaged.pipeline.resources import build_resources

#: Real seconds the test waits for the first folder's NFO before it gives up.
PATIENCE = 5.0
SLOW = ("91000002", "slow_one", "Slow One")
QUICK = [("91000001", "quick_one", "Quick One")]
MANY = QUICK + [(str(91000100 + n), f"more_{n}", f"More {n}") for n in range(GROUP_SYNC_FOLDERS)]


@pytest.mark.parametrize("quick", [QUICK, MANY], ids=["writer threads", "shared syncs"])
def test_a_folder_is_written_while_another_folders_image_is_still_downloading(
    tmp_path: Path,
    fake: FakeTwitch,
    quick: list[tuple[str, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    groups: list[GroupSync] = []  # shared syncs on any file system the test runs on

    def group_for(_root: Path) -> GroupSync:
        groups.append(GroupSync(-1, lambda _fd: None))
        return groups[-1]

    monkeypatch.setattr(resources, "group_sync_for", group_for)
    monkeypatch.setattr(GroupSync, "close", lambda self: None)
    streamers = [*quick, SLOW]
    for uid, login, display in streamers:
        fake.add_user(uid, login, display)
    clock = FakeClock(start=time.time() + 3600)  # every recording has settled
    root = tmp_path / "rec"
    generate_tree(
        root, recordings=len(streamers), streamers=streamers, categories=["x"], now=time.time(),
        with_info=False,
    )  # fmt: skip
    slow_profile = urlsplit(fake.url_for("profile", SLOW[0])).path
    fake.hold(slow_profile)
    config = parse_config(fake_config_data(fake, root, tmp_path / "state"), {})
    res = build_resources(config, clock)
    summaries: list[PassSummary] = []
    pass_thread = threading.Thread(target=lambda: summaries.append(Pass(res).run()))
    pass_thread.start()
    quick_show = root / "Quick One" / "tvshow.nfo"
    shows = [root / display / "tvshow.nfo" for _uid, _login, display in quick]

    def all_in_place() -> bool:  # every other folder's NFOs renamed, none still staged
        staged = [p for p in root.rglob("*") if ".svimaged-tmp-" in p.name]
        return all(show.exists() for show in shows) and not staged

    deadline = time.monotonic() + PATIENCE
    while not all_in_place() and time.monotonic() < deadline:
        time.sleep(0.01)
    written_while_held = all_in_place() and fake.paths[slow_profile] == 1
    fake.release()
    pass_thread.join(timeout=60)
    res.close()
    assert written_while_held
    assert f"profile_avatar_{quick[0][0]}.jpg" in quick_show.read_text()  # cached, not URL
    slow_show = (root / "Slow One" / "tvshow.nfo").read_text()
    assert f"profile_avatar_{SLOW[0]}.jpg" in slow_show  # written after its image
    assert len(summaries[0].cached) == len(streamers) and summaries[0].errors == 0
    shared = sum(group.syncs for group in groups)
    assert shared > 0 if len(quick) >= GROUP_SYNC_FOLDERS else shared == 0
