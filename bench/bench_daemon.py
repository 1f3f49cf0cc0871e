"""Benchmark 4: the daemon (`python -m svimaged run`) as a subprocess, against the fake.

- Latency: finished recordings (video + info.json, the video's mtime set an hour back with
  `os.utime`) are dropped one at a time into known streamer folders; the time from the
  moment the last write returned to the moment its `.nfo` exists (polled every 20 ms),
  minus `settle_seconds`. With inotify, then with `watch.mode: polling`.
- Bursts: thousands of finished recordings of new streamers written at once; the time until
  every NFO exists, no loss, the daemon alive, and its RSS before, at the peak and a while
  after. Twice, with the same size: the first burst's RSS a while after, against the RSS
  before it ("back to its steady level"), and the second burst's, against the first's
  (whether each burst adds memory for good, i.e. a leak, or the memory is reused).
- Memory: the daemon's RSS once the start-up rescan of a large tree (`bench_rescan.LocalTree`,
  no credentials) is done, against an idle interpreter that imported the same libraries; and
  once it has done the first pass of a fresh tree itself (issue 14).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from bench.bench_rescan import LocalTree, find_files
from bench.common import (
    MIB,
    STREAM_ID_BASE,
    VIDEO_ID_BASE,
    BenchError,
    FakeProcess,
    Library,
    Row,
    UnixHTTPConnection,
    bench_config_data,
    best_of,
    idle_interpreter_rss,
    make_library,
    percentile,
    proc_status,
    ratio,
    scratch,
    wait_until,
)
from svimaged.demo.sample_tree import SampleRecording, write_recording

SETTLE = 1.0
POLL = 1.0
STOP_DEADLINE = 12.0
TARGET_P95_ISSUE4 = 3.0  # p95 - settle, inotify
TARGET_P95_ISSUE7 = 1.0
TARGET_POLL_EXTRA = 3.0  # p95 - settle <= poll_interval + this
TARGET_RSS_20K = 40 * MIB
TARGET_RSS_100K = 80 * MIB
#: Issue 14: a daemon sync on an unchanged tree, against `find TREE -type f`.
TARGET_SYNC = 2.0
SYNC_REPEATS = 5
#: Issue 14: RSS after the daemon did the first pass of the tree itself.
TARGET_FIRST_PASS_RSS = 30 * MIB
#: The daemon counts as done with a first pass after this many seconds without CPU time.
IDLE_SECONDS = 3
#: "Back to steady": RSS a while after a burst at most this much above the level before.
RSS_BACK_TOLERANCE = 8 * MIB
BURSTS = 2
#: Open descriptors a burst may leave behind (a few pooled connections, nothing per folder).
FD_TOLERANCE = 16
INITIAL_STREAMERS = 10
INITIAL_PER_STREAMER = 5
CATEGORIES = 5
BURST_FIRST = 100_000  # recording numbers of the burst start here


@dataclass(frozen=True, slots=True)
class DaemonSize:
    """How much each daemon figure does."""

    drops: int  # recordings dropped one at a time, per watch mode
    burst_streamers: int
    burst_per_streamer: int
    after_burst: float  # seconds the RSS is watched after the burst is done

    @property
    def burst(self) -> int:
        return self.burst_streamers * self.burst_per_streamer

    @property
    def streamers(self) -> int:
        return INITIAL_STREAMERS + BURSTS * self.burst_streamers


QUICK = DaemonSize(drops=10, burst_streamers=10, burst_per_streamer=50, after_burst=10.0)
DEFAULT = DaemonSize(drops=50, burst_streamers=50, burst_per_streamer=100, after_burst=30.0)


def daemon_env() -> dict[str, str]:
    """The environment without anything that would change the daemon's behaviour."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SVIMAGED_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }


class DaemonProcess:
    """`python -m svimaged run --config F` in a subprocess; its log (stderr) in a file."""

    def __init__(
        self, root: Path, name: str, config: dict[str, Any], env: dict[str, str] | None = None
    ) -> None:
        self.config_path = root / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = root / f"{name}.log"
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "svimaged", "run", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                env={**daemon_env(), **(env or {})},
                cwd=root,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, timeout: float) -> None:
        """Wait for `needle` in the log; BenchError if the daemon exits or time runs out."""
        if not wait_until(lambda: needle in self.log() or not self.alive(), timeout, 0.05):
            raise BenchError(f"daemon: no {needle!r} in its log after {timeout:.0f} s")
        if needle not in self.log():
            tail = "\n".join(self.log().splitlines()[-20:])
            raise BenchError(f"daemon exited ({self.proc.returncode}) before {needle!r}:\n{tail}")

    def error_lines(self) -> int:
        return sum(1 for line in self.log().splitlines() if line.startswith(("ERROR", "CRIT")))

    def stop(self) -> int | None:
        """SIGTERM, then wait; returns the exit code (None: had to be killed)."""
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class RssSampler:
    """Samples a process's VmRSS every `interval` s on a thread while active."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(proc_status(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def open_fds(pid: int) -> int:
    """How many file descriptors the process has open (0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


# -- the library: recordings numbered like generate_tree's ---------------------------------


def sample_recording(n: int, streamer: tuple[str, str, str], category: str) -> SampleRecording:
    """Recording number `n` of `streamer` in StreamVault's layout, with an info.json whose
    stream id matches the fake's archive video `VIDEO_ID_BASE + n`."""
    _uid, login, display = streamer
    episode = n % 100 + 1
    season = 202601 + (n // 100) % 12
    title = f"Stream {n}"
    rel = (
        f"{display}/Season {season // 100}-{season % 100:02d}/"
        f"{login} - S{season}E{episode:02d} - {title}.mp4"
    )
    info: dict[str, object] = {
        "id": n + 1,
        "twitch_id": str(STREAM_ID_BASE + n),
        "streamer": {"id": 7, "username": login, "profile_image": None},
        "title": title,
        "category": category,
        "started_at": "2026-01-05T12:00:00Z",
    }
    return SampleRecording(rel, info=info)


@dataclass(slots=True)
class Plan:
    """Which recording numbers go to which streamer, per phase."""

    lib: Library
    initial: list[tuple[int, int]] = field(default_factory=list)  # (n, streamer index)
    drops: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    bursts: list[list[tuple[int, int]]] = field(default_factory=list)

    def all(self) -> list[tuple[int, int]]:
        drops = [d for ds in self.drops.values() for d in ds]
        return self.initial + drops + [b for bs in self.bursts for b in bs]

    def recording(self, n: int, index: int) -> SampleRecording:
        categories = self.lib.categories
        return sample_recording(n, self.lib.streamers[index], categories[n % len(categories)])

    def load_videos(self) -> None:
        for n, index in self.all():
            uid = self.lib.streamers[index][0]
            self.lib.videos.append(
                (str(VIDEO_ID_BASE + n), uid, str(STREAM_ID_BASE + n), f"Stream {n}")
            )


def make_plan(size: DaemonSize) -> Plan:
    lib = make_library(size.streamers, CATEGORIES, 0)
    plan = Plan(lib)
    plan.initial = [
        (n, n % INITIAL_STREAMERS) for n in range(INITIAL_STREAMERS * INITIAL_PER_STREAMER)
    ]
    start = len(plan.initial)
    for mode in ("polling", "inotify"):
        plan.drops[mode] = [(n, n % INITIAL_STREAMERS) for n in range(start, start + size.drops)]
        start += size.drops
    for k in range(BURSTS):
        first_streamer = INITIAL_STREAMERS + k * size.burst_streamers
        plan.bursts.append(
            [
                (BURST_FIRST + k * size.burst + n, first_streamer + n // size.burst_per_streamer)
                for n in range(size.burst)
            ]
        )
    plan.load_videos()
    return plan


# -- the measurements ----------------------------------------------------------------------


def write_finished(tree: Path, rec: SampleRecording) -> Path:
    """Write a finished recording (mtime an hour back); returns its `.nfo` path."""
    video = write_recording(tree, rec, finished_mtime=time.time() - 3600)
    return video.with_suffix(".nfo")


def measure_drops(tree: Path, plan: Plan, mode: str, out: TextIO) -> list[float | None]:
    """Drop the recordings of `mode` one at a time; seconds to each NFO (None: missed)."""
    timeout = SETTLE + POLL + 20.0
    latencies: list[float | None] = []
    for n, index in plan.drops[mode]:
        nfo = write_finished(tree, plan.recording(n, index))
        start = time.perf_counter()
        found = wait_until(nfo.exists, timeout, 0.02)
        latencies.append(time.perf_counter() - start if found else None)
        time.sleep(0.05)
    done = [x for x in latencies if x is not None]
    out.write(
        f"[daemon] {mode}: {len(done)}/{len(latencies)} NFOs, p50 "
        f"{percentile(done, 50):.2f} s, p95 {percentile(done, 95):.2f} s\n"
    )
    return latencies


@dataclass(slots=True)
class BurstResult:
    count: int
    found: int
    write_seconds: float
    done_seconds: float  # from the first write to the last NFO
    alive: bool
    rss_before: int
    rss_peak: int
    rss_after: int
    after_seconds: float
    errors: int
    artwork: int  # artwork files in the cache afterwards (all bursts so far)
    fds_before: int
    fds_after: int


def measure_burst(
    tree: Path,
    burst: list[tuple[int, int]],
    plan: Plan,
    daemon: DaemonProcess,
    after: float,
    out: TextIO,
) -> BurstResult:
    """Write every recording of `burst` at once, wait for all NFOs, then watch the RSS for
    `after` seconds."""
    before, fds_before = proc_status(daemon.pid), open_fds(daemon.pid)
    out.write(f"[daemon] burst of {len(burst):,} recordings ...\n")
    with RssSampler(daemon.pid) as sampler:
        start = time.perf_counter()
        pending = {write_finished(tree, plan.recording(n, i)) for n, i in burst}
        written = time.perf_counter() - start

        def all_found() -> bool:
            pending.difference_update([p for p in pending if p.exists()])
            return not pending or not daemon.alive()

        wait_until(all_found, 300.0, 0.25)
        done = time.perf_counter() - start
        out.write(f"[daemon] burst done in {done:.1f} s; watching RSS {after:.0f} s\n")
        time.sleep(after)
        rss_after = proc_status(daemon.pid)
    return BurstResult(
        count=len(burst),
        found=len(burst) - len(pending),
        write_seconds=written,
        done_seconds=done,
        alive=daemon.alive(),
        rss_before=before,
        rss_peak=max(sampler.samples, default=0),
        rss_after=rss_after,
        after_seconds=after,
        errors=daemon.error_lines(),
        artwork=sum(len(files) for _d, _s, files in os.walk(tree / ".images" / "artwork")),
        fds_before=fds_before,
        fds_after=open_fds(daemon.pid),
    )


def _config(root: Path, info: dict[str, str], mode: str) -> dict[str, Any]:
    return bench_config_data(
        root,
        info,
        watch={
            "mode": mode,
            "settle_seconds": SETTLE,
            "poll_interval": POLL,
            "rescan_interval": 21600,
        },
        log_level="info",
    )


def run(size: DaemonSize, out: TextIO, env: dict[str, str] | None = None) -> list[Row]:
    """Latency (polling, then inotify) and the bursts; prints progress to `out`. `env`
    adds environment variables for the daemon (e.g. MALLOC_ARENA_MAX, for diagnosis)."""
    plan = make_plan(size)
    with (
        scratch() as tmp,
        FakeProcess() as fake,
    ):
        root = Path(tmp)
        tree = root / "recordings"
        fake.call("set", {"rate_limit": 100_000})
        fake.call("load", plan.lib)
        initial = {write_finished(tree, plan.recording(n, i)) for n, i in plan.initial}
        latencies: dict[str, list[float | None]] = {}
        bursts: list[BurstResult] = []
        codes: dict[str, int | None] = {}
        for mode in ("polling", "inotify"):
            daemon = DaemonProcess(root, mode, _config(root, fake.info, mode), env)
            try:
                daemon.wait_log("daemon ready", 30.0)
                if not wait_until(lambda: all(p.exists() for p in initial), 120.0, 0.1):
                    raise BenchError("daemon: the initial tree was not processed in 120 s")
                out.write(f"[daemon] {mode}: dropping {size.drops} recordings one at a time\n")
                latencies[mode] = measure_drops(tree, plan, mode, out)
                if mode == "inotify":
                    time.sleep(2.0)  # let the drops' own follow-up work finish
                    bursts += [
                        measure_burst(tree, b, plan, daemon, size.after_burst, out)
                        for b in plan.bursts
                    ]
            finally:
                codes[mode] = daemon.stop()
    return _latency_rows(latencies) + _burst_rows(bursts, codes)


def _latency_rows(latencies: dict[str, list[float | None]]) -> list[Row]:
    rows: list[Row] = []
    for mode, values in latencies.items():
        done = [x - SETTLE for x in values if x is not None]
        missed = len(values) - len(done)
        p50, p95 = percentile(done, 50), percentile(done, 95)
        measured = f"p50 +{p50:.2f} s, p95 +{p95:.2f} s (n={len(values)}, missed {missed})"
        base = f"settle_seconds {SETTLE:g} s"
        tag = f"finished rec -> NFO ({mode})"
        if mode == "inotify":
            rows.append(
                Row(
                    f"{tag}, issue 4",
                    base,
                    f"p95 <= +{TARGET_P95_ISSUE4:g} s",
                    measured,
                    missed == 0 and p95 <= TARGET_P95_ISSUE4,
                )
            )
            rows.append(
                Row(
                    f"{tag}, issue 7",
                    base,
                    f"p95 <= +{TARGET_P95_ISSUE7:g} s",
                    measured,
                    missed == 0 and p95 <= TARGET_P95_ISSUE7,
                )
            )
        else:
            limit = POLL + TARGET_POLL_EXTRA
            rows.append(
                Row(
                    f"{tag}, issue 4",
                    f"{base}, poll_interval {POLL:g} s",
                    f"p95 <= +{limit:g} s (poll + 3 s)",
                    measured,
                    missed == 0 and p95 <= limit,
                )
            )
    return rows


def _burst_rows(bursts: list[BurstResult], codes: dict[str, int | None]) -> list[Row]:
    rows: list[Row] = []
    for k, b in enumerate(bursts, 1):
        tag = f"{b.count:,} rec at once (burst {k})"
        rows += [
            Row(
                f"{tag}: NFOs written",
                "-",
                f"= {b.count}",
                f"{b.found} in {b.done_seconds:.1f} s (writing took {b.write_seconds:.1f} s; "
                f"artwork files in cache {b.artwork:,})",
                b.found == b.count,
            ),
            Row(
                f"{tag}: daemon alive, error lines",
                "-",
                "alive, 0 errors",
                f"{'alive' if b.alive else 'DEAD'}, {b.errors} errors",
                b.alive and b.errors == 0,
            ),
            _rss_row(tag, b, "before it" if k == 1 else f"after burst {k - 1}"),
            Row(
                f"{tag}: open file descriptors before / after",
                f"before {b.fds_before}",
                f"after <= before + {FD_TOLERANCE}",
                f"{b.fds_before} / {b.fds_after} ({b.fds_after - b.fds_before:+d})",
                b.fds_after - b.fds_before <= FD_TOLERANCE,
            ),
        ]
    rows.append(
        Row(
            "daemon exit code on SIGTERM (polling, inotify)",
            "-",
            "= 0, 0",
            ", ".join(str(codes.get(m)) for m in ("polling", "inotify")),
            all(c == 0 for c in codes.values()),
        )
    )
    return rows


def _rss_row(tag: str, b: BurstResult, before: str) -> Row:
    grew = b.rss_after - b.rss_before
    return Row(
        f"{tag}: RSS before / peak / {b.after_seconds:.0f} s after",
        f"RSS {before} {_mib(b.rss_before)}",
        f"after <= before + {_mib(RSS_BACK_TOLERANCE)}",
        f"{_mib(b.rss_before)} / {_mib(b.rss_peak)} / {_mib(b.rss_after)} ({grew / MIB:+.1f} MiB)",
        grew <= RSS_BACK_TOLERANCE,
    )


def _mib(value: int) -> str:
    return f"{value / MIB:.1f} MiB"


# -- memory at a large library ---------------------------------------------------------------


def _tree_daemon_config(tree: LocalTree) -> dict[str, Any]:
    """The config of a daemon over `tree`: inotify, no periodic rescan during the run."""
    return bench_config_data(
        tree.root,
        None,
        watch={"mode": "inotify", "settle_seconds": SETTLE, "rescan_interval": 21600},
        log_level="info",
        **tree.config_overrides,
    )


def rss_rows(tree: LocalTree, out: TextIO) -> list[Row]:
    """The daemon's RSS after its start-up rescan of `tree` (first pass done), against an
    idle interpreter with the same imports; the target depends on the tree's size."""
    idle = idle_interpreter_rss()
    config = _tree_daemon_config(tree)
    daemon = DaemonProcess(tree.root, "rss", config)
    out.write(f"[daemon] RSS at {tree.recordings:,} recordings ...\n")
    try:
        daemon.wait_log("daemon ready", 60.0)
        daemon.wait_log("rescan done", 600.0)
        time.sleep(3.0)
        rss, peak = proc_status(daemon.pid), proc_status(daemon.pid, "VmHWM")
        syncs = _time_syncs(Path(config["control"]["socket"]), SYNC_REPEATS)
        errors = daemon.error_lines()
    finally:
        code = daemon.stop()
    find = best_of(3, lambda: find_files(tree.tree))
    sync = sorted(syncs)[len(syncs) // 2]
    sync_row = Row(
        f"{tree.recordings:,} rec: daemon POST /api/images/sync?wait=1, unchanged (issue 14)",
        f"find -type f {find:.3f} s",
        f"<= {TARGET_SYNC:g}x",
        f"{sync:.3f} s = {ratio(sync, find):.2f}x (median of {len(syncs)}, over the socket)",
        ratio(sync, find) <= TARGET_SYNC,
        ratio(sync, find),
    )
    target = TARGET_RSS_100K if tree.recordings >= 100_000 else TARGET_RSS_20K
    issue = "issue 7" if tree.recordings >= 100_000 else "issue 4"
    extra = rss - idle
    return [
        sync_row,
        Row(
            f"daemon RSS at {tree.recordings:,} rec ({issue})",
            f"idle interpreter, same imports {_mib(idle)}",
            f"<= +{_mib(target)}",
            f"{_mib(rss)} = {extra / MIB:+.1f} MiB (peak {_mib(peak)}; exit {code}, "
            f"{errors} errors)",
            extra <= target and code == 0,
        ),
    ]


def _time_syncs(socket_path: Path, repeats: int) -> list[float]:
    """Seconds of each of `repeats` `POST /api/images/sync?wait=1` over the control socket,
    as `curl --unix-socket` sends it (one connection each)."""
    times = []
    for _ in range(repeats):
        conn = UnixHTTPConnection(socket_path, timeout=600.0)
        try:
            start = time.perf_counter()
            status, _headers, body = conn.fetch("/api/images/sync?wait=1", method="POST")
            times.append(time.perf_counter() - start)
        finally:
            conn.close()
        if status != 200:
            raise BenchError(f"sync answered {status}: {body[:200]!r}")
    return times


def first_pass_rss_rows(recordings: int, out: TextIO) -> list[Row]:
    """The daemon's RSS once it has done the first pass of a fresh `LocalTree` itself (its
    start-up rescan hands every folder to the workers; done = every NFO written and no CPU
    time for `IDLE_SECONDS`), against an idle interpreter with the same imports."""
    with LocalTree(recordings, out) as tree:
        idle = idle_interpreter_rss()
        config = _tree_daemon_config(tree)
        out.write(f"[daemon] first pass of {recordings:,} recordings by the daemon ...\n")
        daemon = DaemonProcess(tree.root, "first", config)
        try:
            daemon.wait_log("daemon ready", 60.0)
            daemon.wait_log("rescan done", 600.0)
            start = time.monotonic()
            _wait_idle(daemon.pid, timeout=1500.0)
            seconds = time.monotonic() - start
            rss, peak = proc_status(daemon.pid), proc_status(daemon.pid, "VmHWM")
            errors = daemon.error_lines()
            nfos = sum(1 for _ in tree.tree.rglob("*.nfo"))
        finally:
            code = daemon.stop()
    expected = recordings + 2 * tree.streamers  # episodes, tvshow.nfo, season.nfo
    extra = rss - idle
    return [
        Row(
            f"daemon RSS after its own first pass of {recordings:,} rec (issue 14)",
            f"idle interpreter, same imports {_mib(idle)}",
            f"<= +{_mib(TARGET_FIRST_PASS_RSS)}",
            f"{_mib(rss)} = {extra / MIB:+.1f} MiB (peak {_mib(peak)}; {nfos:,} NFOs in "
            f"{seconds:.0f} s; exit {code}, {errors} errors)",
            extra <= TARGET_FIRST_PASS_RSS and nfos == expected and code == 0,
        )
    ]


def _wait_idle(pid: int, timeout: float) -> None:
    """Wait until process `pid` used no CPU time for `IDLE_SECONDS` one-second polls."""
    deadline = time.monotonic() + timeout
    last, still = _cpu_seconds(pid), 0
    while still < IDLE_SECONDS:
        if time.monotonic() >= deadline:
            raise BenchError(f"the daemon was still busy after {timeout:.0f} s")
        time.sleep(1.0)
        now = _cpu_seconds(pid)
        still = still + 1 if now - last < 0.03 else 0
        last = now


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
