"""Atomic storage under `.images` (contract section 3.1). `ImageStore` maps the relative
names built by `svimaged.core.names` to files below its root, never through a symlink, and
writes them atomically; what it stores is always a JPEG (`codec`). Every write, link and
unlink goes through the folders from the recordings folder down, opened without following
links (`core.atomic`): a linked `.images`, or a link swapped in below it, is refused, never
followed.

Only `InvalidImageError`, `UnsafeNameError` and `SvimagedError` (storage failures such as a
full disk) leave this module.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from svimaged.core.atomic import LinkRefusedError, folder_at, link_at, sync_folder, write_at
from svimaged.core.errors import InvalidImageError, SvimagedError, UnsafeNameError
from svimaged.core.names import TEMP_NAME, safe_component
from svimaged.images.codec import sniff, to_jpeg

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredImage:
    """A file in the cache: its relative name, absolute path, content hash and size."""

    rel: str
    path: Path
    sha256: str
    size: int


class ImageStore:
    """The `.images` folder. Relative names come from `svimaged.core.names.*_rel`.

    Folders get `dir_mode`, files `dir_mode & 0o666`, whatever the umask.
    """

    def __init__(self, root: Path, *, dir_mode: int = 0o755, anchor: Path | None = None) -> None:
        """`anchor` is the trusted folder above `root` (default: its parent, the recordings
        folder) from which every folder down to a file is opened without following links."""
        self.root = root
        self.anchor = anchor if anchor is not None else root.parent
        self.dir_mode = dir_mode
        self.file_mode = dir_mode & 0o666

    def resolve(self, rel: str) -> Path:
        """The absolute path for `rel`, or `UnsafeNameError` for absolute names, `..`, empty
        or dot components, and any existing symlink below the root on the way."""
        if not rel or rel.startswith("/"):
            raise UnsafeNameError(f"not a relative image name: {rel[:80]!r}")
        path = self.root
        for part in rel.split("/"):
            path = path / safe_component(part)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise UnsafeNameError(f"cannot inspect {rel!r}: {exc.strerror}") from None
            if stat.S_ISLNK(info.st_mode):
                raise UnsafeNameError(f"symlink in image path: {rel!r}")
        return path

    def store(self, rel: str, jpeg: bytes) -> StoredImage:
        """Write `jpeg` (must sniff as JPEG) to `rel` atomically; the old file stays on error."""
        if sniff(jpeg) != "jpeg":
            raise InvalidImageError(f"refusing to store non-JPEG bytes as {rel!r}")
        path = self.resolve(rel)
        try:
            with self._folder(rel, path.parent, create=True) as dir_fd:
                write_at(dir_fd, path.name, jpeg, self.file_mode)
                sync_folder(dir_fd)
        except OSError as exc:
            raise SvimagedError(f"cannot write image {rel}: {exc.strerror or exc}") from exc
        log.debug("stored image=%s bytes=%d", rel, len(jpeg))
        return StoredImage(rel, path, hashlib.sha256(jpeg).hexdigest(), len(jpeg))

    def import_file(
        self,
        rel: str,
        source: Path,
        *,
        max_bytes: int = MAX_IMPORT_BYTES,
        source_root: Path | None = None,
    ) -> StoredImage:
        """Cache a local image (e.g. `<stem>-thumb.jpg`) as `rel`.

        `source` is reached from `source_root` (default: the anchor, the recordings folder)
        without following links. A JPEG that `to_jpeg` leaves unchanged is hard-linked when
        the source is on the same file system and readable with the cache's file mode;
        everything else is converted and stored. A linked source (or a linked folder on the
        way) raises `UnsafeNameError`.
        """
        root = source_root if source_root is not None else self.anchor
        fd = _open_source(source, root)
        try:
            data = _read_bounded(fd, source, max_bytes)
            jpeg = to_jpeg(data)
            path = self.resolve(rel)
            if jpeg is data and self._link(rel, fd, source, root, path):
                log.debug("linked image=%s source=%s", rel, source)
                return StoredImage(rel, path, hashlib.sha256(data).hexdigest(), len(data))
        finally:
            os.close(fd)
        return self.store(rel, jpeg)

    def digest(self, rel: str) -> str | None:
        """sha256 of the cached regular file `rel`, or None when there is none (used when
        the state lost track of a file, so identical bytes are not written again)."""
        if not self.exists(rel):
            return None
        path = self.resolve(rel)
        try:
            with self._folder(rel, path.parent) as dir_fd:
                fd = os.open(path.name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dir_fd)
        except (OSError, UnsafeNameError):
            return None
        try:
            return hashlib.sha256(_read_bounded(fd, Path(rel), MAX_IMPORT_BYTES)).hexdigest()
        except InvalidImageError:
            return None
        finally:
            os.close(fd)

    def import_digest(
        self, source: Path, *, max_bytes: int = MAX_IMPORT_BYTES, source_root: Path | None = None
    ) -> str:
        """sha256 of what `import_file(…, source)` would store, without storing it."""
        fd = _open_source(source, source_root if source_root is not None else self.anchor)
        try:
            return hashlib.sha256(to_jpeg(_read_bounded(fd, source, max_bytes))).hexdigest()
        finally:
            os.close(fd)

    def exists(self, rel: str) -> bool:
        """True when `rel` is a regular file in the cache."""
        return self.read_meta(rel) is not None

    def read_meta(self, rel: str) -> tuple[int, int] | None:
        """`(size, mtime_ns)` of the cached regular file, or None when absent. A linked
        folder on the way (or a file where a folder should be) raises `UnsafeNameError`."""
        path = self.resolve(rel)
        try:
            with self._folder(rel, path.parent) as dir_fd:
                info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SvimagedError(f"cannot stat image {rel}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_size, info.st_mtime_ns

    def remove_temp(self, rel: str) -> bool:
        """Unlink a leftover temporary file of an atomic write (hidden name, so `resolve`
        refuses it); anything not named like one raises `UnsafeNameError`."""
        parent, _, name = rel.rpartition("/")
        if not TEMP_NAME.fullmatch(name):
            raise UnsafeNameError(f"not a temporary file name: {rel[:80]!r}")
        folder = self.resolve(parent) if parent else self.root
        return self._unlink(rel, folder, name, temporary=True)

    def remove(self, rel: str) -> bool:
        """Unlink a cached file; False when it was absent."""
        path = self.resolve(rel)
        removed = self._unlink(rel, path.parent, path.name, temporary=False)
        if removed:
            log.debug("removed image=%s", rel)
        return removed

    def _unlink(self, rel: str, folder: Path, name: str, *, temporary: bool) -> bool:
        try:
            with self._folder(rel, folder) as dir_fd:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if temporary and not stat.S_ISREG(info.st_mode):
                    raise UnsafeNameError(f"not a regular file: {rel!r}")
                os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SvimagedError(f"cannot remove {rel}: {exc.strerror or exc}") from exc
        return True

    @contextlib.contextmanager
    def _folder(self, rel: str, folder: Path, *, create: bool = False) -> Iterator[int]:
        """The cache folder `folder` of `rel`, opened from the anchor without following
        links (made, with the cache's folder mode, when `create`)."""
        try:
            with folder_at(
                self.anchor, folder, create_mode=self.dir_mode if create else None
            ) as dir_fd:
                yield dir_fd
        except LinkRefusedError as exc:
            raise UnsafeNameError(f"symlink in image path: {rel!r} ({exc.filename})") from None

    def _link(self, rel: str, fd: int, source: Path, source_root: Path, target: Path) -> bool:
        """Hard-link `source` (the file open as `fd`) to `target` atomically; False when a
        link is not possible or not suitable (other file system, permissions, swapped)."""
        info = os.fstat(fd)
        if info.st_mode & self.file_mode != self.file_mode:
            return False
        try:
            with (
                folder_at(source_root, source.parent) as src_dir,
                self._folder(rel, target.parent, create=True) as dir_fd,
            ):
                if not link_at(src_dir, source.name, dir_fd, target.name):
                    log.debug("hard link not possible source=%s", source)
                    return False
                linked = os.stat(target.name, dir_fd=dir_fd, follow_symlinks=False)
                if (linked.st_dev, linked.st_ino) != (info.st_dev, info.st_ino):
                    os.unlink(target.name, dir_fd=dir_fd)  # swapped meanwhile: not ours
                    return False
                sync_folder(dir_fd)
        except (OSError, LinkRefusedError) as exc:
            raise SvimagedError(f"cannot link image {target.name}: {exc.strerror}") from exc
        return True


def _open_source(source: Path, root: Path) -> int:
    """The local image `source`, opened from `root` without following any link."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        with folder_at(root, source.parent) as dir_fd:
            fd = os.open(source.name, flags, dir_fd=dir_fd)
    except LinkRefusedError:
        raise UnsafeNameError(
            f"refusing an image source reached through a link: {source}"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeNameError(f"refusing symlinked image source: {source}") from None
        raise InvalidImageError(f"cannot open {source}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidImageError(f"not a regular file: {source}")
    return fd


def _read_bounded(fd: int, source: Path, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := os.read(fd, 1024 * 1024):
            total += len(chunk)
            if total > max_bytes:
                raise InvalidImageError(f"image file over {max_bytes} bytes: {source}")
            chunks.append(chunk)
    except OSError as exc:
        raise InvalidImageError(f"cannot read {source}: {exc.strerror}") from None
    return b"".join(chunks)
