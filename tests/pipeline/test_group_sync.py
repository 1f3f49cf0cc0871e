"""A pass writing many folders makes their NFOs durable with shared syncs
(`core.groupsync`, issue 14); a pass writing a few keeps an fsync per file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.groupsync import GroupSync
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import passes, resources, run_once


@pytest.mark.parametrize("folders", [passes.GROUP_SYNC_FOLDERS, 2])
def test_shared_syncs_only_when_a_pass_writes_many_folders(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch, folders: int
) -> None:
    groups: list[GroupSync] = []

    def counting_group(root: Path) -> GroupSync:
        groups.append(GroupSync(-1, lambda _fd: None))
        return groups[-1]

    monkeypatch.setattr(resources, "group_sync_for", counting_group)
    monkeypatch.setattr(GroupSync, "close", lambda self: None)
    clock = FakeClock(start=time.time())
    streamers = [(str(30_000_000 + n), f"user_{n}", f"User {n}") for n in range(folders)]
    generate_tree(
        tmp_path / "rec", recordings=3 * folders, streamers=streamers,
        categories=["Just Chatting"], now=clock.time() - 3600,
    )  # fmt: skip
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    del data["twitch"]  # local sources only
    summary = run_once(parse_config(data, {}), clock)
    assert len(summary.nfo_written) >= 4 * folders  # every episode and tvshow.nfo
    synced = sum(group.syncs for group in groups)
    if folders >= passes.GROUP_SYNC_FOLDERS:
        assert 2 <= synced <= 2 * folders  # two per group of folders, shared
    else:
        assert synced == 0
    assert not [p for p in (tmp_path / "rec").rglob("*") if ".svimaged-tmp-" in p.name]


def test_once_syncfs_is_refused_later_passes_keep_their_own_fsyncs(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(fd: int) -> None:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(resources, "group_sync_for", lambda root: GroupSync(-1, refused))
    monkeypatch.setattr(GroupSync, "close", lambda self: None)
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    (tmp_path / "rec").mkdir()
    res = resources.build_resources(parse_config(data, {}), FakeClock())
    try:
        group = res.group_sync()
        assert group is not None
        with pytest.raises(OSError):
            group.sync()
        assert res.group_sync() is None
    finally:
        res.close()
