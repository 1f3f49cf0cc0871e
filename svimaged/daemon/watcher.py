"""File system events -> `WorkQueue.touch(folder)`: nothing else happens on an event.

A watchdog observer (inotify, or `PollingObserver` on network/FUSE mounts, when configured, or
when inotify runs out of watches) watches `recordings` recursively. Its handler maps each event
path to the streamer folder it belongs to (`folder_of`) and touches that folder in the queue;
events below dot-folders (`.images`, our own `.x.svimaged-tmp-*` files) are ignored. Open and
close-without-write events are never requested, so readers (our own workers, a media server's
scan) cause no work.

Threads: the observer thread is named `svimaged-watcher`, its emitter thread(s)
`svimaged-watch-emitter`; both are daemon threads. `check()` restarts a dead observer.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from svimaged.core.errors import ConfigError, MetadataError
from svimaged.core.log import kv
from svimaged.core.names import is_text_name
from svimaged.daemon.queue import WorkQueue

log = logging.getLogger(__name__)

WatchMode = Literal["inotify", "polling"]

#: File system types where inotify misses changes made by other hosts: watch by polling.
NETWORK_FS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "ncpfs", "afs", "coda",
        "fuse", "fuse.sshfs", "fuse.rclone", "fuse.mergerfs", "fuse.s3fs", "sshfs",
        "9p", "virtiofs", "vboxsf", "vmhgfs", "drvfs", "davfs",
        "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2", "orangefs",
    }
)  # fmt: skip
MOUNTINFO = Path("/proc/self/mountinfo")
WATCH_LIMIT_FILE = Path("/proc/sys/fs/inotify/max_user_watches")
ADVICE = {
    errno.ENOSPC: "raise fs.inotify.max_user_watches (sysctl fs.inotify.max_user_watches=524288)",
    errno.EMFILE: "raise fs.inotify.max_user_instances (sysctl fs.inotify.max_user_instances=512)",
}
#: Only these event kinds are requested and acted on (no opened/closed_no_write/dir-modified).
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileMovedEvent,
    FileDeletedEvent, DirCreatedEvent, DirMovedEvent, DirDeletedEvent,
]  # fmt: skip
_EVENT_CLASSES = tuple(EVENT_FILTER)
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


# ---------------------------------------------------------------------------- pure helpers


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """(mount point, file system type) per line of /proc/self/mountinfo, in file order.

    Octal escapes (`\\040` for a space, `\\011`, `\\012`, `\\134`) in the mount point are
    decoded. Lines that do not have the documented shape are skipped.
    """
    mounts: list[tuple[str, str]] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        if sep + 1 >= len(fields):
            continue
        mounts.append((_unescape(fields[4]), _unescape(fields[sep + 1])))
    return mounts


def _within(path: str, mount_point: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point + "/")


def filesystem_of(path: Path, mounts: list[tuple[str, str]]) -> str:
    """The file system type of the longest mount point containing `path`, by whole path
    components (`/mnt/nas` does not contain `/mnt/nas2`); a later mount over the same point
    wins. `path` should be absolute and resolved; "" when no mount point contains it."""
    target = os.path.normpath(os.fspath(path))
    best, best_len = "", -1
    for mount_point, fstype in mounts:
        point = os.path.normpath(mount_point)
        if _within(target, point) and len(point) >= best_len:
            best, best_len = fstype, len(point)
    return best


def is_network_fs(fstype: str) -> bool:
    """True for network and FUSE file systems (`NETWORK_FS` or any `fuse.*`)."""
    return fstype in NETWORK_FS or fstype.startswith("fuse.")


def choose_mode(configured: str, recordings: Path, mountinfo: str | None = None) -> WatchMode:
    """The watch mode for `watch.mode` = `configured` (auto | inotify | polling).

    `auto` picks polling when `recordings` (symlinks resolved) lies on a network or FUSE file
    system, else inotify. `mountinfo` is the text of /proc/self/mountinfo (read when None; if
    it cannot be read, inotify). Raises `ConfigError` for any other `configured` value.
    """
    if configured in ("inotify", "polling"):
        return "inotify" if configured == "inotify" else "polling"
    if configured != "auto":
        raise ConfigError([f"watch.mode: must be auto, inotify or polling, got {configured!r}"])
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            log.info("mountinfo unreadable, using inotify %s", kv(error=str(exc)))
            return "inotify"
    fstype = filesystem_of(Path(os.path.realpath(recordings)), parse_mountinfo(mountinfo))
    return "polling" if is_network_fs(fstype) else "inotify"


def folder_of(recordings: Path, path: str | bytes) -> str | None:
    """The streamer folder an event path belongs to: its first component below `recordings`.

    None for `recordings` itself, for paths outside it, when any component below it starts
    with "." (dot-folders such as `.images`, temp files `.x.svimaged-tmp-...`), and for a
    folder whose name is not valid UTF-8 (skipped by the scan).
    Purely lexical (no file system access); `bytes` paths are decoded with `os.fsdecode`.
    """
    root = os.path.normpath(os.fspath(recordings))
    target = os.path.normpath(os.fsdecode(path))
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not target.startswith(prefix):
        return None
    parts = target[len(prefix) :].split(os.sep)
    if not parts[0] or any(part.startswith(".") for part in parts):
        return None
    return parts[0] if is_text_name(parts[0]) else None  # the scan skips it too


def inotify_watch_limit() -> int | None:
    """`fs.inotify.max_user_watches`, or None when it cannot be read."""
    try:
        return int(WATCH_LIMIT_FILE.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def count_directories(root: Path, stop_above: int) -> int:
    """Directories in `root` (itself included, symlinks not followed) as watchdog's recursive
    inotify watch would count them; stops counting once the count exceeds `stop_above`."""
    count = 1
    for dirpath, dirnames, _files in os.walk(root):
        count += sum(1 for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        if count > stop_above:
            break
    return count


# ---------------------------------------------------------------------------- watcher


class _TouchHandler(FileSystemEventHandler):
    """Maps an event to its streamer folder and touches it; does nothing else."""

    def __init__(self, recordings: Path, queue: WorkQueue) -> None:
        super().__init__()
        self._recordings = recordings
        self._queue = queue

    def dispatch(self, event: FileSystemEvent) -> None:
        if not isinstance(event, _EVENT_CLASSES):
            return
        for raw in (event.src_path, event.dest_path):
            if raw:
                folder = folder_of(self._recordings, raw)
                if folder is not None:
                    self._queue.touch(folder)


def _default_factory(poll_interval: float) -> Callable[[str], BaseObserver]:
    def make(mode: str) -> BaseObserver:
        if mode == "polling":
            return PollingObserver(timeout=poll_interval)
        return Observer()

    return make


class Watcher:
    """Watches `recordings` and touches the queue; see the module docstring.

    `mode` is the configured mode (auto | inotify | polling); the attribute `mode` is the one
    actually in use ("inotify" or "polling"). `observer_factory(mode)` builds an unstarted
    observer (tests inject failing ones). `watch_limit` overrides
    fs.inotify.max_user_watches for the pre-start check that the tree's directories fit.
    The constructor reads /proc/self/mountinfo for `auto` and raises `ConfigError` for an
    unknown mode; nothing is watched before `start()`.
    """

    def __init__(
        self,
        recordings: Path,
        queue: WorkQueue,
        *,
        mode: str = "auto",
        poll_interval: float = 30.0,
        on_rescan: Callable[[], None] | None = None,
        observer_factory: Callable[[str], BaseObserver] | None = None,
        watch_limit: int | None = None,
    ) -> None:
        self.recordings = Path(os.path.abspath(recordings))
        self.mode: WatchMode = choose_mode(mode, self.recordings)
        self._handler = _TouchHandler(self.recordings, queue)
        self._on_rescan = on_rescan
        self._factory = observer_factory or _default_factory(poll_interval)
        self._watch_limit = watch_limit
        self._observer: BaseObserver | None = None
        self._running = False

    def start(self) -> None:
        """Start watching. If inotify is out of watches or instances (ENOSPC/EMFILE, or the
        tree has more directories than fs.inotify.max_user_watches), log the sysctl advice
        once and watch by polling instead. Any other failure raises `MetadataError`."""
        self._observer = self._open()
        self._running = True
        log.info("watching %s", kv(path=self.recordings, mode=self.mode))

    def check(self) -> bool:
        """Supervision, for the daemon to call periodically: if the observer (or one of its
        emitters) died, start a new one in the same mode, call `on_rescan()` so a full rescan
        catches what was missed, and return True. Returns False when all is well or the
        watcher is not running. A restart that fails raises `MetadataError`; the next
        `check()` tries again."""
        if not self._running:
            return False
        observer = self._observer
        if observer is not None and _healthy(observer):
            return False
        log.warning("watch observer died, restarting %s", kv(mode=self.mode))
        if observer is not None:
            self._observer = None
            _discard(observer, timeout=1.0)
        self._observer = self._open()
        if self._on_rescan is not None:
            self._on_rescan()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the observer and wait up to `timeout` seconds for its threads."""
        self._running = False  # check() must not restart what stop() ended
        observer, self._observer = self._observer, None
        if observer is not None:
            _discard(observer, timeout=timeout)
            if observer.is_alive():
                log.warning("watch observer did not stop in time %s", kv(timeout=timeout))

    # ------------------------------------------------------------------ internals

    def _open(self) -> BaseObserver:
        if self.mode == "inotify" and self._over_budget():
            self._fall_back(errno.ENOSPC)
        try:
            return self._launch(self.mode)
        except OSError as exc:
            if self.mode != "inotify" or exc.errno not in ADVICE:
                raise MetadataError(f"cannot watch {self.recordings}: {exc}") from exc
            self._fall_back(exc.errno)
        try:
            return self._launch(self.mode)
        except OSError as exc:
            raise MetadataError(f"cannot watch {self.recordings}: {exc}") from exc

    def _over_budget(self) -> bool:
        limit = self._watch_limit if self._watch_limit is not None else inotify_watch_limit()
        return limit is not None and count_directories(self.recordings, limit) > limit

    def _fall_back(self, err: int) -> None:
        """Switch to polling for good, so the advice is logged once per Watcher."""
        self.mode = "polling"
        log.warning(
            "inotify unavailable, watching by polling %s; %s",
            kv(path=self.recordings, error=errno.errorcode.get(err, str(err))),
            ADVICE[err],
        )

    def _launch(self, mode: str) -> BaseObserver:
        observer = self._factory(mode)
        try:
            observer.schedule(
                self._handler, str(self.recordings), recursive=True, event_filter=EVENT_FILTER
            )
            observer.name = "svimaged-watcher"
            observer.start()
        except OSError:
            _discard(observer, timeout=1.0)
            raise
        for emitter in list(observer.emitters):
            emitter.name = "svimaged-watch-emitter"
        return observer


def _healthy(observer: BaseObserver) -> bool:
    return bool(observer.is_alive()) and all(e.is_alive() for e in list(observer.emitters))


def _discard(observer: BaseObserver, *, timeout: float) -> None:
    """Stop `observer` (started or not) and join it for up to `timeout` seconds."""
    observer.stop()
    if observer.is_alive():
        observer.join(timeout)
