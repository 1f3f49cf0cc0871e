"""Watcher: pure mount/mode/folder helpers, then real watchdog observers on `tmp_path`.

Real-observer tests use a real WorkQueue on the real clock with settle_seconds=0 and wait in
bounded loops on `queue.get(timeout=0.1)`; a "nothing happened" check writes a sentinel file
after the ignored ones and waits for the sentinel (events are dispatched in order)."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import (
    DirModifiedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from svimaged.core.clock import SystemClock
from svimaged.core.errors import ConfigError, MetadataError
from svimaged.daemon import watcher as watcher_mod
from svimaged.daemon.queue import FolderWork, WorkQueue
from svimaged.daemon.watcher import (
    Watcher,
    choose_mode,
    filesystem_of,
    folder_of,
    is_network_fs,
    parse_mountinfo,
)

MOUNTINFO = "\n".join(
    [
        "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro",
        "25 22 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
        "95 22 0:48 / /mnt/nas rw,relatime shared:50 - nfs4 nas:/export rw,vers=4.2,addr=10.0.0.2",
        "96 22 0:49 / /mnt/smb\\040share rw,relatime shared:51 - cifs //srv/share rw,vers=3.0",
        "97 22 0:50 / /home/u/remote rw,nosuid,nodev,relatime shared:52 - fuse.sshfs u@h:/ rw",
        "98 22 0:51 / /var/lib/docker/overlay2/abc/merged rw,relatime - overlay overlay rw",
        "99 22 8:3 / /srv/media rw,relatime - ext4 /dev/sdb1 rw",
        "100 99 0:52 / /srv/media/cloud rw,relatime - fuse.rclone gdrive: rw",
        "this line is garbage",
        "",
    ]
)
ADVICE_TEXT = "raise fs.inotify.max_user_watches (sysctl fs.inotify.max_user_watches=524288)"


# ---------------------------------------------------------------------------- mountinfo


def test_parse_mountinfo_reads_mount_point_and_type() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts == [
        ("/", "ext4"),
        ("/proc", "proc"),
        ("/mnt/nas", "nfs4"),
        ("/mnt/smb share", "cifs"),
        ("/home/u/remote", "fuse.sshfs"),
        ("/var/lib/docker/overlay2/abc/merged", "overlay"),
        ("/srv/media", "ext4"),
        ("/srv/media/cloud", "fuse.rclone"),
    ]


def test_parse_mountinfo_decodes_all_octal_escapes_and_skips_short_lines() -> None:
    text = "1 0 0:1 / /a\\011b\\134c\\040d rw - ext4 /dev/x rw\n2 0 0:1 / /e rw -\n3 0 0:1 /"
    assert parse_mountinfo(text) == [("/a\tb\\c d", "ext4")]


@pytest.mark.parametrize(
    ("path", "fstype"),
    [
        ("/mnt/nas/recordings", "nfs4"),
        ("/mnt/nas", "nfs4"),
        ("/mnt/nas2/recordings", "ext4"),  # a prefix by characters, not by components
        ("/mnt/smb share/rec", "cifs"),
        ("/home/u/remote/twitch", "fuse.sshfs"),
        ("/var/lib/docker/overlay2/abc/merged/rec", "overlay"),
        ("/srv/media/cloud/rec", "fuse.rclone"),
        ("/srv/media/local", "ext4"),
        ("/srv/media/cloud/../local", "ext4"),
        ("/data", "ext4"),
    ],
)
def test_filesystem_of_uses_longest_component_prefix(path: str, fstype: str) -> None:
    assert filesystem_of(Path(path), parse_mountinfo(MOUNTINFO)) == fstype


def test_filesystem_of_later_mount_over_same_point_wins_and_no_match_is_empty() -> None:
    mounts = [("/", "ext4"), ("/mnt/x", "ext4"), ("/mnt/x", "nfs")]
    assert filesystem_of(Path("/mnt/x/rec"), mounts) == "nfs"
    assert filesystem_of(Path("/mnt/x/rec"), [("/other", "nfs")]) == ""


@pytest.mark.parametrize(
    ("fstype", "network"),
    [
        ("nfs", True),
        ("cifs", True),
        ("smb3", True),
        ("fuse", True),
        ("fuse.anything", True),
        ("9p", True),
        ("ext4", False),
        ("overlay", False),
        ("tmpfs", False),
        ("xfs", False),
        ("btrfs", False),
    ],
)
def test_is_network_fs(fstype: str, network: bool) -> None:
    assert is_network_fs(fstype) is network


@pytest.mark.parametrize(
    ("configured", "recordings", "mode"),
    [
        ("auto", "/mnt/nas/recordings", "polling"),
        ("auto", "/mnt/smb share/rec", "polling"),
        ("auto", "/home/u/remote/rec", "polling"),
        ("auto", "/srv/media/cloud/rec", "polling"),
        ("auto", "/srv/media/local", "inotify"),
        ("auto", "/var/lib/docker/overlay2/abc/merged/rec", "inotify"),
        ("polling", "/srv/media/local", "polling"),
        ("inotify", "/mnt/nas/recordings", "inotify"),
    ],
)
def test_choose_mode(configured: str, recordings: str, mode: str) -> None:
    assert choose_mode(configured, Path(recordings), MOUNTINFO) == mode


def test_choose_mode_rejects_unknown_mode() -> None:
    with pytest.raises(ConfigError, match=r"watch\.mode"):
        choose_mode("fanotify", Path("/srv"), MOUNTINFO)


def test_choose_mode_auto_without_readable_mountinfo_is_inotify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_mod, "MOUNTINFO", tmp_path / "missing")
    assert choose_mode("auto", tmp_path) == "inotify"


def test_choose_mode_auto_reads_mountinfo_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "mountinfo"
    fake.write_text(f"1 0 0:1 / {tmp_path} rw - nfs4 nas:/x rw\n", encoding="utf-8")
    monkeypatch.setattr(watcher_mod, "MOUNTINFO", fake)
    assert choose_mode("auto", tmp_path / "rec") == "polling"


# ---------------------------------------------------------------------------- folder_of

REC = Path("/data/recordings")


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("/data/recordings/Streamer", "Streamer"),
        ("/data/recordings/Streamer/Season 2026-11/x.mp4", "Streamer"),
        ("/data/recordings/Streamer/Season 2026-11/x.nfo", "Streamer"),
        (b"/data/recordings/Streamer/Season 2026-11/x.mp4", "Streamer"),
        (os.fsencode("/data/recordings/Str\udcffeamer/a.mp4"), None),  # not UTF-8: skipped
        ("/data/recordings/Name With Spaces/", "Name With Spaces"),
        ("/data/recordings", None),
        ("/data/recordings/", None),
        ("/data/recordings2/Streamer/x.mp4", None),
        ("/data/Streamer/x.mp4", None),
        ("/data/recordings/../etc/passwd", None),
        ("/data/recordings/.images/profiles/a.jpg", None),
        ("/data/recordings/.images", None),
        (b"/data/recordings/.images/categories/c.jpg", None),
        ("/data/recordings/Streamer/.hidden/x.mp4", None),
        ("/data/recordings/Streamer/Season 1/.x.nfo.svimaged-tmp-1a2b", None),
        ("/data/recordings/Streamer/.x.svimaged-tmp-42", None),
        ("relative/Streamer/x.mp4", None),
        ("", None),
    ],
)
def test_folder_of(path: str | bytes, folder: str | None) -> None:
    assert folder_of(REC, path) == folder


def test_folder_of_with_trailing_slash_and_filesystem_root() -> None:
    assert folder_of(Path("/data/recordings/"), "/data/recordings/S/x") == "S"
    assert folder_of(Path("/"), "/S/x.mp4") == "S"
    assert folder_of(Path("/"), "/") is None


# ---------------------------------------------------------------------------- real observers


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    (root / ".images" / "profiles").mkdir(parents=True)
    (root / "Streamer" / "Season 2026-11").mkdir(parents=True)
    return root


@pytest.fixture
def queue() -> Iterator[WorkQueue]:
    q = WorkQueue(clock=SystemClock(), settle_seconds=0)
    yield q
    q.close()


Factory = Callable[[str], BaseObserver]


@pytest.fixture
def make_watcher(rec: Path, queue: WorkQueue) -> Iterator[Callable[..., Watcher]]:
    made: list[Watcher] = []

    def build(**kwargs: object) -> Watcher:
        w = Watcher(rec, queue, **kwargs)  # type: ignore[arg-type]
        made.append(w)
        w.start()
        return w

    yield build
    for w in made:
        w.stop(timeout=5)


def drain_until(queue: WorkQueue, folder: str, timeout: float = 5.0) -> list[str]:
    """Folders handed out until `folder` comes (included); fails after `timeout` seconds."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        work = queue.get(timeout=0.1)
        if work is None:
            continue
        queue.done(work)
        assert isinstance(work, FolderWork)
        seen.append(work.folder)
        if work.folder == folder:
            return seen
    pytest.fail(f"no event for {folder!r} within {timeout}s; saw {seen}")


def touch_file(path: Path, data: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_new_recording_touches_its_streamer(
    rec: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    w = make_watcher(mode="inotify")
    assert w.mode == "inotify"
    names = {t.name for t in threading.enumerate()}
    assert {"svimaged-watcher", "svimaged-watch-emitter"} <= names
    touch_file(rec / "Streamer" / "Season 2026-11" / "x.mp4")
    assert drain_until(queue, "Streamer")[-1] == "Streamer"


def test_dot_folders_temp_files_and_reads_touch_nothing(
    rec: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    existing = rec / "Streamer" / "Season 2026-11" / "old.nfo"
    existing.write_bytes(b"<episodedetails/>")
    make_watcher(mode="inotify")
    touch_file(rec / ".images" / "profiles" / "p.jpg")
    touch_file(rec / ".images" / "new-dir" / "c.jpg")
    touch_file(rec / "Streamer" / "Season 2026-11" / ".old.nfo.svimaged-tmp-1")
    assert existing.read_bytes() == b"<episodedetails/>"  # open + close_nowrite
    os.listdir(rec / "Streamer")
    touch_file(rec / "Sentinel" / "s.mp4")
    assert drain_until(queue, "Sentinel") == ["Sentinel"]


def test_new_streamer_folder_is_touched(
    rec: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    make_watcher(mode="inotify")
    (rec / "Newcomer").mkdir()
    assert drain_until(queue, "Newcomer") == ["Newcomer"]


def test_rename_into_a_folder_touches_the_destination(
    rec: Path, tmp_path: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    (rec / ".incoming").mkdir()
    hidden = rec / ".incoming" / "a.mp4"
    hidden.write_bytes(b"a")
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"b")
    make_watcher(mode="inotify")
    os.rename(hidden, rec / "Streamer" / "Season 2026-11" / "a.mp4")
    assert drain_until(queue, "Streamer") == ["Streamer"]
    (rec / "Other").mkdir()
    assert drain_until(queue, "Other") == ["Other"]
    os.rename(outside, rec / "Other" / "b.mp4")
    assert drain_until(queue, "Other") == ["Other"]


def test_polling_mode_sees_a_new_file(
    rec: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    w = make_watcher(mode="polling", poll_interval=0.2)
    assert w.mode == "polling"
    touch_file(rec / "Streamer" / "Season 2026-11" / "p.mp4")
    assert drain_until(queue, "Streamer") == ["Streamer"]


# ---------------------------------------------------------------------------- fallbacks


class _NoSpaceOnSchedule(PollingObserver):
    def schedule(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


class _NoSpaceOnStart(PollingObserver):
    def start(self) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def _factory(
    inotify: Callable[[], BaseObserver], made: list[BaseObserver] | None = None
) -> Factory:
    def make(mode: str) -> BaseObserver:
        observer = inotify() if mode == "inotify" else PollingObserver(timeout=0.2)
        if made is not None:
            made.append(observer)
        return observer

    return make


@pytest.mark.parametrize("broken", [_NoSpaceOnSchedule, _NoSpaceOnStart])
def test_enospc_falls_back_to_polling_with_advice_once(
    broken: type[PollingObserver],
    rec: Path,
    queue: WorkQueue,
    make_watcher: Callable[..., Watcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    made: list[BaseObserver] = []
    with caplog.at_level(logging.WARNING, logger="svimaged.daemon.watcher"):
        w = make_watcher(mode="inotify", observer_factory=_factory(broken, made))
        assert w.mode == "polling"
        made[-1].stop()
        made[-1].join(timeout=5)
        assert w.check() is True  # restarted, still polling, no second advice
    assert w.mode == "polling"
    assert [type(o) for o in made] == [broken, PollingObserver, PollingObserver]
    assert caplog.text.count(ADVICE_TEXT) == 1
    assert "error=ENOSPC" in caplog.text
    touch_file(rec / "Streamer" / "Season 2026-11" / "late.mp4")
    assert drain_until(queue, "Streamer") == ["Streamer"]


def test_tree_larger_than_watch_limit_falls_back_to_polling(
    rec: Path,
    queue: WorkQueue,
    make_watcher: Callable[..., Watcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="svimaged.daemon.watcher"):
        w = make_watcher(mode="inotify", poll_interval=0.2, watch_limit=3)  # the tree has 5 dirs
    assert w.mode == "polling"
    assert caplog.text.count(ADVICE_TEXT) == 1
    touch_file(rec / "Streamer" / "new.mp4")
    assert drain_until(queue, "Streamer") == ["Streamer"]


def test_tree_within_watch_limit_keeps_inotify(make_watcher: Callable[..., Watcher]) -> None:
    assert make_watcher(mode="inotify", watch_limit=5).mode == "inotify"


def test_other_os_errors_raise_metadata_error(rec: Path, queue: WorkQueue) -> None:
    class Denied(PollingObserver):
        def start(self) -> None:
            raise OSError(errno.EACCES, "Permission denied")

    w = Watcher(rec, queue, mode="inotify", observer_factory=_factory(Denied))
    with pytest.raises(MetadataError, match=str(rec)):
        w.start()
    assert w.mode == "inotify"


def test_missing_recordings_raise_metadata_error(tmp_path: Path, queue: WorkQueue) -> None:
    for mode in ("inotify", "polling"):
        w = Watcher(tmp_path / "nope", queue, mode=mode, poll_interval=0.2)
        with pytest.raises(MetadataError, match="nope"):
            w.start()


# ---------------------------------------------------------------------------- supervision


def test_check_restarts_a_dead_observer_and_queues_a_rescan(
    rec: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    made: list[BaseObserver] = []
    rescans: list[int] = []

    def real(mode: str) -> BaseObserver:
        assert mode == "inotify"
        made.append(Observer())
        return made[-1]

    w = make_watcher(mode="inotify", on_rescan=lambda: rescans.append(1), observer_factory=real)
    assert w.check() is False
    made[0].stop()
    made[0].join(timeout=5)
    assert w.check() is True
    assert (rescans, len(made), w.mode) == ([1], 2, "inotify")
    assert made[1].is_alive()
    assert w.check() is False
    touch_file(rec / "Streamer" / "Season 2026-11" / "after.mp4")
    assert drain_until(queue, "Streamer") == ["Streamer"]


def test_check_restarts_when_an_emitter_dies(
    rec: Path, queue: WorkQueue, make_watcher: Callable[..., Watcher]
) -> None:
    made: list[BaseObserver] = []
    rescans: list[int] = []
    w = make_watcher(
        mode="polling",
        on_rescan=lambda: rescans.append(1),
        observer_factory=_factory(PollingObserver, made),
    )
    for emitter in list(made[0].emitters):
        emitter.stop()
        emitter.join(timeout=5)
    assert made[0].is_alive()
    assert w.check() is True
    assert rescans == [1]
    assert not made[0].is_alive()


def test_stop_ends_the_threads_and_check_then_does_nothing(rec: Path, queue: WorkQueue) -> None:
    made: list[BaseObserver] = []
    w = Watcher(rec, queue, mode="polling", observer_factory=_factory(PollingObserver, made))
    w.start()
    w.stop(timeout=5)
    assert not made[0].is_alive()
    assert w.check() is False
    assert len(made) == 1


# ---------------------------------------------------------------------------- the handler


def test_handler_only_touches_for_relevant_events_and_decodes_bytes(rec: Path) -> None:
    touched: list[str] = []

    class Recording(WorkQueue):
        def touch(self, folder: str) -> None:
            touched.append(folder)

    handler = watcher_mod._TouchHandler(rec, Recording(clock=SystemClock(), settle_seconds=0))
    base = os.fsencode(rec)
    handler.dispatch(FileOpenedEvent(base + b"/Streamer/a.mp4"))
    handler.dispatch(FileClosedNoWriteEvent(base + b"/Streamer/a.mp4"))
    handler.dispatch(DirModifiedEvent(base + b"/Streamer"))
    assert touched == []
    handler.dispatch(FileMovedEvent(base + b"/.incoming/a.mp4", base + b"/Streamer/a.mp4"))
    handler.dispatch(FileMovedEvent(f"{rec}/Old/a.mp4", f"{rec}/New/a.mp4"))
    handler.dispatch(FileClosedEvent(f"{rec}/Streamer/S1/b.mp4"))
    handler.dispatch(FileDeletedEvent(f"{rec}/Gone/c.mp4"))
    handler.dispatch(FileCreatedEvent(f"{rec}/.images/p.jpg"))
    assert touched == ["Streamer", "Old", "New", "Streamer", "Gone"]
