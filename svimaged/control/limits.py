"""Reading one request within the protocol limits (SPEC section 7), from any byte stream.

Request line <= 8 KiB (414), <= 64 headers and 16 KiB of them (431), bodies only with
Content-Length (411), <= 64 KiB (413), none on GET/HEAD (400). Nothing here knows about
sockets or routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from svimaged.control.files import Headers

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 64
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Refusal:
    """A request refused by the protocol limits: answer `status` and hang up."""

    status: int
    message: str


class LineReader(Protocol):
    """A buffered byte stream (the handler's `rfile`)."""

    def readline(self, size: int, /) -> bytes: ...


def read_head(rfile: LineReader) -> tuple[bytes, bytes] | Refusal | None:
    """Request line and header block (through the blank line) within the limits. None: the
    peer closed or was cut off mid-way; a `Refusal` (414/431) when a limit is exceeded."""
    line = rfile.readline(MAX_REQUEST_LINE + 1)
    if len(line) > MAX_REQUEST_LINE:
        return Refusal(414, "request line longer than 8 KiB")
    if not line.endswith(b"\n"):
        return None
    block = bytearray()
    for _ in range(MAX_HEADERS + 1):
        room = MAX_HEADER_BYTES - len(block)
        header = rfile.readline(room + 1)
        if len(header) > room:
            return Refusal(431, "request headers longer than 16 KiB")
        if not header.endswith(b"\n"):
            return None
        block += header
        if header in (b"\r\n", b"\n"):
            return line, bytes(block)
    return Refusal(431, f"more than {MAX_HEADERS} request headers")


def body_length(method: str, headers: Headers) -> int | Refusal:
    """Bytes of body to read (and drop: no route takes one): Content-Length only, at most
    64 KiB, none on GET/HEAD."""
    if headers.get("Transfer-Encoding") is not None:
        return Refusal(411, "request bodies need Content-Length")
    lengths = headers.get_all("Content-Length") or []
    if not lengths:
        return 0
    if len(lengths) > 1 or not re.fullmatch(r"[0-9]{1,12}", lengths[0].strip()):
        return Refusal(400, "bad Content-Length")
    length = int(lengths[0])
    if length and method in ("GET", "HEAD"):
        return Refusal(400, f"{method} requests take no body")
    if length > MAX_BODY:
        return Refusal(413, "request body larger than 64 KiB")
    return length
