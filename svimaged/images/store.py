"""Atomic storage under `.images` (contract section 3.1). `ImageStore` maps the relative
names built by `svimaged.core.names` to files below its root, never through a symlink, and
writes them atomically; what it stores is always a JPEG (`codec`).

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
from dataclasses import dataclass
from pathlib import Path

from svimaged.core.atomic import atomic_write, fsync_dir, temp_name_for
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

    def __init__(self, root: Path, *, dir_mode: int = 0o755) -> None:
        self.root = root
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
        self._make_dirs(rel, path.parent)
        try:
            atomic_write(path, jpeg, self.file_mode)
        except OSError as exc:
            raise SvimagedError(f"cannot write image {rel}: {exc.strerror or exc}") from exc
        log.debug("stored image=%s bytes=%d", rel, len(jpeg))
        return StoredImage(rel, path, hashlib.sha256(jpeg).hexdigest(), len(jpeg))

    def import_file(
        self, rel: str, source: Path, *, max_bytes: int = MAX_IMPORT_BYTES
    ) -> StoredImage:
        """Cache a local image (e.g. `<stem>-thumb.jpg`) as `rel`.

        A JPEG that `to_jpeg` leaves unchanged is hard-linked when the source is on the same
        file system and readable with the cache's file mode; everything else is converted
        and stored. A symlinked source raises `UnsafeNameError`.
        """
        fd = _open_source(source)
        try:
            data = _read_bounded(fd, source, max_bytes)
            jpeg = to_jpeg(data)
            path = self.resolve(rel)
            self._make_dirs(rel, path.parent)
            if jpeg is data and self._link(fd, source, path):
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
        try:
            fd = os.open(self.resolve(rel), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            return hashlib.sha256(_read_bounded(fd, Path(rel), MAX_IMPORT_BYTES)).hexdigest()
        except InvalidImageError:
            return None
        finally:
            os.close(fd)

    def import_digest(self, source: Path, *, max_bytes: int = MAX_IMPORT_BYTES) -> str:
        """sha256 of what `import_file(…, source)` would store, without storing it."""
        fd = _open_source(source)
        try:
            return hashlib.sha256(to_jpeg(_read_bounded(fd, source, max_bytes))).hexdigest()
        finally:
            os.close(fd)

    def exists(self, rel: str) -> bool:
        """True when `rel` is a regular file in the cache."""
        return self.read_meta(rel) is not None

    def read_meta(self, rel: str) -> tuple[int, int] | None:
        """`(size, mtime_ns)` of the cached regular file, or None when absent."""
        try:
            info = os.lstat(self.resolve(rel))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SvimagedError(f"cannot stat image {rel}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_size, info.st_mtime_ns

    def remove_temp(self, rel: str) -> bool:
        """Unlink a leftover temporary file of `atomic_write` (hidden name, so `resolve`
        refuses it); anything not named like one raises `UnsafeNameError`."""
        parent, _, name = rel.rpartition("/")
        if not TEMP_NAME.fullmatch(name):
            raise UnsafeNameError(f"not a temporary file name: {rel[:80]!r}")
        path = (self.resolve(parent) if parent else self.root) / name
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise UnsafeNameError(f"not a regular file: {rel!r}")
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SvimagedError(f"cannot remove {rel}: {exc.strerror or exc}") from exc
        return True

    def remove(self, rel: str) -> bool:
        """Unlink a cached file; False when it was absent."""
        path = self.resolve(rel)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SvimagedError(f"cannot remove image {rel}: {exc.strerror or exc}") from exc
        log.debug("removed image=%s", rel)
        return True

    def _make_dirs(self, rel: str, folder: Path) -> None:
        """`mkdir -p` from the root's parent down to `folder`, chmod-ing what it creates."""
        try:
            missing: list[Path] = []
            current = folder
            while not current.is_dir() and current != self.root.parent:
                missing.append(current)
                current = current.parent
            for created in reversed(missing):
                with contextlib.suppress(FileExistsError):
                    created.mkdir(mode=self.dir_mode)
                    os.chmod(created, self.dir_mode)
        except OSError as exc:
            raise SvimagedError(f"cannot create folder for image {rel}: {exc.strerror}") from exc
        # A symlink created between `resolve` and `mkdir` is refused here.
        self.resolve(rel)

    def _link(self, fd: int, source: Path, target: Path) -> bool:
        """Hard-link `source` (the file open as `fd`) to `target` atomically; False when a
        link is not possible or not suitable (other file system, permissions, swapped)."""
        info = os.fstat(fd)
        if info.st_mode & self.file_mode != self.file_mode:
            return False
        tmp = temp_name_for(target)
        try:
            os.link(source, tmp, follow_symlinks=False)
        except OSError as exc:
            log.debug("hard link not possible source=%s error=%s", source, exc.strerror)
            return False
        try:
            linked = os.lstat(tmp)
            if (linked.st_dev, linked.st_ino) != (info.st_dev, info.st_ino):
                tmp.unlink()
                return False
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise SvimagedError(f"cannot link image {target.name}: {exc.strerror}") from exc
        fsync_dir(target.parent)
        return True


def _open_source(source: Path) -> int:
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(source, flags)
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
