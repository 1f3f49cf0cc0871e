"""Image files for the `/data/images/...` routes: open below `images_root` safely, describe
them (ETag, Last-Modified) and answer conditional requests (SPEC section 7).

Files are opened relative to directory fds with `O_NOFOLLOW` at every level below
`images_root`, so a symlink inside `.images` never leads out of it. `stat` comes first: a
304 and a HEAD never open the file.
"""

from __future__ import annotations

import email.utils
import errno
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from svimaged.core import atomic
from svimaged.core.errors import NotFoundError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class Headers(Protocol):
    """Request headers looked up case-insensitively (`email.message.Message` fits)."""

    def get(self, name: str, /) -> str | None: ...

    def get_all(self, name: str, /) -> list[str] | None: ...


@dataclass
class FileBody:
    """An open image file to stream: exactly `length` bytes from `fd`; `close()` once."""

    fd: int
    length: int

    def chunks(self) -> Iterator[bytes]:
        """Yield the file in chunks; stops early (short) if the file shrank."""
        left = self.length
        while left > 0:
            data = os.read(self.fd, min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data

    def close(self) -> None:
        os.close(self.fd)


@dataclass(frozen=True)
class ImageAnswer:
    """What to answer for an image: 200 with `file` (None for HEAD) or 304; `size` is the
    length a GET sends."""

    status: int
    headers: list[tuple[str, str]]
    size: int
    file: FileBody | None = None


def serve_image(
    images_root: str, folders: tuple[str, ...], name: str, method: str, headers: Headers
) -> ImageAnswer:
    """`images_root/<folders>/<name>` for a GET or HEAD with `headers`. Raises
    `NotFoundError` for anything but a regular file reached without symlinks below the
    root. `name` and `folders` must already be validated names."""
    dir_fd = open_folder(images_root, folders)
    try:
        st = lstat_file(name, dir_fd)
        described = file_headers(st)
        if not_modified(headers, etag(st), st):
            return ImageAnswer(304, described, st.st_size)
        if method == "HEAD":
            return ImageAnswer(200, described, st.st_size)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            raise NotFoundError(f"no such image: {name}") from exc
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or not _looks_like_jpeg(fd):
            os.close(fd)
            raise NotFoundError(f"no such image: {name}")
        return ImageAnswer(200, file_headers(opened), opened.st_size, FileBody(fd, opened.st_size))
    finally:
        os.close(dir_fd)


def open_folder(root: str, folders: tuple[str, ...]) -> int:
    """A directory fd for `root/<folders...>`, refusing symlinks below `root` (404)."""
    try:
        return atomic.open_folder(Path(root), Path(root).joinpath(*folders))
    except OSError as exc:  # nothing cached yet, .images unreadable, a link on the way
        _log_odd(exc, exc.filename or root)
        raise NotFoundError("no such image folder") from exc


def _looks_like_jpeg(fd: int) -> bool:
    """The open file starts like a JPEG: a cache file changed behind svimaged's back (say,
    through a hard-linked sidecar) is never served as one."""
    try:
        head = os.pread(fd, 3, 0)
    except OSError:
        return False
    if head != b"\xff\xd8\xff":
        log.warning("control refused a cache file that is not a JPEG")
        return False
    return True


def lstat_file(name: str, dir_fd: int) -> os.stat_result:
    """lstat of `name` in `dir_fd`; anything but a regular file (symlinks too) is a 404."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        _log_odd(exc, name)
        raise NotFoundError(f"no such image: {name}") from exc
    if not stat.S_ISREG(st.st_mode):
        log.warning("control refused non-regular image name=%s", name)
        raise NotFoundError(f"no such image: {name}")
    return st


def _log_odd(exc: OSError, name: str) -> None:
    if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
        log.warning("control refused image path name=%s error=%s", name, exc.strerror)


def file_headers(st: os.stat_result) -> list[tuple[str, str]]:
    """Content-Type (with `nosniff`: a browser never guesses another type), ETag (strong:
    size + mtime_ns), Last-Modified, Cache-Control."""
    return [
        ("Content-Type", "image/jpeg"),
        ("X-Content-Type-Options", "nosniff"),
        ("ETag", etag(st)),
        ("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)),
        ("Cache-Control", "no-cache"),
    ]


def etag(st: os.stat_result) -> str:
    """A strong ETag from size and mtime_ns (files are replaced by rename, never edited)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def not_modified(headers: Headers, tag: str, st: os.stat_result) -> bool:
    """RFC 9110 13.1: If-None-Match wins; If-Modified-Since only when it is absent."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return any(t == "*" or t.removeprefix("W/") == tag for t in tags)
    ims = headers.get("If-Modified-Since")
    if ims is None:
        return False
    try:
        since = email.utils.parsedate_to_datetime(ims)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return int(st.st_mtime) <= since.timestamp()
