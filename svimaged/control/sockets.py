"""The control server's listening sockets (SPEC section 7): the Unix socket file and the
optional TCP address.

The Unix socket is bound in a fresh 0700 folder next to its path, chmod-ed to `mode`
(chown-ed to `group` if given, else it keeps the daemon's own group), put to listen and renamed
onto the path: never reachable with looser permissions, and the umask is never touched. A
stale socket (nobody listens) is replaced; a live one means another daemon runs.
"""

from __future__ import annotations

import grp
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
from pathlib import Path

from svimaged.core.errors import ConfigError, SvimagedError

log = logging.getLogger(__name__)

BACKLOG = 64


class AlreadyRunningError(SvimagedError):
    """Another svimaged answers on the control socket; this one must not start."""

    exit_code = 1
    code = "already_running"


def bind_unix(path: Path, mode: int, group: str | None) -> tuple[socket.socket, tuple[int, int]]:
    """A listening AF_UNIX socket at `path` with `mode` (and `group`), and the (st_dev,
    st_ino) of the socket file, so that only this file is removed later. Raises
    `AlreadyRunningError`, `ConfigError` (not a socket at the path, unknown group) or
    `SvimagedError` (cannot bind)."""
    _make_parent(path.parent)
    _check_existing(path)
    gid = _group_id(group)
    tmpdir = tempfile.mkdtemp(prefix=".s", dir=path.parent)
    tmp = os.path.join(tmpdir, "s")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(tmp)
        os.chmod(tmp, mode)
        if gid is not None:
            os.chown(tmp, -1, gid)
        sock.listen(BACKLOG)
        os.rename(tmp, path)
        st = os.lstat(path)
    except OSError as exc:
        sock.close()
        raise SvimagedError(f"cannot bind control socket {path}: {exc}") from exc
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return sock, (st.st_dev, st.st_ino)


def remove_unix(path: Path, socket_id: tuple[int, int]) -> None:
    """Unlink the socket file at `path` only if it is still the one with `socket_id`."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == socket_id:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("control socket not removed path=%s error=%s", path, exc)


def bind_tcp(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """A listening TCP socket on (host, port); `SvimagedError` when it cannot be bound."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise SvimagedError(f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


def parse_listen(value: str) -> tuple[str, int, socket.AddressFamily]:
    """`host:port` or `[v6]:port` -> (host, port, family); ConfigError names `http.listen`."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})", value) or re.fullmatch(
        r"([^:\[\]\s]+):([0-9]{1,5})", value
    )
    if match is None or int(match.group(2)) > 65535:
        raise ConfigError([f"http.listen: expected host:port or [v6]:port, got {value!r}"])
    family = socket.AF_INET6 if value.startswith("[") else socket.AF_INET
    return match.group(1), int(match.group(2)), family


def _make_parent(folder: Path) -> None:
    """Create the socket's folder with mode 0750 when it is missing."""
    if folder.is_dir():
        return
    try:
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        os.chmod(folder, 0o750)  # noqa: S103 (owner+group: the socket's mode decides who)
    except OSError as exc:
        raise SvimagedError(f"cannot create control socket folder {folder}: {exc}") from exc


def _check_existing(path: Path) -> None:
    """Nothing at `path`, or a stale socket (connect refused): fine, bind replaces it.
    A socket that accepts: AlreadyRunningError. Anything else: left alone, ConfigError."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError([f"control.socket: {path} exists and is not a socket; not touching it"])
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("control replacing stale socket path=%s", path)
        return
    except TimeoutError as exc:  # listening, but its backlog is full: alive
        raise AlreadyRunningError(f"another svimaged is running on {path}") from exc
    except OSError as exc:
        raise SvimagedError(f"cannot check control socket {path}: {exc}") from exc
    finally:
        probe.close()
    raise AlreadyRunningError(f"another svimaged is running on {path}")


def _group_id(group: str | None) -> int | None:
    """None: keep the daemon's own group. A name or number: that group's id."""
    if group is None:
        return None
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise ConfigError([f"control.group: no such group {group!r}"]) from exc
