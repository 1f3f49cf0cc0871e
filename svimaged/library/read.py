"""Where metadata comes from: local sources (info.json, NFO, names) and their merge chain.

Each source module turns one kind of input into a `RecordingMeta` or `ShowMeta` in which
`None` means "this source does not know". `chain` merges them in contract section 2 order.
This package module holds the one bounded, non-blocking file read the sources share.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from svimaged.core.errors import MetadataError

__all__ = ["read_bounded"]


def read_bounded(path: str | Path, limit: int) -> bytes:
    """Read at most `limit + 1` bytes of the regular file `path`.

    Returning one byte more than `limit` lets the parser report "too large" itself. The file
    is opened non-blocking and must be a regular file, so a FIFO or device named like a
    metadata file can never hang the scan. Any `OSError` becomes a `MetadataError` naming
    the path.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise MetadataError(f"cannot open {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MetadataError(f"not a regular file: {str(path)!r}")
        chunks: list[bytes] = []
        remaining = limit + 1
        # One read for a file that does not grow meanwhile: asking for one byte more than
        # its size returns all of it, and a shorter answer than asked for is its end.
        want = min(remaining, info.st_size + 1, 1 << 20)
        while remaining > 0:
            chunk = os.read(fd, want)
            chunks.append(chunk)
            remaining -= len(chunk)
            if len(chunk) < want:
                break
            want = min(remaining, 1 << 20)
        return b"".join(chunks)
    except OSError as exc:
        raise MetadataError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
