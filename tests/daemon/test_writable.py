"""One-line errors when the state folder or the control socket's folder cannot be written:
what a container's `user:` or `read_only: true` does to the daemon.

The real cases run `svimaged run` in a child process that file modes apply to (as root:
without capabilities, on folders of another user; else the caller on folders without write
permission) and on a read-only bind mount (root only), the way a container without a
writable folder starts it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from svimaged.control.sockets import AlreadyRunningError
from svimaged.core.errors import StateError, SvimagedError
from svimaged.daemon.writable import socket_folder_errors, state_folder_errors

NOBODY = 65534
SOCKET = Path("/run/svimaged/control.sock")


def refused(code: int) -> OSError:
    return OSError(code, os.strerror(code), "/run/svimaged/.sxyz")


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), f"not writable for uid {os.getuid()}"),
        (refused(errno.EROFS), "on a read-only file system"),
    ],
    ids=["permission", "read-only"],
)
def test_socket_folder_refusal_becomes_one_line_with_the_fix(error: OSError, why: str) -> None:
    with pytest.raises(SvimagedError) as info, socket_folder_errors(SOCKET):
        raise error
    message = str(info.value)
    assert message.startswith(f"cannot create the control socket {SOCKET}: /run/svimaged ")
    assert why in message
    assert "tmpfs: /run/svimaged" in message and "control.socket" in message
    assert "\n" not in message


def test_socket_errors_wrapped_by_the_server_are_explained_too() -> None:
    with pytest.raises(SvimagedError, match="not writable for uid"), socket_folder_errors(SOCKET):
        try:
            raise refused(errno.EPERM)
        except OSError as exc:
            raise SvimagedError(f"cannot bind control socket {SOCKET}: {exc}") from exc


def test_other_socket_errors_pass_or_become_one_line() -> None:
    running = AlreadyRunningError(f"another svimaged is running on {SOCKET}")
    with pytest.raises(AlreadyRunningError) as info, socket_folder_errors(SOCKET):
        raise running
    assert info.value is running
    with pytest.raises(SvimagedError, match="File name too long"), socket_folder_errors(SOCKET):
        raise refused(errno.ENAMETOOLONG)


def test_state_error_in_a_writable_folder_passes_unchanged(tmp_path: Path) -> None:
    original = StateError(f"cannot open state database {tmp_path}/state.db: file is not a database")
    with pytest.raises(StateError) as info, state_folder_errors(tmp_path / "state.db"):
        raise original
    assert info.value is original


def test_state_error_from_a_refused_write_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StateError) as info, state_folder_errors(tmp_path / "state.db"):
        try:
            raise refused(errno.EACCES)
        except OSError as exc:
            raise StateError(f"cannot open state database {tmp_path}/state.db: {exc}") from exc
    message = str(info.value)
    assert f"{tmp_path} is not writable for uid {os.getuid()}" in message
    assert "chown" in message and "state_dir" in message


# ------------------------------------------------------------------------ for real


def run_unprivileged(config: Path) -> subprocess.CompletedProcess[str]:
    """`svimaged run --config config` without the power to ignore file modes: as root, with
    every capability dropped (so uid 0 is an ordinary user for folders it does not own; the
    interpreter may stay where only root can read it), else as the caller."""
    argv = [sys.executable, "-m", "svimaged", "run", "--config", str(config)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to drop root's capabilities")
        argv = [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--", *argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SVIMAGED_", "NOTIFY_"))}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=env)


@pytest.fixture
def world() -> Iterator[Path]:
    """A folder every user may read (tmp_path's parents are private to the test user)."""
    with tempfile.TemporaryDirectory(prefix="svw") as folder:
        os.chmod(folder, 0o755)
        root = Path(folder)
        (root / "rec").mkdir(mode=0o755)
        os.chmod(root / "rec", 0o755)
        yield root
        for path in root.rglob("*"):  # let the cleanup remove what the mode 0555 kept
            if path.is_dir():
                path.chmod(0o755)


def no_write_folder(path: Path) -> Path:
    """A folder the child may read but not write into (as root: another user's 0755)."""
    path.mkdir()
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
        path.chmod(0o755)
    else:
        path.chmod(0o555)
    return path


def open_folder(path: Path) -> Path:
    path.mkdir()
    path.chmod(0o777)
    return path


def write_config(root: Path, socket_dir: Path, state_dir: Path) -> Path:
    config = root / "config.yaml"
    data = {
        "recordings": str(root / "rec"),
        "state_dir": str(state_dir),
        "control": {"socket": str(socket_dir / "control.sock")},
        "watch": {"mode": "polling"},
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    config.chmod(0o644)
    return config


def assert_one_line_exit_1(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("svimaged: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_daemon_without_a_writable_socket_folder_exits_1_with_one_line(world: Path) -> None:
    socket_dir = no_write_folder(world / "run")
    config = write_config(world, socket_dir, open_folder(world / "state"))
    line = assert_one_line_exit_1(run_unprivileged(config))
    assert f"control socket {socket_dir}/control.sock: {socket_dir} is not writable" in line
    assert f"for uid {os.getuid()} " in line and f"tmpfs: {socket_dir}" in line


def test_daemon_without_a_writable_state_folder_exits_1_with_one_line(world: Path) -> None:
    state_dir = no_write_folder(world / "state")
    config = write_config(world, open_folder(world / "run"), state_dir)
    line = assert_one_line_exit_1(run_unprivileged(config))
    assert f"state lock {state_dir}/state.lock: cannot open" in line  # its first write
    assert f"{state_dir} is not writable for uid" in line and "chown" in line


def not_ours(path: Path) -> int:
    """Make `path` a file the unprivileged daemon may not write: another uid's 0644 file as
    root, else read-only; returns the owner the message will name."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
        path.chmod(0o644)
        return NOBODY
    path.chmod(0o444)
    return os.getuid()


def test_daemon_with_another_users_state_database_exits_1_with_one_line(world: Path) -> None:
    """A state volume an earlier container filled as another uid: the folder is writable
    (mode 1777 in the image), the database in it is not."""
    state_dir = open_folder(world / "state")
    database = state_dir / "state.db"
    sqlite3.connect(database).close()
    owner = not_ours(database)
    config = write_config(world, open_folder(world / "run"), state_dir)
    line = assert_one_line_exit_1(run_unprivileged(config))
    assert f"cannot open state database {database}" in line
    assert f"{database} belongs to uid {owner} and is not writable for uid {os.getuid()}" in line


def test_daemon_with_another_users_state_lock_exits_1_with_one_line(world: Path) -> None:
    """The same volume, where the earlier container also left its `state.lock`."""
    state_dir = open_folder(world / "state")
    lock = state_dir / "state.lock"
    lock.write_text("1\n")
    owner = not_ours(lock)
    config = write_config(world, open_folder(world / "run"), state_dir)
    line = assert_one_line_exit_1(run_unprivileged(config))
    assert f"state lock {lock}: cannot open" in line
    assert f"{lock} belongs to uid {owner} and is not writable for uid {os.getuid()}" in line


@contextlib.contextmanager
def read_only_mount(folder: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root; the permission cases run")
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], check=False).returncode:
        pytest.skip("mount refused here; the permission cases run")
    try:
        remount = ["mount", "-o", "remount,bind,ro", str(folder)]
        if subprocess.run(remount, check=False).returncode:
            pytest.skip("read-only remount refused here")
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_daemon_with_a_read_only_socket_folder_exits_1_with_one_line(world: Path) -> None:
    """`read_only: true` without a tmpfs on /run/svimaged."""
    socket_dir = open_folder(world / "run")
    config = write_config(world, socket_dir, open_folder(world / "state"))
    with read_only_mount(socket_dir):
        line = assert_one_line_exit_1(run_unprivileged(config))
    assert f"{socket_dir} is on a read-only file system" in line
    assert f"tmpfs: {socket_dir}" in line
