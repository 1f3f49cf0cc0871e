"""What a pass talks to, built once from a config and shared by the daemon's workers: the
state, the image store, the fetcher, the Helix client, the clock, one lock per cache file and
the one transfer pool (`download.concurrency` threads) that every pass and every maintenance
job submits its downloads to."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from svimaged.config import Config
from svimaged.core.clock import Clock
from svimaged.core.errors import SvimagedError
from svimaged.core.groupsync import GroupSync, group_sync_for
from svimaged.images.fetch import Fetcher
from svimaged.images.shared import Validators
from svimaged.images.store import ImageStore
from svimaged.images.transfer import KeyedLocks, Transferer
from svimaged.images.urlpolicy import FetchPolicy
from svimaged.state import State
from svimaged.twitch.helix import HelixClient

#: Threads that write folders' files (NFOs and image files) during a pass.
WRITE_THREADS = 8
#: Transfer threads per download slot (`download.concurrency`): the fetcher lets only that
#: many download at once, and the other threads store, convert and record meanwhile, so a
#: durable write never keeps a slot idle.
THREADS_PER_SLOT = 2


@dataclass
class Resources:
    """Everything a pass talks to. Built once; shared by the daemon's workers."""

    config: Config
    state: State
    store: ImageStore
    fetcher: Fetcher
    helix: HelixClient | None
    clock: Clock
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    pool: ThreadPoolExecutor | None = None
    #: Folders whose files are written at the same time where each durable write waits for
    #: the disk (a few folders, or a file system without shared syncs); where batches share
    #: their syncs (`outputs.grouped`), the threads that wait for those syncs.
    writers: ThreadPoolExecutor | None = None
    #: The validators confirmed in the current `one_run()` (None outside one).
    run: Validators | None = None
    #: Shared syncs over the recordings' file system (`group_sync()`); False: not looked up.
    _group_sync: GroupSync | bool | None = False

    def __post_init__(self) -> None:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(
                THREADS_PER_SLOT * self.config.download.concurrency,
                thread_name_prefix="svimaged-dl",
            )
        if self.writers is None:
            self.writers = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="svimaged-wr")

    @contextlib.contextmanager
    def one_run(self) -> Iterator[None]:
        """Inside the block, transfers ask each URL at most once with the same validators
        (`images.shared`): `run --once` and sync refresh stale images, then pass over the
        folders, and the pass does not revalidate what the refresh just confirmed. Nested
        blocks join the outer one."""
        if self.run is not None:
            yield
            return
        self.run = Validators()
        try:
            yield
        finally:
            self.run = None

    def group_sync(self) -> GroupSync | None:
        """Shared syncs over the file system of the recordings (`core.groupsync`), None
        where each write keeps its own fsyncs. Looked up once, on first use."""
        if self._group_sync is False:
            self._group_sync = group_sync_for(self.config.recordings)
        group = self._group_sync if isinstance(self._group_sync, GroupSync) else None
        return None if group is None or group.unsupported else group

    def transferer(self) -> Transferer:
        """A `Transferer` on the shared pool; all of them share one lock per cache file."""
        return Transferer(
            fetcher=self.fetcher,
            store=self.store,
            state=self.state,
            clock=self.clock,
            retry=self.config.retry,
            concurrency=self.config.download.concurrency,
            locks=self.locks,
            pool=self.pool,
            run=self.run,
        )

    def close(self) -> None:
        """Release the fetcher first (transfers in flight end at once, leaving no partial
        file), then the pool (queued transfers are dropped; its threads are joined),
        connections and the state."""
        self.fetcher.close()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.writers is not None:
            self.writers.shutdown(wait=True, cancel_futures=True)
        if isinstance(self._group_sync, GroupSync):
            self._group_sync.close()
            self._group_sync = False
        if self.helix is not None:
            self.helix.close()
        self.state.close()


def helix_client(config: Config, clock: Clock) -> HelixClient | None:
    """The Helix client of this config, or None without credentials."""
    tw = config.twitch
    if not tw.has_credentials:
        return None
    return HelixClient(
        client_id=tw.client_id,
        client_secret=tw.client_secret,
        api_base=tw.api_base,
        auth_url=tw.auth_url,
        clock=clock,
        timeout=config.download.timeout,
    )


def build_resources(config: Config, clock: Clock) -> Resources:
    """Open the state, the image store, the fetcher and (with credentials) the Helix client.
    Raises `StateError` when the state database cannot be opened, and `SvimagedError` when
    the image cache folder is a symbolic link or not a folder (it would put the cache, and
    every write into it, outside the tree)."""
    check_cache_folder(config.images_root)
    d = config.download
    policy = FetchPolicy(
        allowed_hosts=frozenset(d.allowed_hosts),
        require_https=d.require_https,
        allow_private_networks=d.allow_private_networks,
        timeout=d.timeout,
        max_bytes=d.max_bytes,
    )
    helix = helix_client(config, clock)
    state = State.open(config.state_db)
    store = ImageStore(config.images_root, dir_mode=config.images.mode)
    fetcher = Fetcher(policy, concurrency=d.concurrency, clock=clock)
    return Resources(config, state, store, fetcher, helix, clock)


def check_cache_folder(images_root: Path) -> None:
    """Refuse a cache folder that is a symbolic link or not a folder (a missing one is made
    by the first write), with the fix in the message."""
    try:
        info = os.lstat(images_root)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SvimagedError(
            f"cannot inspect the image cache {images_root}: {exc.strerror}"
        ) from exc
    if stat.S_ISLNK(info.st_mode):
        raise SvimagedError(
            f"the image cache {images_root} is a symbolic link: svimaged never writes through "
            "one; make it a real folder (a bind mount works) or set images.dir"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise SvimagedError(f"the image cache {images_root} is not a folder; move it away")
