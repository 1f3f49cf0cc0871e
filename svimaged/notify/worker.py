"""The notifier: one thread per configured media server, fed by the passes, never in their way.

`NotifyWorker.submit` is what a pass's summary is handed to: it groups the written files by
show folder for each server (`changes`), queues them (`dispatch`) and returns at once; it
never blocks and never raises. Each server's thread sends what is due, one show folder per
notification, and records the outcome in the state (`sent`, `failed`, last success and
failure): a server that is down is logged once, retried with backoff, and logged again when
it answers. `flush` sends everything now in the caller's thread, within a time budget
(`run --once`). Nothing here touches what svimaged writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from svimaged.config import Config
from svimaged.core.clock import Clock
from svimaged.core.errors import NotifyError, StateError
from svimaged.core.log import kv
from svimaged.notify.changes import folder_batches
from svimaged.notify.dispatch import BATCH_WINDOW, ServerQueue, Waiting
from svimaged.notify.servers import Endpoint, endpoints

log = logging.getLogger(__name__)

#: Longest sleep of a server thread between two looks at its queue (seconds).
WAKE_EVERY = 1.0
#: Seconds `run --once` waits at most for its notifications (retries included).
ONCE_BUDGET = 30.0
#: Seconds a stopping daemon gives its server threads to send what waits.
STOP_BUDGET = 2.0


class Recorder(Protocol):
    """Where the outcomes go: `state.notify` (`NotifyTable`)."""

    def register(self, servers: Iterable[tuple[str, str, str]]) -> None: ...
    def sent(self, name: str, at: float) -> None: ...
    def failed(self, name: str, at: float, error: str) -> None: ...


class Written(Protocol):
    """What a pass reports having written (`pipeline.PassSummary`): absolute paths."""

    @property
    def nfo_written(self) -> Sequence[str]: ...
    @property
    def nfo_created(self) -> Sequence[str]: ...  # those of nfo_written that are new
    @property
    def placed(self) -> Sequence[str]: ...  # image files placed next to the recordings


class ServerWorker:
    """One server: its queue, the thread that sends it, and what it last told the log."""

    def __init__(
        self, endpoint: Endpoint, recorder: Recorder, clock: Clock, queue: ServerQueue
    ) -> None:
        self.endpoint = endpoint
        self._recorder = recorder
        self._clock = clock
        self._queue = queue
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._down = False  # a transient failure was logged; the next success says so
        self._refused: set[str] = set()  # permanent errors already logged
        self._full_logged = False

    def add(self, created: Iterable[str], modified: Iterable[str], recordings: str) -> None:
        """Queue the changes of one pass (grouped and mapped for this server)."""
        batches = folder_batches(created, modified, recordings, self.endpoint.path_map)
        if not batches:
            return
        with self._cond:
            dropped = self._queue.add(batches, self._clock.monotonic())
            self._cond.notify()
        if dropped and not self._full_logged:
            self._full_logged = True
            log.warning(
                "notification queue full, changes not sent %s",
                kv(server=self.endpoint.name, dropped=dropped, waiting=len(self._queue)),
            )

    def pending(self) -> int:
        """Show folders waiting to be sent."""
        with self._cond:
            return len(self._queue)

    def wake_at(self) -> float | None:
        """When the next batch becomes due (None when nothing waits)."""
        with self._cond:
            return self._queue.wake_at()

    def step(self, *, flush: bool = False) -> None:
        """Send every batch that is due now (`flush`: whatever its window); on a transient
        failure the rest waits for the backoff."""
        with self._cond:
            due = self._queue.take(self._clock.monotonic(), flush=flush)
        for index, waiting in enumerate(due):
            if not self._send(waiting):
                with self._cond:
                    for rest in due[index + 1 :]:
                        self._queue.put_back(rest)
                return

    def _send(self, waiting: Waiting) -> bool:
        """One attempt; False when the server should be left alone for a while."""
        name, batch = self.endpoint.name, waiting.batch
        try:
            self.endpoint.client.notify(batch)
        except NotifyError as exc:
            return self._failed(waiting, str(exc), transient=exc.transient)
        except Exception as exc:  # a client bug must not end the thread; drop the batch
            log.exception("notification failed %s", kv(server=name, folder=batch.show))
            return self._failed(waiting, f"internal error: {type(exc).__name__}", transient=False)
        with self._cond:
            self._queue.succeeded()
        self._record(lambda: self._recorder.sent(name, self._clock.time()))
        if self._down:
            log.info("media server answers again %s", kv(server=name))
        self._down = False
        self._refused.clear()
        log.info(
            "media server notified %s", kv(server=name, folder=batch.show, update=batch.update)
        )
        return True

    def _failed(self, waiting: Waiting, error: str, *, transient: bool) -> bool:
        name = self.endpoint.name
        self._record(lambda: self._recorder.failed(name, self._clock.time(), error))
        with self._cond:
            delay = self._queue.failed(waiting, self._clock.monotonic(), transient=transient)
        if delay is not None:
            if not self._down:
                log.warning(
                    "media server not answering, will retry %s",
                    kv(server=name, error=error, retry_in=delay),
                )
            else:
                log.debug("media server still not answering %s", kv(server=name, error=error))
            self._down = True
            return False
        if error not in self._refused:
            self._refused.add(error)
            log.warning(
                "media server refused a notification %s",
                kv(server=name, folder=waiting.batch.show, error=error),
            )
        return True

    def _record(self, write: Callable[[], None]) -> None:
        """Store an outcome; a state that is gone (the daemon stopping) loses only it."""
        try:
            write()
        except StateError as exc:
            log.debug("notify counters not stored %s", kv(error=str(exc)))

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name=f"notify-{self.endpoint.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Ask the thread to send what waits (not in backoff) and end."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def join(self, timeout: float) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))
            return not self._thread.is_alive()
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    wake, now = self._queue.wake_at(), self._clock.monotonic()
                    if wake is not None and wake <= now:
                        break
                    wait = WAKE_EVERY if wake is None else min(wake - now, WAKE_EVERY)
                    self._cond.wait(max(wait, 0.01))
                stopping = self._stopping
            self.step(flush=stopping)
            if stopping:
                return


class NotifyWorker:
    """Every configured server's `ServerWorker`, behind one `submit`."""

    def __init__(
        self,
        config: Config,
        recorder: Recorder,
        clock: Clock,
        *,
        window: float = BATCH_WINDOW,
    ) -> None:
        self._recordings = str(config.recordings)
        self._clock = clock
        servers = endpoints(config)
        try:
            recorder.register((e.name, e.kind, e.url) for e in servers)  # forgets the others
        except StateError as exc:
            log.warning("notify counters not registered %s", kv(error=str(exc)))
        self.servers = [
            ServerWorker(e, recorder, clock, ServerQueue(window=window)) for e in servers
        ]

    def submit(self, created: Iterable[str], modified: Iterable[str]) -> None:
        """Hand over what a pass wrote: NFOs it created, and NFOs it rewrote and image files
        it placed (absolute paths as svimaged sees them). Returns at once; never raises."""
        created, modified = list(created), list(modified)
        if not created and not modified:
            return
        for server in self.servers:
            try:
                server.add(created, modified, self._recordings)
            except Exception:  # never let a notification problem reach a pass
                log.exception("changes not queued %s", kv(server=server.endpoint.name))

    def submit_pass(self, summary: Written) -> None:
        """Hand over what one pass wrote (see `submit`)."""
        self.submit(summary.nfo_created, [*summary.nfo_written, *summary.placed])

    def pending(self) -> int:
        """Show folders waiting, over all servers."""
        return sum(server.pending() for server in self.servers)

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self, budget: float = STOP_BUDGET) -> None:
        """Let each thread send what waits, within `budget` seconds in all."""
        for server in self.servers:
            server.stop()
        deadline = self._clock.monotonic() + budget
        for server in self.servers:
            if not server.join(deadline - self._clock.monotonic()):
                log.info(
                    "notifications still in flight at stop %s", kv(server=server.endpoint.name)
                )
        self.close()

    def close(self) -> None:
        """Release the servers' HTTP connections."""
        for server in self.servers:
            server.endpoint.close()

    def flush(self, budget: float = ONCE_BUDGET) -> int:
        """Send everything now in this thread, retrying transient failures with backoff
        until `budget` seconds have passed; returns how many show folders stayed unsent."""
        deadline = self._clock.monotonic() + budget
        while True:
            for server in self.servers:
                server.step(flush=True)
            waits = [w for server in self.servers if (w := server.wake_at()) is not None]
            if not waits:
                return 0
            now = self._clock.monotonic()
            if min(waits) > deadline:
                left = self.pending()
                log.warning("notifications not sent in time %s", kv(folders=left, budget=budget))
                return left
            self._clock.sleep(max(0.0, min(waits) - now))
