"""The `--pidfile` of `run --daemonize` and the lock file under it: never through a symbolic
link, never over another process's pid file (contract section 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from svimaged.core.errors import SvimagedError
from svimaged.core.lockfile import LockFile, LockHeldError
from svimaged.daemon.pidfile import PidFile


def test_a_symbolic_link_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "precious.conf"
    target.write_text("keep me\n")
    link = tmp_path / "svimaged.pid"
    link.symlink_to(target)
    with pytest.raises(SvimagedError, match="is a symbolic link; refusing to follow it") as exc:
        PidFile(link).acquire()
    assert exc.value.exit_code == 1
    assert target.read_text() == "keep me\n"
    assert link.is_symlink()


def test_a_dangling_symbolic_link_creates_nothing(tmp_path: Path) -> None:
    link = tmp_path / "svimaged.pid"
    link.symlink_to(tmp_path / "elsewhere.pid")
    with pytest.raises(SvimagedError, match="symbolic link"):
        PidFile(link).acquire()
    assert not (tmp_path / "elsewhere.pid").exists()


def test_the_pid_file_of_another_running_process_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "other.pid"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            path.write_text(f"{other.pid}\n")  # not locked: another program's pid file
            with pytest.raises(SvimagedError, match=f"names running process {other.pid}"):
                PidFile(path).acquire()
            assert path.read_text() == f"{other.pid}\n"
        finally:
            other.kill()


def test_a_file_that_holds_no_pid_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    with pytest.raises(SvimagedError, match="holds something other than a pid"):
        PidFile(path).acquire()
    assert path.read_text() == "my notes\n"


def test_a_stale_or_empty_pid_file_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "svimaged.pid"
    for content in ("", "999999999\n"):  # no such process (above pid_max)
        path.write_text(content)
        with PidFile(path):
            assert path.read_text() == f"{os.getpid()}\n"
        assert not path.exists()


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "svimaged.pid"
    os.mkfifo(path)
    with pytest.raises(SvimagedError, match="not a regular file"):
        PidFile(path).acquire()


def test_a_lock_holds_against_a_second_opener_in_the_same_process(tmp_path: Path) -> None:
    first = LockFile(tmp_path / "x.lock", "lock")
    first.acquire()
    first.write_pid()
    with pytest.raises(LockHeldError) as held:
        LockFile(tmp_path / "x.lock", "lock").acquire()
    assert held.value.holder == str(os.getpid())
    first.release()
    LockFile(tmp_path / "x.lock", "lock").acquire()


def test_daemonize_with_a_linked_pidfile_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    config = tmp_path / "config.yaml"
    data = {"recordings": str(tmp_path / "rec"), "state_dir": str(tmp_path / "state")}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    target = tmp_path / "target"
    target.write_text("keep me\n")
    link = tmp_path / "svimaged.pid"
    link.symlink_to(target)
    result = subprocess.run(
        [sys.executable, "-m", "svimaged", "run", "--daemonize", "--pidfile", str(link),
         "--config", str(config)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=tmp_path, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"svimaged: pid file {link} is a symbolic link; refusing to follow it "
        "(remove it or name another file)\n"
    )
    assert target.read_text() == "keep me\n"
    assert not (tmp_path / "state").exists()  # refused before anything started
