"""Benchmark 5b: the control server itself, this tree against earlier versions (git refs).

Each version runs in its own interpreter (`svimaged` from PYTHONPATH: this tree, or the
`svimaged/` folder of a git ref exported with `git archive`) over a fixed stats object and
one 300x300 JPEG, with its defaults (32 connections, 10 s request timeout), on a Unix socket
and TCP on 127.0.0.1. Only the constructor `ControlServer(api, socket_path=, listen=)` is
assumed, so any version since the control socket existed can be measured. The first ref is
the baseline ("before"); further refs are candidates, compared with this tree.

- Load: 4 and 8 client threads, each on its own kept-alive Unix connection, alternating
  `GET /api/images/stats` and an image GET; 10 rounds of 250 requests per client,
  interleaved across the versions, so drift on the shared host hits all alike. p50/p95 of
  every request, requests per second over the rounds' wall time.
- Slow-client flood: 200 TCP clients send one header line every 2 s and never finish (a
  client the server hangs up on comes back at once), while `/healthz` is asked on the Unix
  socket every 0.1 s with a fresh connection, as a health check does, for 12 s.
- Huge headers: 20 requests with a 1 MiB header line on the Unix socket one after another,
  then 20 at once: the time to the status line and the growth of the server's peak RSS.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import TextIO

from bench.common import MIB, BenchError, Row, percentile, proc_status, ratio, scratch
from svimaged.demo.pictures import make_jpeg

#: The hand-written server before the hardening: the "before" of docs/performance.md.
BASELINE_REF = "d62b609"
THIS_TREE = "this tree"
LOAD_CLIENTS = (4, 8)
LOAD_ROUNDS = 10
LOAD_PER_CLIENT = 250  # requests per client per round
FLOOD_CLIENTS = 200
FLOOD_LINE_EVERY = 2.0
FLOOD_SECONDS = 12.0  # longer than the default request_timeout (10 s)
PROBE_EVERY = 0.1
PROBE_TIMEOUT = 5.0
HUGE_HEADER = 1024 * 1024
HUGE_REQUESTS = 20
STUB_IMAGE = "/data/images/profiles/profile_avatar_1.jpg"
STATS_GET = b"GET /api/images/stats HTTP/1.1\r\nHost: localhost\r\n\r\n"
IMAGE_GET = f"GET {STUB_IMAGE} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
HEALTHZ_GET = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

# Runs in a fresh interpreter whose `svimaged` comes from PYTHONPATH (this tree or a git ref),
# so only the server's own constructor is assumed: ControlServer(api, socket_path=, listen=).
_STUB_CHILD = """
import json, os, sys
from pathlib import Path
from svimaged.control.server import ControlServer
root, sock = Path(sys.argv[1]), Path(sys.argv[2])
STATS = {"profiles": {"cached_profiles": 1000, "failed_downloads": 0},
         "categories": {"cached_categories": 20, "failed_downloads": 0},
         "artwork": {"cached_artworks": 19800, "streamers_with_artwork": 1000,
                     "failed_downloads": 200},
         "total_cached": 20820, "total_failed": 200, "bytes_on_disk": 85000000,
         "queue": {"pending": 0, "retrying": 200},
         "nfo": {"written": 21000, "up_to_date": 0, "errors": 0},
         "last_sync": "2026-01-05T12:00:00Z"}
class Api:
    images_root = root
    version = "bench"
    def shutting_down(self): return False
    def stats(self): return json.loads(json.dumps(STATS))
server = ControlServer(Api(), socket_path=sock, listen="127.0.0.1:0")
server.start()
print(json.dumps({"tcp": server.tcp_address}), flush=True)
sys.stdin.read()
server.stop(timeout=2.0)
"""


class StubServer:
    """The control server of `ref` (a git ref, or this tree) over a fixed stats object and
    one image, in a child interpreter; Unix socket plus TCP on 127.0.0.1."""

    def __init__(self, ref: str, base: Path) -> None:
        self.ref = ref
        base.mkdir(parents=True)
        tree = Path(__file__).resolve().parent.parent if ref == THIS_TREE else _export(ref, base)
        images = base / "images" / "profiles"
        images.mkdir(parents=True)
        (images / "profile_avatar_1.jpg").write_bytes(make_jpeg(300, 300, seed=1))
        self.socket = base / "c.sock"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _STUB_CHILD, str(base / "images"), str(self.socket)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=base, env=env, text=True,
        )  # fmt: skip
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.close()
            raise BenchError(f"control server of {ref} did not start: {err[-400:]}")
        host, port = json.loads(line)["tcp"]
        self.tcp = (str(host), int(port))

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)


def _export(ref: str, base: Path) -> Path:
    """`svimaged/` as of git ref `ref`, unpacked below `base`."""
    repo = Path(__file__).resolve().parent.parent
    try:
        archive = subprocess.run(
            ["git", "archive", ref, "svimaged"], cwd=repo, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"cannot export svimaged at {ref} (needs a git checkout): {exc}") from exc
    tree = base / "tree"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _unix(path: Path, timeout: float = PROBE_TIMEOUT) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(path))
    return sock


def _exchange(sock: socket.socket, request: bytes, buf: bytearray) -> int:
    """Send `request`, read one response (Content-Length framed); leftovers stay in `buf`."""
    sock.sendall(request)
    while (end := buf.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("the server hung up mid-answer")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1")
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    del buf[: end + 4]
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("the server hung up mid-body")
        buf += chunk
    del buf[:length]
    return int(head.split(" ", 2)[1])


def load_round(server: StubServer, clients: int, out: list[float]) -> float:
    """`clients` threads, each on its own kept-alive connection, alternating stats and image
    GETs; appends each latency to `out`, returns the round's wall time."""
    errors: list[str] = []

    def client() -> None:
        try:
            with _unix(server.socket) as sock:
                buf = bytearray()
                times = []
                for i in range(LOAD_PER_CLIENT):
                    start = time.perf_counter()
                    status = _exchange(sock, STATS_GET if i % 2 else IMAGE_GET, buf)
                    times.append(time.perf_counter() - start)
                    if status != 200:
                        errors.append(f"status {status}")
                out.extend(times)
        except (OSError, BenchError) as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(f"{server.ref}: load round failed: {errors[0]}")
    return time.perf_counter() - start


def measure_load(servers: list[StubServer], clients: int) -> dict[str, tuple[float, float, float]]:
    """(p50 s, p95 s, requests/s) per server; rounds interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {s.ref: [] for s in servers}
    wall = dict.fromkeys(times, 0.0)
    for server in servers:  # warm-up
        load_round(server, clients, [])
    for _ in range(LOAD_ROUNDS):
        for server in servers:
            wall[server.ref] += load_round(server, clients, times[server.ref])
    return {
        ref: (percentile(ts, 50), percentile(ts, 95), len(ts) / wall[ref])
        for ref, ts in times.items()
    }


class SlowFlood:
    """`FLOOD_CLIENTS` TCP clients that each send one header line every `FLOOD_LINE_EVERY`
    seconds and never finish a request; a client the server hangs up on (or answers) comes
    back at once. Runs on one thread until `stop()`."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._socks: list[socket.socket | None] = [None] * FLOOD_CLIENTS

    def __enter__(self) -> SlowFlood:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self._socks:
            if sock is not None:
                sock.close()

    def _open(self, i: int) -> None:
        try:
            sock = socket.create_connection(self.address, timeout=1.0)
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {self.address[0]}\r\n".encode())
            sock.setblocking(False)
            self._socks[i] = sock
        except OSError:
            self._socks[i] = None
            self.dropped += 1

    def _tick(self, line: int) -> None:
        for i, sock in enumerate(self._socks):
            if sock is not None:
                try:
                    sock.recv(4096, socket.MSG_PEEK)  # returns: an answer (503) or EOF
                    sock.close()
                    self._socks[i] = sock = None
                    self.dropped += 1
                except BlockingIOError:
                    with contextlib.suppress(OSError):
                        sock.send(f"X-Slow-{line}: x\r\n".encode())
                except OSError:
                    sock.close()
                    self._socks[i] = sock = None
                    self.dropped += 1
            if sock is None:
                self._open(i)

    def _run(self) -> None:
        line = 0
        while not self._stop.is_set():
            self._tick(line)
            line += 1
            self._stop.wait(FLOOD_LINE_EVERY)


def healthz_during_flood(server: StubServer) -> dict[str, float]:
    """/healthz on the Unix socket every `PROBE_EVERY` s while `SlowFlood` runs on TCP."""
    latencies: list[float] = []
    probes = bad = hung = 0
    with SlowFlood(server.tcp) as flood:
        deadline = time.monotonic() + FLOOD_SECONDS
        time.sleep(FLOOD_LINE_EVERY)  # let the flood take its connections first
        while time.monotonic() < deadline:
            probes += 1
            start = time.perf_counter()
            try:
                with _unix(server.socket) as sock:
                    status = _exchange(sock, HEALTHZ_GET, bytearray())
                latencies.append(time.perf_counter() - start)
                bad += status != 200
            except TimeoutError:
                hung += 1
            except (OSError, BenchError):  # refused: reset, or closed without an answer
                bad += 1
            time.sleep(PROBE_EVERY)
        dropped = flood.dropped
    return {
        "probes": probes,
        "bad": bad,
        "hung": hung,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "max": max(latencies, default=float("inf")),
        "dropped": dropped,
    }


def huge_headers(server: StubServer) -> dict[str, float]:
    """`HUGE_REQUESTS` requests with a 1 MiB header on the Unix socket, one after another and
    then all at once; the time to the status line and the server's peak RSS (VmHWM) growth."""
    data = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * HUGE_HEADER + b"\r\n\r\n"
    hwm = proc_status(server.pid, "VmHWM")
    times: list[float] = []
    statuses: list[int] = []

    def one() -> None:
        start = time.perf_counter()
        with _unix(server.socket) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            head = sock.recv(64)
        times.append(time.perf_counter() - start)
        statuses.append(int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0)

    for _ in range(HUGE_REQUESTS):
        one()
    threads = [threading.Thread(target=one) for _ in range(HUGE_REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "refused": sum(s in (400, 413, 431) for s in statuses),
        "p50": percentile(times, 50),
        "max": max(times),
        "hwm_growth": proc_status(server.pid, "VmHWM") - hwm,
    }


def compare(refs: tuple[str, ...], out: TextIO) -> list[Row]:
    """This tree's control server against `refs[0]` (the baseline) and any further refs
    (candidates, compared with this tree): load, slow-client flood, huge headers."""
    with scratch() as tmp:
        servers: list[StubServer] = []
        try:
            for i, ref in enumerate((refs[0], THIS_TREE, *refs[1:])):
                out.write(f"[control] starting the control server of {ref} ...\n")
                servers.append(StubServer(ref, Path(tmp) / f"s{i}"))
            out.write(f"[control] {HUGE_REQUESTS} x 2 requests with a 1 MiB header ...\n")
            huge = {s.ref: huge_headers(s) for s in servers}
            load = {}
            for clients in LOAD_CLIENTS:
                out.write(f"[control] {clients} clients, stats + image GETs, interleaved ...\n")
                load[clients] = measure_load(servers, clients)
            flood = {}
            for server in servers:
                out.write(f"[control] {FLOOD_CLIENTS} slow TCP clients vs {server.ref} ...\n")
                flood[server.ref] = healthz_during_flood(server)
        finally:
            for server in servers:
                server.close()
    rows: list[Row] = []
    for ref in (THIS_TREE, *refs[1:]):
        base = refs[0] if ref == THIS_TREE else THIS_TREE
        rows += [_load_row(ref, base, n, load[n]) for n in LOAD_CLIENTS]
        rows.append(_flood_row(ref, base, flood))
        rows.append(_huge_row(ref, base, huge))
    return rows


def _name(ref: str) -> str:
    return ref if ref == THIS_TREE else f"@{ref}"


def _load_row(ref: str, base: str, clients: int, got: dict[str, tuple[float, float, float]]) -> Row:
    (b50, b95, brps), (m50, m95, mrps) = got[base], got[ref]
    ok = m50 <= 1.2 * b50 and m95 <= 1.2 * b95 and mrps >= brps / 1.2
    return Row(
        f"{_name(ref)}: {clients} clients, stats+image GETs on the socket",
        f"{_name(base)}: p50 {b50 * 1000:.2f} ms, p95 {b95 * 1000:.2f} ms, {brps:,.0f} req/s",
        "p50, p95 <= 1.2x; req/s >= 1/1.2",
        f"p50 {m50 * 1000:.2f} ms ({ratio(m50, b50):.2f}x), p95 {m95 * 1000:.2f} ms "
        f"({ratio(m95, b95):.2f}x), {mrps:,.0f} req/s ({ratio(mrps, brps):.2f}x)",
        ok,
    )


def _flood_text(f: dict[str, float]) -> str:
    return (
        f"{f['probes'] - f['bad'] - f['hung']:.0f}/{f['probes']:.0f} x 200, {f['bad']:.0f} errors,"
        f" {f['hung']:.0f} hung; p50 {f['p50'] * 1000:.1f} ms, p95 {f['p95'] * 1000:.1f} ms,"
        f" max {f['max'] * 1000:.0f} ms; flood clients dropped {f['dropped']:.0f}"
    )


def _flood_row(ref: str, base: str, flood: dict[str, dict[str, float]]) -> Row:
    got = flood[ref]
    return Row(
        f"{_name(ref)}: /healthz on the socket, {FLOOD_CLIENTS} slow TCP clients",
        f"{_name(base)}: {_flood_text(flood[base])}",
        "all 200, none hung, p95 <= 100 ms",
        _flood_text(got),
        got["bad"] == 0 and got["hung"] == 0 and got["p95"] <= 0.1,
    )


def _huge_text(h: dict[str, float]) -> str:
    return (
        f"{h['refused']:.0f}/{2 * HUGE_REQUESTS} refused, p50 {h['p50'] * 1000:.1f} ms, "
        f"max {h['max'] * 1000:.0f} ms, VmHWM +{h['hwm_growth'] / MIB:.1f} MiB"
    )


def _huge_row(ref: str, base: str, huge: dict[str, dict[str, float]]) -> Row:
    got = huge[ref]
    return Row(
        f"{_name(ref)}: 1 MiB request header, {HUGE_REQUESTS} serial + {HUGE_REQUESTS} at once",
        f"{_name(base)}: {_huge_text(huge[base])}",
        "all refused, max <= 1 s, VmHWM +< 16 MiB",
        _huge_text(got),
        got["refused"] == 2 * HUGE_REQUESTS and got["max"] <= 1.0 and got["hwm_growth"] < 16 * MIB,
    )
