"""The long-running daemon: threads, signals, sd_notify and the lifecycle (contract section 6).

Threads: the main thread (signals, supervision, STATUS=), `workers` threads taking work from
the `WorkQueue`, the transfer pool (twice `download.concurrency` threads, owned by the resources),
the watcher's observer, the scheduler, and one thread per `notify` server, which the passes
hand what they wrote. Everything built from one config is a `Runtime`; SIGHUP replaces the
whole runtime when the new config is valid and keeps the old one otherwise. Signal handlers
only set flags; the main loop acts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from svimaged.config import Config, load_config, require_recordings
from svimaged.control.server import ControlServer
from svimaged.control.service import DaemonApi
from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import ConfigError, ShuttingDownError, SvimagedError
from svimaged.core.log import kv, setup_logging
from svimaged.core.memory import settle_collector
from svimaged.daemon.queue import Job, WorkQueue
from svimaged.daemon.scheduler import JobScheduler
from svimaged.daemon.sdnotify import Notifier
from svimaged.daemon.watcher import Watcher
from svimaged.daemon.workers import WorkerPool
from svimaged.daemon.writable import socket_folder_errors, state_folder_errors
from svimaged.notify import NotifyWorker
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import Resources, build_resources
from svimaged.state.lock import StateLock

log = logging.getLogger(__name__)

#: Seconds the workers get to finish in-flight items on stop or reload.
STOP_BUDGET = 8.0
#: Seconds of that budget after which the fetcher is closed: transfers in flight are cut off
#: and new ones fail at once, so a busy folder or sync ends quickly.
ABANDON_AFTER = 2.0
LOOP_WAIT = 0.5
STATUS_EVERY = 30.0
SUMMARY_EVERY = 600.0


def summary_fields(stats: Mapping[str, object], depth: int) -> dict[str, int]:
    """`cached`, `failed`, `queue` and `retrying` from `Pipeline.stats()` and the queue depth."""
    retry = stats.get("queue")
    retrying = retry.get("retrying", 0) if isinstance(retry, Mapping) else 0
    return {
        "cached": _int(stats.get("total_cached")),
        "failed": _int(stats.get("total_failed")),
        "queue": depth,
        "retrying": _int(retrying),
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


@dataclass
class Runtime:
    """Everything built from one config; started and stopped as a whole."""

    config: Config
    resources: Resources
    pipeline: Pipeline
    queue: WorkQueue
    watcher: Watcher
    workers: WorkerPool
    scheduler: JobScheduler
    api: DaemonApi | None = None
    server: ControlServer | None = None
    notify: NotifyWorker | None = None  # tells the media servers what the passes wrote

    def counts(self) -> dict[str, int]:
        """The summary counts (reads the state)."""
        return summary_fields(self.pipeline.stats(), self.queue.depth())

    def stop(self, budget: float = STOP_BUDGET) -> None:
        """Stop intake, let in-flight work (worker threads and a running sync or cleanup job)
        finish within `budget` s, then close the resources. After `ABANDON_AFTER` s the
        fetcher is closed: transfers in flight are cut off and no new one starts (atomic
        writes leave no partial file whatever is cut short). The state is closed last, so
        no work still running meets a closed database."""
        start = time.monotonic()
        if self.api is not None:
            self.api.stop()  # control routes answer 503 from now on; queued jobs dropped
        self.watcher.stop(timeout=1.0)
        self.scheduler.stop(timeout=1.0)
        self.workers.stop()
        self.queue.close()
        busy = self._busy(start + min(ABANDON_AFTER, budget))
        if busy:
            log.info("work still running, cutting off downloads %s", kv(busy=busy))
            self.resources.fetcher.close()
            busy = self._busy(start + budget)
        if busy:
            log.warning("work did not finish in time %s", kv(busy=busy))
        if self.notify is not None:
            self.notify.stop()  # sends what waits, briefly; before the state closes
        if self.server is not None:
            self.server.stop(timeout=1.0)  # removes the socket
        self.pipeline.close()  # closes the resources: fetcher, Helix client, state database

    def _busy(self, deadline: float) -> int:
        """Wait until the monotonic `deadline` for the workers and the job thread; how many
        of them still run."""
        busy = self.workers.join(deadline)
        if self.api is not None and not self.api.jobs.join(deadline - time.monotonic()):
            busy += 1
        return busy


class _Flags:
    """Set by signal handlers (and `Daemon.request_*`), read by the main loop.

    Handlers only assign attributes: `threading.Event.set()` in a handler could deadlock on
    the Event's lock held by the interrupted main thread. The main loop is woken through
    `signal.set_wakeup_fd` on a socket pair instead."""

    def __init__(self) -> None:
        self.stop = False
        self.reload = False
        self._rx, self._tx = socket.socketpair()
        self._rx.setblocking(False)
        self._tx.setblocking(False)

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload = True
        else:
            self.stop = True

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._tx.send(b"\0")

    def wait(self, timeout: float) -> None:
        """Sleep until woken (a signal arrived) or `timeout` s passed."""
        select.select([self._rx], [], [], timeout)
        with contextlib.suppress(BlockingIOError):
            while self._rx.recv(512):
                pass

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGTERM, SIGINT and SIGHUP while inside (main thread only; elsewhere,
        e.g. embedded in a test thread, only `request_*` work)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self.on_signal) for s in _SIGNALS}
        old_fd = signal.set_wakeup_fd(self._tx.fileno(), warn_on_full_buffer=False)
        try:
            yield
        finally:
            signal.set_wakeup_fd(old_fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def close(self) -> None:
        self._rx.close()
        self._tx.close()


_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Daemon:
    """`svimaged run`: build a `Runtime`, serve until SIGTERM/SIGINT, reload on SIGHUP."""

    def __init__(
        self,
        config_path: Path,
        env: Mapping[str, str],
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """`on_ready` is called once, when the daemon first reports ready (the detached
        daemon tells the process that started it, see `daemon.detach`)."""
        self._config_path = config_path
        self._on_ready = on_ready
        self._env = env
        self._clock = clock if clock is not None else SystemClock()
        self._notifier = notifier if notifier is not None else Notifier(env)
        self._flags = _Flags()
        self._runtime: Runtime | None = None
        self._lock: StateLock | None = None
        self._heartbeat = time.monotonic()

    def request_stop(self) -> None:
        """Ask the main loop to shut down (what SIGTERM does); safe from any thread."""
        self._flags.stop = True
        self._flags.wake()

    def request_reload(self) -> None:
        """Ask the main loop to reload the config (what SIGHUP does); safe from any thread."""
        self._flags.reload = True
        self._flags.wake()

    def run(self) -> int:
        """Run until stopped; returns the exit code (0 after a clean stop).

        Raises `ConfigError` (exit 2) for an invalid config and `SvimagedError` (exit 1)
        when the daemon cannot start (recordings missing, state unusable)."""
        config = self._load()
        setup_logging(config.log_level)
        try:
            with self._flags.installed():
                with state_folder_errors(config.state_db):  # the first writes happen here
                    self._lock = self._locked(config)  # one svimaged per state folder
                    self._runtime = self._start(config)  # the control socket listens from here
                self._notifier.ready(self._status())
                log.info("daemon ready %s", kv(pid=os.getpid(), recordings=str(config.recordings)))
                if self._on_ready is not None:
                    self._on_ready()
                try:
                    self._loop()
                finally:
                    self._shutdown()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            self._flags.close()
            self._notifier.close()
        return 0

    @staticmethod
    def _locked(config: Config) -> StateLock:
        """The lock of `config`'s state folder, taken (`StateError` when another svimaged
        holds it)."""
        lock = StateLock(config.state_dir)
        lock.acquire()
        return lock

    # -- building and stopping -------------------------------------------------------------

    def _load(self) -> Config:
        """Load and check the config; raises `ConfigError` listing every problem."""
        config = load_config(self._config_path, self._env)
        require_recordings(config)
        return config

    def _start(self, config: Config) -> Runtime:
        """Build and start everything for `config`; a full rescan is queued first."""
        resources = build_resources(config, self._clock)
        try:
            notify = NotifyWorker(config, resources.state.notify, self._clock)
            pipeline = Pipeline(resources, on_pass=notify.submit_pass)
            settle_collector()
            watch = config.watch
            queue = WorkQueue(
                clock=self._clock, settle_seconds=watch.settle_seconds, is_known=pipeline.is_known
            )
            rescan = functools.partial(queue.put, Job.RESCAN)
            watcher = Watcher(
                config.recordings,
                queue,
                mode=watch.mode,
                poll_interval=watch.poll_interval,
                on_rescan=rescan,
            )
        except BaseException:
            resources.close()
            raise
        if resources.helix is None:
            log.warning("no twitch credentials: using local metadata and URLs only")
        workers = WorkerPool(pipeline, queue, config.workers)
        scheduler = self._scheduler(queue, config)
        runtime = Runtime(config, resources, pipeline, queue, watcher, workers, scheduler)
        runtime.notify = notify
        try:
            # The control socket first: a second daemon on the same socket stops here.
            runtime.api = DaemonApi(pipeline, enqueue=queue.touch, queue_depth=queue.depth)
            runtime.server = ControlServer(
                runtime.api,
                socket_path=config.control.socket,
                mode=config.control.mode,
                listen=config.http.listen,
                token=config.http.token,
                clock=self._clock,
            )
            with socket_folder_errors(config.control.socket):
                runtime.server.start()
            watcher.start()  # before the rescan lists the tree, so nothing falls in between
        except BaseException:
            runtime.stop()
            raise
        queue.put(Job.RESCAN)
        notify.start()
        workers.start()
        scheduler.start()
        return runtime

    def _scheduler(self, queue: WorkQueue, config: Config) -> JobScheduler:
        scheduler = JobScheduler(queue, rescan_interval=config.watch.rescan_interval)
        scheduler.every(SUMMARY_EVERY, "summary", self._log_summary)
        if config.cleanup.interval is not None:
            scheduler.enqueue_every(config.cleanup.interval, Job.CLEANUP)
        interval = self._notifier.watchdog_interval()
        if interval is not None:
            scheduler.every(interval, "watchdog", self._watchdog_ping)
        return scheduler

    def _shutdown(self) -> None:
        self._notifier.stopping()
        log.info("stopping")
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None
        log.info("stopped")

    # -- the main loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        next_status = time.monotonic() + STATUS_EVERY
        while True:
            self._flags.wait(LOOP_WAIT)
            self._heartbeat = time.monotonic()
            if self._flags.stop:
                return
            if self._flags.reload:
                self._flags.reload = False
                self._reload()
            runtime = self._current()
            try:
                runtime.watcher.check()
            except SvimagedError as exc:
                log.error("watcher restart failed, trying again %s", kv(error=str(exc)))
            runtime.workers.start()  # revives a worker that died of something unforeseen
            if time.monotonic() >= next_status:
                self._notifier.status(self._status())
                next_status = time.monotonic() + STATUS_EVERY

    def _current(self) -> Runtime:
        if self._runtime is None:
            raise ShuttingDownError("the daemon has no runtime")
        return self._runtime

    def _reload(self) -> None:
        """SIGHUP: swap the runtime for one built from the new config, or keep the old one
        when the new config is invalid (every problem logged at error)."""
        self._notifier.reloading()
        old = self._current()
        loaded = self._reload_config(old.config)
        if loaded is None:
            self._notifier.ready(self._status())
            return
        config, new_lock = loaded
        log.info("reloading config %s", kv(path=str(self._config_path)))
        old.stop()
        self._runtime = None
        try:
            setup_logging(config.log_level)
            self._runtime = self._start(config)
            log.info("config reloaded %s", kv(log_level=config.log_level))
        except SvimagedError as exc:
            log.error("new config failed to start, back to the old one %s", kv(error=str(exc)))
            if new_lock is not None:
                new_lock.release()
                new_lock = None
            setup_logging(old.config.log_level)
            self._runtime = self._start(old.config)  # raises (exit 1) if even that fails
        if new_lock is not None and self._lock is not None:
            self._lock.release()  # the old state folder is free; the new one is ours
            self._lock = new_lock
        self._notifier.ready(self._status())

    def _reload_config(self, current: Config) -> tuple[Config, StateLock | None] | None:
        """The new config and, when its `state_dir` differs, that folder's lock; None when
        the reload is refused (every problem logged at error)."""
        try:
            config = self._load()
            moved = config.state_dir != current.state_dir
            return config, self._locked(config) if moved else None
        except ConfigError as exc:
            problems = exc.problems
        except SvimagedError as exc:  # another svimaged holds the new state folder
            problems = [str(exc)]
        for problem in problems:
            log.error("reload refused, keeping the old config %s", kv(problem=problem))
        return None

    # -- status ----------------------------------------------------------------------------

    def _status(self) -> str:
        if self._runtime is None:
            return "starting"
        return "watching " + kv(**self._runtime.counts())

    def _log_summary(self) -> None:
        if self._runtime is not None:
            log.info("summary %s", kv(**self._runtime.counts()))

    def _watchdog_ping(self) -> None:
        """WATCHDOG=1, but only while the main loop is alive: a hung main thread must let
        systemd's watchdog fire."""
        interval = self._notifier.watchdog_interval() or LOOP_WAIT
        if time.monotonic() - self._heartbeat < max(interval, 4 * LOOP_WAIT):
            self._notifier.watchdog()
