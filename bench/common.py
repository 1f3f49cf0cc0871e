"""Shared pieces of the benchmarks: the fake Twitch in its own process, the generated
library, the config, file-tree snapshots, a per-thread profiler, the result table, and the
probes of other processes (/proc memory and I/O counters, HTTP over a Unix socket).

The fake runs in a child process (multiprocessing, spawn) so that the CDN's request
handling and image generation do not compete with the pass for the GIL: on the 2-core
benchmark host one core serves, one core runs svimaged, as with a remote CDN. Every timing
is compared with a baseline measured in the same run, because the host is shared and noisy.
"""

from __future__ import annotations

import atexit
import cProfile
import http.client
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import svimaged
from svimaged.config import Config, parse_config
from svimaged.demo.config import control_socket_for

#: The package's folder; profiles are filtered and shortened by it.
PACKAGE_DIR = str(Path(svimaged.__file__).resolve().parent)

#: Seconds to wait for the fake process to answer one command.
FAKE_REPLY_TIMEOUT = 60.0
USER_ID_BASE = 20_000_000
GAME_ID_BASE = 700_000
VIDEO_ID_BASE = 60_000_000_000
#: `generate_tree` gives recording n the Twitch stream id STREAM_ID_BASE + n.
STREAM_ID_BASE = 50_000_000_000


class BenchError(RuntimeError):
    """A benchmark could not run (the fake did not answer, a setup step failed)."""


# -- scratch folders ----------------------------------------------------------------------

#: Scratch folders the benchmarks are done with; removed when the whole run ends (or the
#: interpreter exits, for a benchmark module used on its own).
_DONE_WITH: list[Path] = []


def scratch_dir(prefix: str = "svimaged-bench-", parent: Path | None = None) -> Path:
    """A new empty folder in `parent` (the temporary folder by default), removed by
    `remove_scratch()` when the run ends, not when its benchmark ends.

    Why not at once: on ext4 without a journal (the benchmark host's disk), creating a file
    costs up to a millisecond of kernel time for several minutes after many files near it
    were deleted, because the kernel steps over every recently deleted inode of the block
    group on each create (`recently_deleted()` in fs/ext4/ialloc.c; journaled ext4 never
    does this). Removing one run's 60,000-file tree just before the next run's timed first
    pass measured that, not svimaged: 3 to 6 of its 8 to 10 seconds.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    _DONE_WITH.append(path)
    return path


@contextmanager
def scratch(prefix: str = "svimaged-bench-") -> Iterator[str]:
    """`scratch_dir()` as a context manager giving the path as a string (like
    `tempfile.TemporaryDirectory`)."""
    yield str(scratch_dir(prefix))


def remove_scratch() -> None:
    """Remove every folder `scratch_dir()` gave out (the end of a benchmark run)."""
    while _DONE_WITH:
        shutil.rmtree(_DONE_WITH.pop(), ignore_errors=True)


atexit.register(remove_scratch)


def create_cost(parent: Path, files: int = 200) -> float:
    """Microseconds per file to create `files` empty files in a new scratch folder of
    `parent`: whether file creation on this disk is in its slow state (see `scratch_dir`).
    The files stay until the run ends (removing them would slow the next creates)."""
    folder = os.open(scratch_dir("create-", parent), os.O_RDONLY | os.O_DIRECTORY)
    try:
        start = time.perf_counter()
        for n in range(files):
            os.close(os.open(str(n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=folder))
        return (time.perf_counter() - start) / files * 1e6
    finally:
        os.close(folder)


# -- results ----------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    """One line of the result table; `ok` is None for figures without a target. `value` is
    the number the target is about (a ratio, a count), when there is one: `--runs` takes the
    median run of a figure by it."""

    figure: str
    baseline: str
    target: str
    measured: str
    ok: bool | None = None
    value: float | None = None


def _shown(value: float) -> str:
    """A run's value in the median column: counts as integers, ratios to 3 digits."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e9 else f"{value:.3g}"


def median_rows(runs: list[list[Row]]) -> list[Row]:
    """One table from several runs of the same benchmarks: per figure (in the first run's
    order), the run with the median `value`, its measured text followed by every run's
    value; figures without a value show each run's text. A figure missing from a run is
    shown from the runs that have it."""
    if len(runs) == 1:
        return runs[0]
    by_figure: dict[str, list[Row]] = {}
    for rows in runs:
        for row in rows:
            by_figure.setdefault(row.figure, []).append(row)
    merged: list[Row] = []
    for figure, rows in by_figure.items():
        valued = [r for r in rows if r.value is not None]
        if len(valued) == len(rows):
            ordered = sorted(valued, key=lambda r: r.value or 0.0)
            mid = ordered[(len(ordered) - 1) // 2]
            each = ", ".join(_shown(r.value or 0.0) for r in rows)
            merged.append(
                Row(figure, mid.baseline, mid.target, f"{mid.measured} (median of {len(rows)}: "
                    f"{each})", mid.ok, mid.value)
            )  # fmt: skip
        else:
            texts = " | ".join(r.measured for r in rows)
            oks = {r.ok for r in rows}
            ok = None if oks == {None} else all(r.ok is not False for r in rows)
            merged.append(Row(figure, rows[0].baseline, rows[0].target, texts, ok))
    return merged


def ratio(value: float, base: float) -> float:
    """`value / base`, infinity when the baseline is zero."""
    return value / base if base > 0 else float("inf")


def format_table(rows: list[Row], *, markdown: bool = False) -> str:
    """The rows as an aligned text table, or as a Markdown table."""
    head = ("figure", "baseline", "target", "measured", "ok")
    cells = [head] + [
        (r.figure, r.baseline, r.target, r.measured, {True: "yes", False: "NO", None: "-"}[r.ok])
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        lines.insert(1, "|" + "|".join("---" for _ in head) + "|")
        return "\n".join(lines)
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(head))) for c in cells)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The fastest of `repeats` timed calls of `fn`, in seconds (least disturbed by noise)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# -- the generated library ----------------------------------------------------------------


@dataclass(slots=True)
class Library:
    """Users, games and archive videos for a generated tree, all registered in the fake."""

    streamers: list[tuple[str, str, str]]  # (user id, login, display name)
    categories: list[str]
    games: list[tuple[str, str]] = field(default_factory=list)  # (game id, name)
    videos: list[tuple[str, str, str, str]] = field(default_factory=list)


def make_library(n_streamers: int, n_categories: int, n_recordings: int) -> Library:
    """A library where every streamer, category and recording resolves: recording n (as
    written by `generate_tree`) has an archive video whose stream id matches."""
    streamers = [
        (str(USER_ID_BASE + i), f"streamer_{i:05d}", f"Streamer {i:05d}")
        for i in range(n_streamers)
    ]
    categories = [f"Bench Category {i:03d}" for i in range(max(n_categories, 1))]
    games = [(str(GAME_ID_BASE + i), name) for i, name in enumerate(categories)]
    videos = [
        (
            str(VIDEO_ID_BASE + n),
            streamers[n % n_streamers][0],
            str(STREAM_ID_BASE + n),
            f"Stream {n}",
        )
        for n in range(n_recordings)
    ]
    return Library(streamers, categories, games if n_categories else [], videos)


# -- the fake in a child process ------------------------------------------------------------


def _fake_main(conn: multiprocessing.connection.Connection, nodelay: bool) -> None:
    """Child process: serve a FakeTwitch and answer commands until "stop" or EOF."""
    from svimaged.demo import fake_http, fake_twitch

    # The fake disables Nagle (http.server writes headers and body in two sends, so with
    # Nagle on every keep-alive response waits ~40 ms for the delayed ACK); --fake-nagle
    # turns it back on to show that stall.
    fake_http._Handler.disable_nagle_algorithm = nodelay
    with fake_twitch.FakeTwitch() as fake:
        while True:
            try:
                op, args = conn.recv()
            except EOFError:
                return
            if op == "stop":
                conn.send(("ok", None))
                return
            try:
                conn.send(("ok", _fake_op(fake, op, args)))
            except Exception as exc:  # report to the parent instead of dying silently
                conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _fake_op(fake: Any, op: str, args: Any) -> Any:
    if op == "info":
        keys = ("base_url", "api_base", "auth_url", "client_id", "client_secret")
        return {k: getattr(fake, k) for k in keys}
    if op == "load":
        for uid, login, display in args.streamers:
            fake.add_user(uid, login, display)
        for gid, name in args.games:
            fake.add_game(gid, name)
        for vid, uid, sid, title in args.videos:
            fake.add_video(vid, uid, sid, title)
        return None
    if op == "set":
        for name, value in args.items():
            setattr(fake.helix if name == "rate_limit" else fake, name, value)
        return None
    if op == "stats":
        return dict(fake.hits), fake.bytes_served
    if op == "profile_urls":
        return [fake.url_for("profile", uid) for uid in args]
    raise ValueError(f"unknown command {op}")


class FakeProcess:
    """The FakeTwitch of `svimaged.demo` on 127.0.0.1, served from a child process."""

    def __init__(self, *, nodelay: bool = True) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_fake_main, args=(child, nodelay), daemon=True)
        self._proc.start()
        child.close()
        self.info: dict[str, str] = self.call("info")

    def call(self, op: str, args: Any = None) -> Any:
        """Send one command and return its answer; raises BenchError on failure/timeout."""
        try:
            self._conn.send((op, args))
            if not self._conn.poll(FAKE_REPLY_TIMEOUT):
                raise BenchError(f"fake twitch did not answer {op} in {FAKE_REPLY_TIMEOUT} s")
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise BenchError(f"fake twitch process is gone ({op}): {exc}") from exc
        if status != "ok":
            raise BenchError(f"fake twitch failed {op}: {value}")
        return value

    def stats(self) -> tuple[dict[str, int], int]:
        """(hits per route, CDN body bytes served) so far."""
        hits, served = self.call("stats")
        return dict(hits), int(served)

    def close(self) -> None:
        """Stop the child (politely, then by its pid)."""
        if self._proc.is_alive():
            try:
                self.call("stop")
            except BenchError:
                self._proc.terminate()
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._conn.close()

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def delta(after: tuple[dict[str, int], int], before: tuple[dict[str, int], int]) -> Counts:
    """What the fake served between two `stats()` snapshots."""
    hits = {k: v - before[0].get(k, 0) for k, v in after[0].items()}
    return Counts({k: v for k, v in hits.items() if v}, after[1] - before[1])


@dataclass(slots=True)
class Counts:
    """Requests per route and CDN body bytes between two snapshots."""

    hits: dict[str, int]
    bytes_served: int

    def get(self, route: str) -> int:
        return self.hits.get(route, 0)


# -- config and files ---------------------------------------------------------------------


def bench_config_data(root: Path, info: Mapping[str, str] | None, **top: Any) -> dict[str, Any]:
    """Config data (as YAML would give it) for the tree in `root/recordings`, the state in
    `root/state` and the control socket next to it; Helix and the CDN at the fake described
    by `info`, or no credentials at all when `info` is None. `top` adds or replaces
    top-level keys (a `download` mapping is merged)."""
    data: dict[str, Any] = {
        "recordings": str(root / "recordings"),
        "state_dir": str(root / "state"),
        "control": {"socket": str(control_socket_for(root / "state"))},
        "watch": {"settle_seconds": 60},
        "log_level": "warning",
    }
    download = top.pop("download", {})
    if info is not None:
        data["twitch"] = {
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "api_base": info["api_base"],
            "auth_url": info["auth_url"],
        }
        download = {
            "allowed_hosts": [info["base_url"].removeprefix("http://")],
            "require_https": False,
            "allow_private_networks": True,
            "timeout": 10,
            **download,
        }
    if download:
        data["download"] = download
    data.update(top)
    return data


def bench_config(root: Path, info: Mapping[str, str] | None, **top: Any) -> Config:
    """`bench_config_data` parsed into a `Config`."""
    return parse_config(bench_config_data(root, info, **top), {}, source="bench")


def walk_and_parse(root: Path) -> int:
    """The pass baseline: `os.walk` the tree, read and json-parse every info.json.
    Returns how many were parsed."""
    parsed = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(".info.json"):
                with open(os.path.join(folder, name), "rb") as fh:
                    json.loads(fh.read())
                parsed += 1
    return parsed


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file below `root`, dot-folders included."""
    snap: dict[str, tuple[int, int]] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            snap[path] = (st.st_mtime_ns, st.st_size)
    return snap


def changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> int:
    """Files added, removed or with a new mtime/size between two snapshots."""
    return sum(1 for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# -- profiling ----------------------------------------------------------------------------


class ThreadProfiler:
    """cProfile for the calling thread and every thread started while it is active (the
    transfer workers); `stats()` merges them, so times are summed over threads."""

    def __init__(self) -> None:
        self._main = cProfile.Profile()
        self._workers: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start_thread(self, frame: FrameType, event: str, arg: Any) -> None:
        prof = cProfile.Profile()
        with self._lock:
            self._workers.append(prof)
        prof.enable()  # replaces this hook for the new thread

    @contextmanager
    def active(self) -> Iterator[None]:
        threading.setprofile(self._start_thread)
        self._main.enable()
        try:
            yield
        finally:
            self._main.disable()
            threading.setprofile(None)

    def stats(self) -> pstats.Stats:
        merged = pstats.Stats(self._main)
        for prof in self._workers:
            merged.add(prof)
        return merged


def top_functions(stats: pstats.Stats, *, key: str, count: int, only: str = "") -> list[str]:
    """The `count` heaviest entries by `key` ("cumulative" or "tottime"), as text lines;
    `only` keeps functions whose file path contains it."""
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    index = 3 if key == "cumulative" else 2  # (cc, nc, tottime, cumtime, callers)
    picked = [(k, v) for k, v in entries.items() if only in k[0]]
    picked.sort(key=lambda kv: float(kv[1][index]), reverse=True)
    return [f"{v[index]:8.2f} s  {v[1]:>8}  {_where(k)}" for k, v in picked[:count]]


def _where(key: tuple[str, int, str]) -> str:
    path, line, func = key
    if path == "~":
        return func
    parent = os.path.dirname(PACKAGE_DIR) + os.sep
    short = path.removeprefix(parent) if path.startswith(PACKAGE_DIR) else Path(path).name
    return f"{short}:{line}({func})"


# -- other processes: memory, I/O, HTTP over a Unix socket ---------------------------------

#: What the daemon imports; an idle interpreter with these is the RSS baseline.
DAEMON_IMPORTS = (
    "svimaged.daemon.lifecycle, svimaged.control.server, lxml.etree, PIL.Image, requests, "
    "watchdog.observers, yaml, schedule"
)
MIB = 1024 * 1024


def proc_status(pid: int, field: str = "VmRSS") -> int:
    """A size field of /proc/<pid>/status (VmRSS, VmHWM, ...) in bytes; 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    return 0


def proc_io(pid: int) -> dict[str, int]:
    """/proc/<pid>/io: `rchar` (bytes passed to read()/pread()/sendfile, page cache hits
    included), `read_bytes` (fetched from storage), ..."""
    text = Path(f"/proc/{pid}/io").read_text(encoding="ascii")
    return {k: int(v) for k, v in (line.split(": ") for line in text.splitlines())}


def idle_interpreter_rss(imports: str = DAEMON_IMPORTS) -> int:
    """RSS in bytes of a fresh interpreter that imported `imports` and sleeps."""
    code = f"import {imports}; import sys, time; print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise BenchError("the idle interpreter did not start")
        time.sleep(0.5)
        return proc_status(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 100) of `values`; inf when empty."""
    if not values:
        return float("inf")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll `condition` every `interval` s until it is true (True) or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over an AF_UNIX socket (keep-alive, like `curl --unix-socket`)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock

    def fetch(
        self, target: str, headers: Mapping[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on the kept-alive connection; (status, headers, body)."""
        self.request(method, target, headers=dict(headers or {}))
        resp = self.getresponse()
        body = resp.read()
        return resp.status, dict(resp.getheaders()), body
