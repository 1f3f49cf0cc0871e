"""Benchmark 5: the control socket at different library sizes.

Each size gets its own child process (spawn) that fills a fresh state with N recordings the
way a pass would leave it (20 per streamer, 20 categories; users, games, slugs, one cached
profile per streamer, box art per category, artwork and an NFO per recording, 1 % failed
artworks waiting for a retry, one tvshow.nfo per streamer; one transaction, through
`svimaged.state.State`), then serves the real `ControlServer` + `DaemonApi` over an
`Pipeline` on a Unix socket. No tree walk, no watcher: only the control path is measured.

- Stats: median latency of `GET /api/images/stats` on a kept-alive connection; the sizes
  are measured in interleaved rounds (20 requests per size per round), so drift on the
  shared host hits all sizes alike. Target: ratio against the 1,000-recording server.
- 304s: 1,000 image GETs with `If-None-Match` (the ETag of a first GET) must all answer
  304 without reading the file. Evidence: the serving process's `rchar` in /proc/<pid>/io
  (bytes through read()/pread()/sendfile, page-cache hits included) before and after, next
  to the same 1,000 GETs without the header, whose bodies must show up in `rchar`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import statistics
import time
from pathlib import Path
from typing import TextIO

from bench.common import (
    FAKE_REPLY_TIMEOUT,
    BenchError,
    Row,
    UnixHTTPConnection,
    bench_config,
    proc_io,
    ratio,
    scratch,
)
from svimaged.control.server import ControlServer
from svimaged.control.service import DaemonApi
from svimaged.core.clock import SystemClock
from svimaged.core.model import (
    FolderRow,
    ImageKind,
    Origin,
    RecordingRow,
    TwitchGame,
    TwitchUser,
)
from svimaged.core.names import artwork_rel, category_rel, profile_rel
from svimaged.demo.pictures import make_jpeg
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources
from svimaged.state import State

SIZES_DEFAULT = (1_000, 20_000)
SIZES_FULL = (1_000, 20_000, 100_000)
PER_STREAMER = 20
CATEGORIES = 20
REQUESTS = 200
ROUND = 20
WARMUP = 20
IMAGE_GETS = 1_000
SERVED_IMAGES = 10
TARGET_20K = 2.0  # issue 5
TARGET_100K = 1.5  # issue 7
FILL_TIMEOUT = 600.0


# -- the serving child ----------------------------------------------------------------------


def fill_state(state: State, recordings: int, now: float) -> None:
    """Rows for `recordings` recordings as a first pass would leave them, one transaction."""
    streamers = max(1, recordings // PER_STREAMER)
    categories = [f"Bench Category {i:03d}" for i in range(CATEGORIES)]
    cdn = "https://static-cdn.jtvnw.net"
    with state.transaction():
        for i, name in enumerate(categories):
            slug = f"bench_category_{i:03d}"
            state.twitch.upsert_game(TwitchGame(str(700_000 + i), name, f"{cdn}/box/{i}.jpg"), now)
            state.twitch.assign_slug(name, slug, str(700_000 + i))
            _cached(state, category_rel(slug), ImageKind.CATEGORY, name, now)
        for s in range(streamers):
            uid, login = str(20_000_000 + s), f"streamer_{s:05d}"
            user = TwitchUser(uid, login, f"Streamer {s:05d}", "", f"{cdn}/p/{uid}.png", None)
            state.twitch.upsert_user(user, now)
            _cached(state, profile_rel(uid), ImageKind.PROFILE, uid, now)
            state.folders.upsert(FolderRow(user.display_name, "1.1", uid, login), now)
            state.outputs.record_nfos(
                [(f"/rec/{user.display_name}/tvshow.nfo", "written", "0" * 64, now, None)]
            )
        for n in range(recordings):
            uid, folder = str(20_000_000 + n % streamers), f"Streamer {n % streamers:05d}"
            sid, rel = str(50_000_000_000 + n), f"{folder}/Season 2026-01/rec {n}.mp4"
            art = artwork_rel(uid, sid)
            if n % 100 == 99:  # 1 %: failed, retry due in an hour
                state.images.record_failure(
                    art,
                    ImageKind.ARTWORK,
                    f"{uid}/{sid}",
                    origin=Origin.URL,
                    source=f"{cdn}/a/{sid}.jpg",
                    error="HTTP 404",
                    status=404,
                    at=now,
                    next_retry=now + 3600,
                )
            else:
                _cached(state, art, ImageKind.ARTWORK, f"{uid}/{sid}", now)
            category = categories[n % CATEGORIES]
            row = RecordingRow(rel, folder, 1, 1, uid, sid, category, art, "1.1,-,-,-,-")
            state.recordings.upsert(row, now)
            state.outputs.record_nfos([(f"/rec/{rel[:-4]}.nfo", "written", "0" * 64, now, None)])
        state.meta.set("last_sync", "2026-01-05T12:00:00Z")


def _cached(state: State, rel: str, kind: ImageKind, key: str, now: float) -> None:
    state.images.record_success(
        rel,
        kind,
        key,
        origin=Origin.URL,
        source=f"https://static-cdn.jtvnw.net/{rel}",
        etag='"e"',
        last_modified=None,
        sha256="0" * 64,
        size=4096,
        at=now,
    )


def _serve_main(conn: multiprocessing.connection.Connection, root: str, recordings: int) -> None:
    """Child process: fill a state, serve the control socket until told to stop."""
    base = Path(root)
    profiles = base / "recordings" / ".images" / "profiles"
    profiles.mkdir(parents=True)
    for i in range(SERVED_IMAGES):
        (profiles / f"profile_avatar_{20_000_000 + i}.jpg").write_bytes(make_jpeg(300, 300, seed=i))
    config = bench_config(base, None)
    resources = build_resources(config, SystemClock())
    start = time.perf_counter()
    fill_state(resources.state, recordings, time.time())
    filled = time.perf_counter() - start
    engine = Pipeline(resources)
    api = DaemonApi(engine, enqueue=lambda _folder: None)
    server = ControlServer(api, socket_path=config.control.socket)
    server.start()
    try:
        conn.send(("ready", str(config.control.socket), filled))
        conn.recv()  # anything (or EOF) means stop
    except EOFError:
        pass
    finally:
        server.stop(timeout=2.0)
        engine.close()


class ServerProcess:
    """One control server over a filled state, in a child process."""

    def __init__(self, root: Path, recordings: int) -> None:
        self.recordings = recordings
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_main, args=(child, str(root), recordings))
        self._proc.daemon = True
        self._proc.start()
        child.close()
        if not self._conn.poll(FILL_TIMEOUT + FAKE_REPLY_TIMEOUT):
            self.close()
            raise BenchError(f"control server for {recordings:,} recordings did not start")
        try:
            _status, socket_path, self.fill_seconds = self._conn.recv()
        except EOFError as exc:
            self.close()
            raise BenchError(f"control server for {recordings:,} recordings died") from exc
        self.socket = Path(socket_path)

    @property
    def pid(self) -> int:
        assert self._proc.pid is not None
        return self._proc.pid

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._conn.close()


# -- the measurements -----------------------------------------------------------------------


def stats_latencies(servers: list[ServerProcess]) -> dict[int, list[float]]:
    """`REQUESTS` timed stats GETs per server, in interleaved rounds; seconds each."""
    conns = {s.recordings: UnixHTTPConnection(s.socket) for s in servers}
    times: dict[int, list[float]] = {n: [] for n in conns}
    try:
        for conn in conns.values():
            for _ in range(WARMUP):
                _check(conn.fetch("/api/images/stats"), 200)
        for _ in range(REQUESTS // ROUND):
            for n, conn in conns.items():
                for _ in range(ROUND):
                    start = time.perf_counter()
                    status, _headers, _body = conn.fetch("/api/images/stats")
                    times[n].append(time.perf_counter() - start)
                    if status != 200:
                        raise BenchError(f"stats answered {status} at {n:,} recordings")
    finally:
        for conn in conns.values():
            conn.close()
    return times


def _check(answer: tuple[int, dict[str, str], bytes], status: int) -> dict[str, str]:
    if answer[0] != status:
        raise BenchError(f"expected {status}, got {answer[0]}: {answer[2][:200]!r}")
    return answer[1]


def image_gets(server: ServerProcess) -> dict[str, int]:
    """1,000 conditional GETs (304) and 1,000 plain GETs (200), with the server's rchar
    before and after each batch."""
    conn = UnixHTTPConnection(server.socket)
    targets = [
        f"/data/images/profiles/profile_avatar_{20_000_000 + i}.jpg" for i in range(SERVED_IMAGES)
    ]
    try:
        etags = {t: _check(conn.fetch(t), 200)["ETag"] for t in targets}
        sizes = [len(conn.fetch(t)[2]) for t in targets]
        before = proc_io(server.pid)["rchar"]
        not_modified = 0
        for i in range(IMAGE_GETS):
            target = targets[i % len(targets)]
            status, _h, body = conn.fetch(target, {"If-None-Match": etags[target]})
            not_modified += status == 304 and not body
        middle = proc_io(server.pid)["rchar"]
        plain = sum(len(conn.fetch(targets[i % len(targets)])[2]) for i in range(IMAGE_GETS))
        after = proc_io(server.pid)["rchar"]
    finally:
        conn.close()
    return {
        "not_modified": not_modified,
        "rchar_304": middle - before,
        "rchar_200": after - middle,
        "bytes_200": plain,
        "image_size": min(sizes),
    }


def run(sizes: tuple[int, ...], out: TextIO) -> list[Row]:
    """Stats latency at every size and the 304 check; prints progress to `out`."""
    with scratch() as tmp:
        servers: list[ServerProcess] = []
        try:
            for n in sizes:
                out.write(f"[control] filling a state with {n:,} recordings ...\n")
                servers.append(ServerProcess(Path(tmp) / f"n{n}", n))
                out.write(f"[control] filled in {servers[-1].fill_seconds:.1f} s\n")
            out.write(f"[control] {REQUESTS} stats GETs per size ...\n")
            times = stats_latencies(servers)
            out.write(f"[control] {IMAGE_GETS} conditional image GETs ...\n")
            gets = image_gets(servers[0])
        finally:
            for server in servers:
                server.close()
    return _stats_rows(times) + _image_rows(gets)


def _stats_rows(times: dict[int, list[float]]) -> list[Row]:
    medians = {n: statistics.median(ts) for n, ts in times.items()}
    small = min(medians)
    base = f"median at {small:,} rec {medians[small] * 1000:.2f} ms"
    rows: list[Row] = []
    for n, median in medians.items():
        if n == small:
            continue
        target, issue = (TARGET_100K, "issue 7") if n >= 100_000 else (TARGET_20K, "issue 5")
        r = ratio(median, medians[small])
        rows.append(
            Row(
                f"stats latency at {n:,} rec ({issue})",
                base,
                f"<= {target:g}x",
                f"median {median * 1000:.2f} ms = {r:.2f}x",
                r <= target,
            )
        )
    return rows


def _image_rows(g: dict[str, int]) -> list[Row]:
    limit = g["image_size"]
    return [
        Row(
            f"{IMAGE_GETS:,} image GETs with If-None-Match",
            f"same GETs without it: rchar +{g['rchar_200']:,} B for {g['bytes_200']:,} B of bodies",
            f"{IMAGE_GETS} x 304, server rchar < one image ({limit:,} B)",
            f"{g['not_modified']} x 304, rchar +{g['rchar_304']:,} B",
            g["not_modified"] == IMAGE_GETS and g["rchar_304"] < limit,
        )
    ]
