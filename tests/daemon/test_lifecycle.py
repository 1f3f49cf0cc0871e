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
from svimaged.core.errors import SvimagedError
from svimaged.daemon.lifecycle import Daemon, summary_fields
from svimaged.daemon.pidfile import PidFile
from svimaged.daemon.sdnotify import Notifier
from svimaged.demo.config import control_socket_for, fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.demo.sample_tree import build_demo_tree

EXIT_DEADLINE = 10.0

# ------------------------------------------------------------------------------ fakes


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


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
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

    def wait_log(self, needle: str, timeout: float = 30.0) -> None:
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
    """No credentials, nothing online: a tree in tmp_path, quick settling, the control
    socket in the state folder (never the default one, which another daemon on this host,
    or another test run, may hold)."""
    rec = tmp_path / "rec"
    rec.mkdir(exist_ok=True)
    return {
        "recordings": str(rec),
        "state_dir": str(tmp_path / "state"),
        "control": {"socket": str(control_socket_for(tmp_path / "state"))},
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
    sock: socket.socket, wanted: Callable[[str], bool], seen: list[str], timeout: float = 30.0
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

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Any:
        if target.startswith("/cdn/"):
            self.cdn_started.set()
            time.sleep(self.delay)
        return super().handle(method, target, headers, body)


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
        assert "daemon ready" in log_path.read_text()  # it returns once the daemon is ready
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


def daemonize(tmp_path: Path, config: Path, name: str) -> subprocess.CompletedProcess[str]:
    """`svimaged run --daemonize --pidfile <name>.pid --config <config>`, output captured."""
    command = [
        sys.executable, "-m", "svimaged", "run", "--daemonize",
        "--pidfile", str(tmp_path / f"{name}.pid"), "--config", str(config),
    ]  # fmt: skip
    return subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=daemon_env(),
        cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip


def test_daemonize_exits_1_when_the_daemon_cannot_start(
    tmp_path: Path, spawn: Callable[..., DaemonProcess]
) -> None:
    """The detached daemon fails after detaching (another daemon answers on its socket):
    the command waits for that and exits 1 with the daemon's message, leaving no pid file
    and no process behind."""
    running = local_config(tmp_path)
    spawn(running).wait_log("daemon ready")
    other = tmp_path / "other.yaml"  # the same socket, its own state folder
    other.write_text(
        yaml.safe_dump({**running, "state_dir": str(tmp_path / "other-state")}), encoding="utf-8"
    )
    result = daemonize(tmp_path, other, "other")
    socket_path = Path(running["control"]["socket"])
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"svimaged: another svimaged is running on {socket_path}\n"
    assert not (tmp_path / "other.pid").exists()


def test_daemonize_with_missing_recordings_exits_2_like_the_foreground(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    data = {**local_config(tmp_path), "recordings": str(tmp_path / "gone")}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = daemonize(tmp_path, config, "svimaged")
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"config error: recordings: {tmp_path / 'gone'} is not a directory\n"
    assert not (tmp_path / "svimaged.pid").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sighup_with_a_new_path_map_rewrites_the_nfos(
    tmp_path: Path, spawn: Callable[..., DaemonProcess]
) -> None:
    """The usual Docker step: the library was processed, then `nfo.path_map` is added and
    the daemon reloaded. Every NFO that references an image gets the mapped path."""
    rec = tmp_path / "rec"
    rec.mkdir()
    nfo = add_finished_recording(rec, "alice", "alice")
    avatar = rec / ".media" / "profiles" / "profile_avatar_123456789.jpg"
    avatar.parent.mkdir(parents=True)
    avatar.write_bytes(make_jpeg_bytes())
    (nfo.with_suffix(".info.json")).write_text(
        '{"id": 1, "streamer": {"id": 2, "profile_image": '
        '"/recordings/.media/profiles/profile_avatar_123456789.jpg"}}'
    )
    old = time.time() - 3600
    os.utime(nfo.with_suffix(".info.json"), (old, old))
    config = local_config(tmp_path)
    daemon = spawn(config)
    tvshow = rec / "alice" / "tvshow.nfo"
    wait_for(lambda: tvshow.exists() and str(rec / ".images") in tvshow.read_text(), "NFOs")
    daemon.write_config({**config, "nfo": {"path_map": [{"from": str(rec), "to": "/data/tv"}]}})
    daemon.send(signal.SIGHUP)
    daemon.wait_log("config reloaded")
    wait_for(lambda: "/data/tv/.images/" in tvshow.read_text(), "mapped tvshow.nfo", 15)
    wait_for(lambda: "/data/tv/.images/" in nfo.read_text(), "mapped episode NFO", 15)
    assert str(rec / ".images") not in tvshow.read_text() + nfo.read_text()
    assert daemon.stop()[0] == 0


def make_jpeg_bytes() -> bytes:
    from svimaged.demo.pictures import make_jpeg

    return make_jpeg(16, 16)
