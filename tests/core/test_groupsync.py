"""Shared syncs (`core.groupsync`): which file systems get them, the group commit's promise
(a caller returns only after a sync that started after its call), failures, and the real
`syncfs` on the test's own file system."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from svimaged.core.groupsync import GroupSync, file_system_type, group_sync_for

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
40 22 0:40 / /mnt/nas rw,relatime shared:20 - nfs4 nas:/media rw,vers=4.2
41 22 0:41 / /mnt/pool rw,relatime shared:21 - fuse.mergerfs pool rw
42 22 8:17 / /mnt/media\\040disk rw,relatime shared:22 - xfs /dev/sdb1 rw
43 42 8:33 / /mnt/media\\040disk/deep rw,relatime - btrfs /dev/sdc1 rw
"""


@pytest.fixture
def mountinfo(tmp_path: Path) -> str:
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return str(path)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/srv/recordings", "ext4"),
        ("/mnt/nas/twitch", "nfs4"),
        ("/mnt/nasty", "ext4"),  # a prefix of the name is not the mount point
        ("/mnt/pool/twitch", "fuse.mergerfs"),
        ("/mnt/media disk/twitch", "xfs"),  # \040 in mountinfo is a space
        ("/mnt/media disk/deep/x", "btrfs"),  # the longest mount point wins
    ],
)
def test_the_file_system_of_a_path_is_read_from_mountinfo(
    mountinfo: str, path: str, kind: str
) -> None:
    assert file_system_type(Path(path), mountinfo) == kind


def test_an_unreadable_mountinfo_tells_nothing(tmp_path: Path) -> None:
    assert file_system_type(Path("/srv"), str(tmp_path / "missing")) is None
    garbled = tmp_path / "garbled"
    garbled.write_text("not a mount line\n22 1 8:1 / / rw\n")
    assert file_system_type(Path("/srv"), str(garbled)) is None


def test_network_and_fuse_file_systems_keep_their_per_file_fsyncs(
    tmp_path: Path, mountinfo: str
) -> None:
    """Only a local block-device file system gets shared syncs; elsewhere `syncfs` is not
    known to cover what an fsync would."""
    for path in ("/mnt/nas/twitch", "/mnt/pool/twitch"):
        assert group_sync_for(Path(path), mountinfo=mountinfo) is None
    local = tmp_path / "rec"
    local.mkdir()
    info = tmp_path / "local-mountinfo"
    info.write_text(f"22 1 8:1 / {tmp_path} rw - ext4 /dev/sda1 rw\n")
    group = group_sync_for(local, mountinfo=str(info))
    assert group is not None
    group.close()


def test_the_real_syncfs_on_the_tests_file_system(tmp_path: Path) -> None:
    group = group_sync_for(tmp_path)
    if group is None:
        pytest.skip(f"no shared syncs on this file system ({file_system_type(tmp_path)})")
    try:
        (tmp_path / "x").write_bytes(b"data")
        group.sync()
        group.sync()
        assert group.syncs == 2
    finally:
        group.close()


class BlockingSync:
    """A fake `syncfs` that records the order of events and holds its first call until
    released."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.first_entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        with self.lock:
            self.calls += 1
            call = self.calls
            self.events.append(f"start {call}")
        if call == 1:
            self.first_entered.set()
            assert self.release.wait(10)
        with self.lock:
            self.events.append(f"end {call}")


def test_callers_arriving_during_a_sync_share_the_next_one() -> None:
    """A sync that was already running when a caller arrived does not cover it (its data
    may have been written after the sync started): the caller waits for the next one,
    which covers everyone who arrived meanwhile."""
    fake = BlockingSync()
    group = GroupSync(-1, fake)
    done: dict[str, str] = {}

    def caller(name: str) -> None:
        group.sync()
        with fake.lock:
            done[name] = fake.events[-1]

    first = threading.Thread(target=caller, args=("first",))
    first.start()
    assert fake.first_entered.wait(10)
    late = [threading.Thread(target=caller, args=(f"late{n}",)) for n in range(3)]
    for thread in late:
        thread.start()
    deadline = time.monotonic() + 10
    while True:  # every late caller is waiting on the condition
        with group._cond:
            if len(group._cond._waiters) == 3:  # type: ignore[attr-defined]
                break
        assert time.monotonic() < deadline, "the late callers never waited"
        time.sleep(0.001)
    fake.release.set()
    for thread in (first, *late):
        thread.join(10)
    assert fake.events == ["start 1", "end 1", "start 2", "end 2"]
    assert done["first"] == "end 1"
    assert all(done[f"late{n}"] == "end 2" for n in range(3))
    assert group.syncs == 2


def test_a_failed_sync_fails_the_callers_it_covered_and_the_next_one_may_succeed() -> None:
    outcomes = [OSError(errno.EIO, "Input/output error"), None]

    def flaky(fd: int) -> None:
        failure = outcomes.pop(0)
        if failure is not None:
            raise failure

    group = GroupSync(-1, flaky)
    with pytest.raises(OSError, match="syncing the written files failed: Input/output error"):
        group.sync()
    group.sync()
    assert group.syncs == 2


def test_a_sync_interrupted_by_something_other_than_an_oserror_is_a_failure_for_all() -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    group = GroupSync(-1, interrupted)
    with pytest.raises(KeyboardInterrupt):
        group.sync()
    assert not group._running  # the next caller is not stuck behind it
    assert isinstance(group._failures.get(1), OSError)


def test_close_closes_the_descriptor(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    GroupSync(fd, lambda _fd: None).close()
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOSYS])
def test_a_syncfs_the_sandbox_forbids_marks_the_group_unsupported(code: int) -> None:
    def forbidden(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    group = GroupSync(-1, forbidden)
    with pytest.raises(OSError):
        group.sync()
    assert group.unsupported
    other = GroupSync(-1, lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        other.sync()
    assert not other.unsupported  # a failing disk is not a missing syscall
