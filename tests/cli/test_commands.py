"""The client commands (`stats`, `sync`, `cleanup`, `streamer`, `category`) against a REAL
daemon (`python -m svimaged run`) in a subprocess, plus the pure formatting and the sync
progress with scripted answers.

The daemon is shared by the module (one start, one settling sync); the SIGTERM test runs
last. Waits poll a condition until a deadline; nothing waits a fixed time."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from svimaged.cli import commands
from svimaged.cli.main import main
from svimaged.config import DEFAULT_SOCKET, load_config
from svimaged.control.client import ControlClient, ControlError
from svimaged.core.errors import DaemonUnreachableError
from svimaged.core.model import ImageKind, Origin
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import ALICE_ID, FakeTwitch, sample_library
from svimaged.demo.sample_tree import SampleRecording, build_demo_tree, write_recording
from svimaged.state import State
from tests.control.test_jobs import JobApi
from tests.control.test_server import make_images, running

DEADLINE = 10.0
ZED_GAME = ("1888888888", "Zed Game")
STATS_KEYS = {
    "profiles",
    "categories",
    "artwork",
    "total_cached",
    "total_failed",
    "bytes_on_disk",
    "queue",
    "nfo",
    "last_sync",
}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class RunningDaemon:
    proc: subprocess.Popen[bytes]
    config: Path
    socket: Path
    recordings: Path
    fake: FakeTwitch
    log_path: Path

    def cli(self, *args: str) -> list[str]:
        return [*args, "--config", str(self.config)]

    def client(self) -> ControlClient:
        return ControlClient(self.socket, timeout=DEADLINE)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def answers(self) -> bool:
        assert self.proc.poll() is None, f"daemon exited:\n{self.log()}"
        try:
            return self.client().json("GET", "/healthz")["status"] == "ok"
        except DaemonUnreachableError:
            return False


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A daemon on the demo tree and the fake Twitch, settled by one sync."""
    tmp = tmp_path_factory.mktemp("cli")
    with FakeTwitch() as fake:
        sample_library(fake)
        fake.add_game(*ZED_GAME)
        recordings = tmp / "rec"
        build_demo_tree(recordings, fake, now=time.time())
        data = fake_config_data(fake, recordings, tmp / "state")
        config = tmp / "config.yaml"
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SVIMAGED_", "NOTIFY_"))}
        log_path = tmp / "daemon.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "svimaged", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                env=env, cwd=tmp,
            )  # fmt: skip
        running = RunningDaemon(
            proc, config, Path(data["control"]["socket"]), recordings, fake, log_path
        )
        try:
            wait_for(running.answers, "the control socket")
            running.client().json("POST", "/api/images/sync", query={"wait": "1"})
            yield running
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# -- against the daemon -----------------------------------------------------------------


def test_stats_json_has_the_spec_shape(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(daemon.cli("stats", "--json")) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats) >= STATS_KEYS
    assert set(stats["profiles"]) == {"cached_profiles", "failed_downloads"}
    assert set(stats["artwork"]) == {
        "cached_artworks",
        "streamers_with_artwork",
        "failed_downloads",
    }
    assert set(stats["queue"]) == {"pending", "retrying"}
    assert set(stats["nfo"]) == {"written", "up_to_date", "errors", "left_alone"}
    assert stats["profiles"]["cached_profiles"] >= 4
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stats["last_sync"])


def test_stats_table_shows_the_counts(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = daemon.client().json("GET", "/api/images/stats")
    assert main(daemon.cli("stats")) == 0
    out = capsys.readouterr().out
    profiles = cast(dict[str, int], stats["profiles"])
    categories = cast(dict[str, int], stats["categories"])
    assert re.search(rf"^profiles +{profiles['cached_profiles']} +0$", out, re.M)
    assert re.search(rf"^categories +{categories['cached_categories']} +0$", out, re.M)
    assert re.search(rf"^total +{stats['total_cached']} +{stats['total_failed']}$", out, re.M)
    assert re.search(r"^bytes on disk +\d+\.\d KiB \(\d+ bytes\)$", out, re.M)
    assert re.search(r"^nfo +\d+ written, \d+ up to date, 0 errors$", out, re.M)
    assert f"last sync         {stats['last_sync']}" in out


def test_sync_waits_and_prints_the_summary(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    # A known folder: the watcher's touch waits settle_seconds (60), so the sync finds it.
    info = {
        "id": 77,
        "twitch_id": "49999999999",
        "streamer": {"username": "bob_speedruns"},
        "title": "Zed run",
        "category": ZED_GAME[1],
        "started_at": "2026-11-09T10:00:00Z",
    }
    rec = SampleRecording("Bob Speedruns/2026/11/bob_speedruns - S202611E02 - Zed run.mkv", info)
    write_recording(daemon.recordings, rec, finished_mtime=time.time() - 3600)
    assert main(daemon.cli("sync")) == 0
    captured = capsys.readouterr()
    progress = re.findall(r"^sync (sync-\d+) (queued|running|done): \d+/(?:\d+|\?)$",
                          captured.err, re.M)  # fmt: skip
    assert progress, captured.err
    assert "\r" not in captured.err  # not a terminal: plain lines, no bar
    job_id = progress[0][0]
    match = re.fullmatch(
        r"downloaded (\d+), failed (\d+), nfo written (\d+) in \d+\.\d\d s", last_line(captured.out)
    )
    assert match, captured.out
    job = daemon.client().json("GET", f"/api/jobs/{job_id}")
    assert job["state"] == "done"
    assert [int(n) for n in match.groups()] == [
        job["downloaded"],
        job["failed"],
        job["nfo_written"],
    ]
    # the new category's box art, and a frame of the video where ffmpeg can grab one
    frames = list((daemon.recordings / ".images" / "artwork").rglob("stream_49999999999.jpg"))
    assert job["downloaded"] == 1 + len(frames)
    assert cast(int, job["nfo_written"]) >= 1
    assert (daemon.recordings / ".images" / "categories" / "zed_game.jpg").is_file()


def test_sync_no_wait_prints_only_the_job_id(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(daemon.cli("sync", "--no-wait")) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(r"sync-\d+\n", captured.out)
    assert captured.err == ""
    job = daemon.client().json("GET", f"/api/jobs/{captured.out.strip()}")
    assert job["state"] in ("queued", "running", "done")


def test_streamer_by_login_and_by_id_agree(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(daemon.cli("streamer", "alice_plays")) == 0
    by_login = capsys.readouterr().out
    assert main(daemon.cli("streamer", ALICE_ID)) == 0
    by_id = capsys.readouterr().out
    assert by_login == by_id
    lines = by_id.splitlines()
    assert lines[:3] == [
        f"streamer_id: {ALICE_ID}",
        "username: alice_plays",
        "display_name: Alice Plays",
    ]
    assert f"image_url: /data/images/profiles/profile_avatar_{ALICE_ID}.jpg" in lines
    assert "cached: yes" in lines
    assert "last_error: -" in lines


def test_streamer_download_revalidates_and_force_downloads(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    hits = daemon.fake.hits
    before = (hits["cdn"], hits["cdn_304"])
    assert main(daemon.cli("streamer", "bob_speedruns", "--download")) == 0
    out = capsys.readouterr().out
    assert (hits["cdn"], hits["cdn_304"]) == (before[0], before[1] + 1)  # conditional GET
    assert "username: bob_speedruns" in out.splitlines()
    assert "cached: yes" in out.splitlines()
    assert main(daemon.cli("streamer", "bob_speedruns", "--force", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True
    assert (hits["cdn"], hits["cdn_304"]) == (before[0] + 1, before[1] + 1)


def test_category_with_a_slash_in_its_name(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(daemon.cli("category", "Pokémon Scarlet/Violet")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "category_name: Pokémon Scarlet/Violet"
    assert "slug: pokemon_scarlet_violet" in lines
    assert "image_url: /data/images/categories/pokemon_scarlet_violet.jpg" in lines


def test_cleanup_dry_run_lists_then_cleanup_removes(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    images = daemon.recordings / ".images"
    orphan = images / "profiles" / "profile_avatar_99999999.jpg"
    orphan.write_bytes(b"\xff\xd8\xff\xe0 an orphan \xff\xd9")
    # An image svimaged stored for a streamer whose folder is gone: recorded in the state
    # (a file with a cache name but no record would be foreign and left alone).
    config = load_config(daemon.config, {})
    state = State.open(config.state_db)
    try:
        state.images.record_success(
            "profiles/profile_avatar_99999999.jpg",
            ImageKind.PROFILE,
            "99999999",
            origin=Origin.URL,
            source="https://static-cdn.jtvnw.net/x.png",
            etag=None,
            last_modified=None,
            sha256="0" * 64,
            size=orphan.stat().st_size,
            at=time.time(),
        )
    finally:
        state.close()
    foreign = images / "notes.txt"
    foreign.write_text("mine, not svimaged's")
    assert main(daemon.cli("cleanup", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "would remove profiles/profile_avatar_99999999.jpg" in out.splitlines()
    assert "foreign (left alone) notes.txt" in out.splitlines()
    assert re.search(r"^would remove 1 file: 1 profiles, 0 categories, 0 artwork", out, re.M)
    assert orphan.exists()
    assert main(daemon.cli("cleanup")) == 0
    out = capsys.readouterr().out
    assert "removed profiles/profile_avatar_99999999.jpg" in out.splitlines()
    assert not orphan.exists()
    assert foreign.exists()
    assert (images / "profiles" / f"profile_avatar_{ALICE_ID}.jpg").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["streamer", "nobody_here"], "svimaged: unknown streamer 'nobody_here'\n"),
        (["category", "No Such Game"], "svimaged: unknown category 'No Such Game'\n"),
        (["streamer", "../etc"], "svimaged: "),
    ],
)
def test_daemon_errors_exit_1_with_its_message(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(daemon.cli(*argv)) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(message)
    assert captured.out == ""


def test_zz_sigterm_stops_the_daemon_with_exit_0(
    daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(DEADLINE) == 0, daemon.log()
    assert not daemon.socket.exists()
    assert main(["stats", "--socket", str(daemon.socket)]) == 3
    assert capsys.readouterr().err == f"svimaged is not running (no socket at {daemon.socket})\n"


# -- no daemon --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["stats"], ["sync"], ["sync", "--no-wait"], ["cleanup", "--dry-run"], ["streamer", "x"],
     ["category", "Just Chatting", "--download"]],
)  # fmt: skip
def test_no_daemon_exits_3_naming_the_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    path = tmp_path / "control.sock"
    assert main([*argv, "--socket", str(path)]) == 3
    captured = capsys.readouterr()
    assert captured.err == f"svimaged is not running (no socket at {path})\n"
    assert captured.out == ""


def test_default_socket_comes_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-config.sock"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"recordings": str(tmp_path), "control": {"socket": str(path)}})
    )
    monkeypatch.setenv("SVIMAGED_CONFIG", str(config))
    assert main(["stats"]) == 3
    assert capsys.readouterr().err == f"svimaged is not running (no socket at {path})\n"


def test_an_unloadable_config_found_by_default_falls_back_to_the_default_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVIMAGED_CONFIG", str(tmp_path / "missing.yaml"))
    if DEFAULT_SOCKET.exists():
        pytest.skip(f"{DEFAULT_SOCKET} exists on this host")
    assert main(["stats"]) == 3
    assert capsys.readouterr().err == f"svimaged is not running (no socket at {DEFAULT_SOCKET})\n"


@pytest.mark.parametrize("command", [["stats"], ["sync"], ["cleanup"], ["streamer", "alice"]])
def test_a_config_named_with_config_that_cannot_be_read_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """`--config F` is the user's word for where the daemon is: F missing (or broken) is a
    usage error naming F, never a silent try of the default socket (exit 3)."""
    missing = tmp_path / "nonexistent.yaml"
    assert main([*command, "--config", str(missing)]) == 2
    assert capsys.readouterr().err == f"config error: {missing}: no such file\n"
    broken = tmp_path / "broken.yaml"
    broken.write_text("control: [\n", encoding="utf-8")
    assert main([*command, "--config", str(broken)]) == 2
    assert capsys.readouterr().err.startswith(f"config error: {broken}: not valid YAML")


@pytest.mark.parametrize(
    "argv", [["streamer"], ["category"], ["stats", "--bogus"], ["sync", "extra"]]
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- pure formatting and scripted sync ----------------------------------------------------


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (18427, "18.0 KiB"),
     (5 * 1024**3, "5.0 GiB"), (3 * 1024**5, "3072.0 TiB"), (None, "?"), (True, "?")],
)  # fmt: skip
def test_format_bytes(count: object, shown: str) -> None:
    assert commands.format_bytes(count) == shown


@pytest.mark.parametrize(
    ("done", "total", "finished", "bar"),
    [
        (0, 400, False, "[..........] 0/400"),
        (120, 400, False, "[###.......] 120/400"),
        (400, 400, False, "[##########] 400/400"),
        (9, 4, False, "[##########] 9/4"),
        (3, 0, False, "[..........] 3/?"),
        (3, 0, True, "[##########] 3/3"),
    ],
)
def test_progress_bar(done: int, total: int, finished: bool, bar: str) -> None:
    assert commands.progress_bar(done, total, 10, finished=finished) == bar


def test_stats_table_survives_missing_keys() -> None:
    table = commands.format_stats({"profiles": {"cached_profiles": 2}, "last_sync": None})
    assert re.search(r"^profiles +2 +-$", table, re.M)
    assert re.search(r"^last sync +never$", table, re.M)
    assert "needs credentials" not in table
    table = commands.format_stats({"needs_credentials": 3})
    assert re.search(r"^needs credentials 3 lookups", table, re.M)


def test_stats_table_shows_each_notify_server() -> None:
    notify = {
        "kodi": {"sent": 4, "failed": 0, "last_success": "2026-11-25T09:23:21Z",
                 "last_failure": None, "last_error": None},
        "plex": {"sent": 1, "failed": 3, "last_success": "2026-11-25T09:00:00Z",
                 "last_failure": "2026-11-25T09:30:00Z", "last_error": "HTTP 401"},
        "jf": {"sent": 0, "failed": 0, "last_success": None, "last_failure": None},
    }  # fmt: skip
    table = commands.format_stats({"notify": notify})
    assert re.search(
        r"^notify kodi +4 sent, 0 failed, last success 2026-11-25T09:23:21Z$", table, re.M
    )
    assert re.search(
        r"^notify plex +1 sent, 3 failed, last success 2026-11-25T09:00:00Z "
        r"\(last attempt failed: HTTP 401\)$",
        table,
        re.M,
    )
    assert re.search(r"^notify jf +0 sent, 0 failed, last success never$", table, re.M)
    assert "notify" not in commands.format_stats({"notify": {}})


class ScriptedClient:
    """Answers `json()` calls from a list, recording (method, path, query)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any]] = []

    def json(self, method: str, path: str, *, query: Any = None, timeout: Any = None) -> Any:
        self.calls.append((method, path, query))
        return self.answers.pop(0)


def run_sync(
    answers: list[dict[str, Any]], *, tty: bool, times: list[float] | None = None
) -> tuple[int, str, str, list[float], ScriptedClient]:
    client = ScriptedClient(answers)
    out, err = io.StringIO(), io.StringIO()
    slept: list[float] = []
    clock = iter(times or [0.0] * 20)
    view = commands.SyncView(err, tty, monotonic=lambda: next(clock))
    code = commands.cmd_sync(
        cast(ControlClient, client), wait=True, view=view, out=out, sleep=slept.append
    )
    return code, out.getvalue(), err.getvalue(), slept, client


def job(state: str, done: int, total: int, **extra: Any) -> dict[str, Any]:
    return {"job_id": "sync-7", "state": state, "done": done, "total": total, **extra}


RESULT = {"downloaded": 3, "failed": 1, "nfo_written": 9, "seconds": 2.345}


def test_sync_on_a_terminal_redraws_one_bar_line() -> None:
    code, out, err, slept, client = run_sync(
        [{"job_id": "sync-7", "queued": True}, job("queued", 0, 0), job("running", 120, 400),
         job("done", 400, 400, **RESULT)],
        tty=True,
    )  # fmt: skip
    assert code == 0
    assert out == "downloaded 3, failed 1, nfo written 9 in 2.35 s\n"
    frames = err.split("\r")[1:]
    assert [f.split(" ", 1)[1].split("\x1b")[0] for f in frames] == [
        "0/? queued",
        "120/400 running",
        "400/400 done",
    ]
    assert "[#########.....................] 120/400" in err
    assert err.endswith("\n") and err.count("\n") == 1
    assert slept == [commands.POLL_INTERVAL, commands.POLL_INTERVAL]
    assert [c[:2] for c in client.calls] == [("POST", "/api/images/sync")] + [
        ("GET", "/api/jobs/sync-7")
    ] * 3


def test_sync_plain_lines_only_every_few_seconds() -> None:
    answers = [{"job_id": "sync-7", "queued": True}]
    answers += [job("running", n, 10) for n in range(5)] + [job("done", 10, 10, **RESULT)]
    code, out, err, _slept, _c = run_sync(
        answers, tty=False, times=[e * commands.PLAIN_EVERY for e in (0, 0.2, 0.4, 1, 1.2, 2.2)]
    )
    assert code == 0
    assert err.splitlines() == [
        "sync sync-7 running: 0/10",
        "sync sync-7 running: 3/10",
        "sync sync-7 done: 10/10",
    ]
    assert out.startswith("downloaded 3,")


def test_sync_without_progress_prints_only_the_summary() -> None:
    client = ScriptedClient(
        [{"job_id": "sync-7"}, job("running", 1, 2), job("done", 2, 2, **RESULT)]
    )
    err = io.StringIO()
    view = commands.SyncView(err, True, enabled=False)
    out = io.StringIO()
    assert commands.cmd_sync(cast(ControlClient, client), wait=True, view=view, out=out,
                             sleep=lambda _s: None) == 0  # fmt: skip
    assert err.getvalue() == ""
    assert out.getvalue().startswith("downloaded 3, failed 1")


def test_sync_job_that_failed_exits_1() -> None:
    code, out, err, _s, _c = run_sync(
        [{"job_id": "sync-7"}, job("done", 0, 0, error="cancelled: svimaged is shutting down")],
        tty=False,
    )
    assert code == 1
    assert out == ""
    assert "svimaged: sync job sync-7 failed: cancelled: svimaged is shutting down" in err


# -- a daemon whose jobs crash ----------------------------------------------------------


@pytest.fixture
def crashing_socket(tmp_path: Path) -> Iterator[str]:
    """A control server whose sync and cleanup jobs raise an unexpected exception."""
    make_images(tmp_path / ".images")
    api = JobApi(tmp_path / ".images")
    try:
        with running(api) as (_server, path):
            yield path
    finally:
        api.jobs.close()


def test_cleanup_whose_job_crashed_exits_1(
    crashing_socket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cleanup", "--socket", crashing_socket]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "svimaged: cleanup job cleanup-1 failed: internal error: RuntimeError (see the log)\n"
    )


def test_sync_whose_job_crashed_exits_1(
    crashing_socket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--no-progress", "--socket", crashing_socket]) == 1
    assert "sync job sync-1 failed: internal error: RuntimeError" in capsys.readouterr().err


def test_cleanup_answer_without_counts_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A daemon that answers a cleanup with no result at all (`200 {}`) did not clean up."""
    client = ScriptedClient([{}])
    with pytest.raises(ControlError, match="no cleanup result"):
        commands.cmd_cleanup(
            cast(ControlClient, client), dry_run=False, as_json=False, out=io.StringIO()
        )
