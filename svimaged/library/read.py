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


_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
#: The first read's size: one read for any sidecar or NFO smaller than this.
FIRST_READ = 64 * 1024


def read_bounded(path: str | Path, limit: int) -> bytes:
    """Read at most `limit + 1` bytes of the regular file `path`.

    Returning one byte more than `limit` lets the parser report "too large" itself. The file
    is opened non-blocking, so a FIFO or device named like a metadata file can never hang
    the scan. Any `OSError` becomes a `MetadataError` naming the path.

    A file shorter than `FIRST_READ` is read with one `read` and no `fstat` (a pass reads
    one such file per recording, and system calls are a good part of its time): a short
    answer is the end of a regular file. A read that comes back full or empty asks what the
    file is: anything but a regular file is then refused ("not a regular file"), so it is
    never read past its first `FIRST_READ` bytes. (A FIFO that holds less than that at the
    moment gives what it holds, which the parsers then refuse like any other bad bytes.)
    """
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise MetadataError(f"cannot open {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        want = min(limit + 1, FIRST_READ)
        first = os.read(fd, want)
        if 0 < len(first) < want:
            return first
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MetadataError(f"not a regular file: {str(path)!r}")
        chunks = [first]
        remaining = limit + 1 - len(first)
        while remaining > 0 and len(chunks[-1]) == want:
            want = min(remaining, 1 << 20)
            chunks.append(os.read(fd, want))
            remaining -= len(chunks[-1])
        return b"".join(chunks)
    except OSError as exc:
        raise MetadataError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
