"""The daemon: workers with fakes in-process, the lifecycle in a real subprocess (signals,
sd_notify on a socket the test owns, SIGTERM mid-download, --daemonize with a pid file).

Subprocess waits poll a condition until a deadline; nothing waits a fixed time."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from svimaged.cli.main import main
from svimaged.core.clock import FakeClock
from svimaged.core.errors import ShuttingDownError, SvimagedError
from svimaged.daemon.lifecycle import Daemon, WorkerPool, handle, summary_fields
from svimaged.daemon.pidfile import PidFile
from svimaged.daemon.queue import FolderWork, Job, WorkQueue
from svimaged.daemon.sdnotify import Notifier
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.demo.sample_tree import build_demo_tree

EXIT_DEADLINE = 10.0

# ------------------------------------------------------------------------------ fakes


class FakeEngine:
    """Records what the workers asked for; folders named `bad*` raise."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._cond = threading.Condition()

    def _record(self, call: str) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def wait_for(self, calls: set[str], timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: calls <= set(self.calls), timeout)

    def process_folder(self, folder: str) -> object:
        self._record(f"folder:{folder}")
        if folder.startswith("bad"):
            raise RuntimeError(f"engine exploded on {folder}")
        return None

    def rescan(self, enqueue: Callable[[str], None]) -> int:
        self._record("rescan")
        enqueue("found-by-rescan")
        return 1

    def retry_due(self, enqueue: Callable[[str], None]) -> object:
        self._record("retry")
        enqueue("retried")
        return None

    def refresh_stale(self, enqueue: Callable[[str], None]) -> object:
        self._record("refresh")
        raise ShuttingDownError("fetcher closed")

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        self._record(f"cleanup:{dry_run}")
        return {"total_cleaned": 0}


class TouchQueue:
    """A QueueLike that only records touches (handle() never calls get/done)."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def get(self, timeout: float | None = None) -> None:
        return None

    def done(self, work: object) -> None:
        pass

    def touch(self, folder: str) -> None:
        self.touched.append(folder)


# ------------------------------------------------------------------------------ unit tests


def test_handle_dispatches_every_kind_of_work() -> None:
    engine, queue = FakeEngine(), TouchQueue()
    handle(engine, queue, FolderWork("alice"))
    handle(engine, queue, Job.RESCAN)
    handle(engine, queue, Job.RETRY)
    handle(engine, queue, Job.CLEANUP)
    assert engine.calls == ["folder:alice", "rescan", "retry", "cleanup:False"]
    assert queue.touched == ["found-by-rescan", "retried"]


def test_handle_logs_failures_with_traceback_and_key(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeEngine()
    with caplog.at_level(logging.INFO, logger="svimaged.daemon.lifecycle"):
        handle(engine, TouchQueue(), FolderWork("bad one"))
        handle(engine, TouchQueue(), Job.REFRESH)
    failed = [r for r in caplog.records if "work failed" in r.getMessage()]
    assert len(failed) == 1
    assert 'folder="bad one"' in failed[0].getMessage()
    assert failed[0].exc_info is not None and "exploded" in str(failed[0].exc_info[1])
    abandoned = [r for r in caplog.records if "work abandoned" in r.getMessage()]
    assert len(abandoned) == 1 and "job=refresh" in abandoned[0].getMessage()
    assert abandoned[0].levelno == logging.INFO


def test_workers_survive_exceptions_and_keep_working(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeEngine()
    queue = WorkQueue(clock=FakeClock(), settle_seconds=0, is_known=lambda _f: False)
    pool = WorkerPool(engine, queue, count=2)
    with caplog.at_level(logging.ERROR, logger="svimaged.daemon.lifecycle"):
        pool.start()
        for folder in ("bad-1", "bad-2", "bad-3", "good-1"):
            queue.touch(folder)
        queue.put(Job.RESCAN)
        want = {"folder:bad-1", "folder:bad-2", "folder:bad-3", "folder:good-1", "rescan"}
        assert engine.wait_for(want | {"folder:found-by-rescan"})
        assert pool.alive() == 2
        queue.touch("good-2")  # still taken after three failures
        assert engine.wait_for({"folder:good-2"})
    pool.stop()
    queue.close()
    assert pool.join(time.monotonic() + 3.0) == 0
    assert queue.in_progress() == 0  # done() was called for the failed folders too
    failed = sorted(r.getMessage() for r in caplog.records if "work failed" in r.getMessage())
    assert failed == [f"work failed folder=bad-{n}" for n in (1, 2, 3)]


def test_stopped_pool_does_not_start_again() -> None:
    queue = WorkQueue(clock=FakeClock(), settle_seconds=0)
    pool = WorkerPool(FakeEngine(), queue, count=3)
    pool.stop()
    pool.start()
    assert pool.alive() == 0


def test_summary_fields_from_stats() -> None:
    stats = {"total_cached": 12, "total_failed": 2, "queue": {"pending": 1, "retrying": 2}}
    assert summary_fields(stats, 5) == {"cached": 12, "failed": 2, "queue": 5, "retrying": 2}
    assert summary_fields({}, 0) == {"cached": 0, "failed": 0, "queue": 0, "retrying": 0}


def test_pid_file_lock_refuses_second_holder_and_takes_over_stale_file(tmp_path: Path) -> None:
    path = tmp_path / "svimaged.pid"
    path.write_text("999999\n")  # left by a crashed daemon: not locked
    first = PidFile(path)
    with first:
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(SvimagedError, match=f"pid file {path} is locked") as exc:
            PidFile(path).acquire()
        assert exc.value.exit_code == 1
        assert str(os.getpid()) in str(exc.value)
    assert not path.exists()
    with PidFile(path):  # free again
        assert path.exists()


def test_pid_file_in_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SvimagedError, match="cannot open"):
        PidFile(tmp_path / "no" / "such" / "dir.pid").acquire()


def test_run_with_bad_config_exits_2_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"recordings": str(tmp_path / "missing")}), encoding="utf-8")
    threads = threading.active_count()
    assert main(["run", "--config", str(config)]) == 2
    assert f"recordings: {tmp_path / 'missing'} is not a directory" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err
    assert threading.active_count() == threads


def test_daemon_in_a_thread_reloads_and_stops_on_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Off the main thread no signal handler is installed; request_* drive the loop."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(local_config(tmp_path)), encoding="utf-8")
    daemon = Daemon(config, {}, notifier=Notifier({}))
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()))
    with caplog.at_level(logging.INFO, logger="svimaged.daemon.lifecycle"):
        thread.start()
        wait_for(lambda: "daemon ready" in caplog.text, "the daemon to be ready")
        daemon.request_reload()
        wait_for(lambda: "config reloaded" in caplog.text, "the reload")
        daemon.request_stop()
        thread.join(EXIT_DEADLINE)
    assert not thread.is_alive()
    assert codes == [0]
    assert caplog.text.index("stopping") > caplog.text.index("config reloaded")


# ------------------------------------------------------------------------------ subprocess


def daemon_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SVIMAGED_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class DaemonProcess:
    """`python -m svimaged run` in a subprocess, its stderr (the log) in a file."""

    def __init__(self, tmp_path: Path, config: Mapping[str, Any], env: dict[str, str]) -> None:
        self.config_path = tmp_path / "config.yaml"
        self.write_config(config)
        self.log_path = tmp_path / "daemon.log"
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "svimaged", "run", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                env=env,
                cwd=tmp_path,
            )

    def write_config(self, data: Mapping[str, Any] | str) -> None:
        text = data if isinstance(data, str) else yaml.safe_dump(dict(data))
        self.config_path.write_text(text, encoding="utf-8")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, timeout: float = 8.0) -> None:
        try:
            wait_for(lambda: needle in self.log() or self.proc.poll() is not None, needle, timeout)
        except AssertionError:
            raise AssertionError(f"no {needle!r} in the log:\n{self.log()}") from None
        assert needle in self.log(), f"daemon exited ({self.proc.returncode}):\n{self.log()}"

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send `signum`; returns (exit code, seconds it took)."""
        start = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon did not exit in time:\n{self.log()}") from None
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config: Mapping[str, Any], env: dict[str, str] | None = None) -> DaemonProcess:
        proc = DaemonProcess(tmp_path, config, env if env is not None else daemon_env())
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def local_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """No credentials, nothing online: a tree in tmp_path, quick settling."""
    rec = tmp_path / "rec"
    rec.mkdir(exist_ok=True)
    return {
        "recordings": str(rec),
        "state_dir": str(tmp_path / "state"),
        "log_level": "info",
        "watch": {"settle_seconds": 0.2, "mode": "inotify"},
        **extra,
    }


def add_finished_recording(rec: Path, folder: str, login: str) -> Path:
    video = rec / folder / "Season 2026-11" / f"{login} - S202611E01 - First stream.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"not really a video")
    old = time.time() - 3600
    os.utime(video, (old, old))
    return video.with_suffix(".nfo")


def test_sighup_with_bad_config_keeps_the_old_one(
    tmp_path: Path, spawn: Callable[..., DaemonProcess]
) -> None:
    config = local_config(tmp_path)
    daemon = spawn(config)
    daemon.wait_log("daemon ready")
    daemon.write_config("recordings: [not, a, path]\nbogus_key: 1\n")
    daemon.send(signal.SIGHUP)
    daemon.wait_log("reload refused")
    log = daemon.log()
    refused = [line for line in log.splitlines() if "reload refused" in line]
    assert len(refused) >= 2, log  # every problem, one line each
    assert all(line.startswith("ERROR ") for line in refused)
    assert any("bogus_key" in line for line in refused)
    assert "config reloaded" not in log
    assert daemon.proc.poll() is None
    # Still working with the old config: a new recording gets its NFO.
    nfo = add_finished_recording(Path(config["recordings"]), "Alice Plays", "alice_plays")
    wait_for(nfo.exists, "the NFO of a recording added after the refused reload")
    code, seconds = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.log()
    assert seconds < EXIT_DEADLINE
    assert "INFO svimaged.daemon.lifecycle: stopped" in daemon.log()


def recv_until(
    sock: socket.socket, wanted: Callable[[str], bool], seen: list[str], timeout: float = 8.0
) -> str:
    """The next datagram that `wanted` accepts; every datagram read is added to `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no wanted notify message; got {seen}")
        sock.settimeout(remaining)
        try:
            message = sock.recv(4096).decode("utf-8")
        except TimeoutError:
            continue
        seen.append(message)
        if wanted(message):
            return message


def test_sd_notify_ready_reload_watchdog_stopping(
    tmp_path: Path, spawn: Callable[..., DaemonProcess]
) -> None:
    sock_path = tmp_path / "n.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    seen: list[str] = []
    try:
        config = local_config(tmp_path)
        env = daemon_env(NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="1000000")
        daemon = spawn(config, env)
        ready = recv_until(sock, lambda m: m.startswith("READY=1"), seen)
        assert ready.startswith("READY=1\nSTATUS=watching cached=0 failed=0 queue=")
        recv_until(sock, lambda m: m == "WATCHDOG=1", seen)  # every 0.5 s
        daemon.write_config(local_config(tmp_path, log_level="debug"))
        daemon.send(signal.SIGHUP)
        reloading = recv_until(sock, lambda m: m.startswith("RELOADING=1"), seen)
        assert reloading.split("\n")[1].startswith("MONOTONIC_USEC=")
        recv_until(sock, lambda m: m.startswith("READY=1"), seen)
        daemon.wait_log("config reloaded log_level=debug")
        # the new level applies
        assert "DEBUG svimaged.daemon.scheduler: scheduler started" in daemon.log()
        daemon.send(signal.SIGINT)
        recv_until(sock, lambda m: m == "STOPPING=1", seen)
        assert daemon.proc.wait(EXIT_DEADLINE) == 0, daemon.log()
    finally:
        sock.close()
    ordered = [m.split("\n")[0] for m in seen if m != "WATCHDOG=1" and "STATUS" not in m[:6]]
    assert ordered == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]


class SlowCdn(FakeTwitch):
    """A FakeTwitch whose image CDN takes `delay` seconds per image (Helix stays fast)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.cdn_started = threading.Event()

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Any:
        if target.startswith("/cdn/"):
            self.cdn_started.set()
            time.sleep(self.delay)
        return super()._handle(method, target, headers, body)


def test_sigterm_mid_download_leaves_no_partial_file(
    tmp_path: Path, spawn: Callable[..., DaemonProcess]
) -> None:
    rec, state = tmp_path / "rec", tmp_path / "state"
    fake = SlowCdn(delay=2.0)
    with fake:
        sample_library(fake)
        build_demo_tree(rec, fake, now=time.time())
        daemon = spawn({**fake_config_data(fake, rec, state), "log_level": "info"})
        assert fake.cdn_started.wait(12.0), daemon.log()
        code, seconds = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.log()
    assert seconds < EXIT_DEADLINE
    leftovers = [p for p in rec.rglob("*") if ".svimaged-tmp-" in p.name]
    assert leftovers == []
    for path in (rec / ".images").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", path
            with Image.open(path) as image:
                image.load()


def test_daemonize_with_pidfile_refuses_a_second_daemon(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(local_config(tmp_path)), encoding="utf-8")
    pidfile = tmp_path / "svimaged.pid"
    log_path = tmp_path / "daemon.log"
    command = [
        sys.executable, "-m", "svimaged", "run", "--daemonize",
        "--pidfile", str(pidfile), "--config", str(config),
    ]  # fmt: skip
    pid = 0
    try:
        with log_path.open("ab") as log_file:
            first = subprocess.run(
                command, stdin=subprocess.DEVNULL, stderr=log_file, env=daemon_env(),
                cwd=tmp_path, timeout=EXIT_DEADLINE, check=False,
            )  # fmt: skip
        assert first.returncode == 0
        wait_for(lambda: "daemon ready" in log_path.read_text(), "the daemon to be ready")
        pid = int(pidfile.read_text())
        assert pid != os.getpid() and _alive(pid)
        second = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            env=daemon_env(), cwd=tmp_path, timeout=EXIT_DEADLINE, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert f"pid file {pidfile} is locked" in second.stderr
        assert f"pid {pid}" in second.stderr
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), "the daemonized process to exit", EXIT_DEADLINE)
        pid = 0
        assert not pidfile.exists()
        assert "INFO svimaged.daemon.lifecycle: stopped" in log_path.read_text()
    finally:
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
