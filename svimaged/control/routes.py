"""The routes of the control protocol (contract section 7): request in, response out.

`read_head`/`body_length` read a request within the size limits from any byte stream;
`Router.handle` turns a parsed `Request` into a `Response` (route table, name rules, image
files). Nothing here knows about sockets (see `control.server`). Every name from the URL is
percent-decoded exactly once and validated before any file system access. Image files are
opened relative to directory fds with `O_NOFOLLOW` at every level below `images_root`, so a
symlink inside `.images` never leads out of it.
"""

from __future__ import annotations

import email.utils
import errno
import hmac
import json
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, unquote_to_bytes

from svimaged.control.api import ControlApi
from svimaged.core import names as paths
from svimaged.core.errors import NotFoundError, SvimagedError, UnsafeNameError, UsageError

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 64
MAX_BODY = 64 * 1024
JSON_TYPE = "application/json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CHUNK = 64 * 1024
CATEGORY_NAME_MAX = 200
#: `POST /api/images/sync?wait=1` answers at the latest after this many seconds (then 202).
SYNC_WAIT_MAX = 3600.0
_WAIT_SLICE = 1.0
_TRUE = frozenset({"", "1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
_NO_STORE = ("Cache-Control", "no-store")


class Headers(Protocol):
    """Request headers looked up case-insensitively (`email.message.Message` fits)."""

    def get(self, name: str, /) -> str | None: ...

    def get_all(self, name: str, /) -> list[str] | None: ...


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


@dataclass(frozen=True)
class Request:
    """One parsed request. `target` is the raw request target (still percent-encoded);
    `headers` as parsed by `http.server`."""

    method: str
    target: str
    headers: Headers
    over_tcp: bool = False


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


@dataclass
class Response:
    """Status, headers and either `body` bytes or an open `file` (never both)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    file: FileBody | None = None
    #: HEAD of an image: the length a GET would send (no body is sent).
    head_length: int | None = None

    @property
    def length(self) -> int:
        """The Content-Length to announce."""
        if self.head_length is not None:
            return self.head_length
        return self.file.length if self.file is not None else len(self.body)


def json_response(status: int, data: object) -> Response:
    """A JSON response (UTF-8, no ASCII escaping)."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(status, [("Content-Type", JSON_TYPE), _NO_STORE], body)


def error_response(status: int, code: str, message: str) -> Response:
    """The contract's error body `{"error": {"code", "message"}}`."""
    return json_response(status, {"error": {"code": code, "message": message}})


Params = list[str]
Query = dict[str, list[str]]
Handler = Callable[[Request, Params, Query], Response]


class Router:
    """Maps requests to `ControlApi` calls. Thread-safe as long as the api is.

    `token`: the bearer token POST routes need over TCP (None: every POST over TCP is 403).
    `stopping()`: True once the server is stopping (ends `?wait=1` early).
    """

    def __init__(
        self, api: ControlApi, *, token: str | None, stopping: Callable[[], bool] = bool
    ) -> None:
        self._api = api
        self._token = token
        self._stopping = stopping
        self._routes: list[tuple[tuple[str, ...], str, Handler]] = [
            (("data", "images", "profiles", "*"), "GET", self._profile_image),
            (("data", "images", "categories", "*"), "GET", self._category_image),
            (("data", "images", "artwork", "*", "*"), "GET", self._artwork_image),
            (("api", "images", "stats"), "GET", self._stats),
            (("api", "images", "streamer", "*"), "GET", self._streamer),
            (("api", "images", "streamer", "*", "download"), "POST", self._streamer_download),
            (("api", "images", "category", "*"), "GET", self._category),
            (("api", "images", "category", "*", "download"), "POST", self._category_download),
            (("api", "images", "sync"), "POST", self._sync),
            (("api", "jobs", "*"), "GET", self._job),
            (("api", "images", "cleanup"), "POST", self._cleanup),
            (("healthz",), "GET", self._healthz),
            (("metrics",), "GET", self._metrics),
        ]

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises (unexpected errors become a logged 500)."""
        try:
            return self._dispatch(request)
        except SvimagedError as exc:
            if exc.http_status >= 500 and exc.http_status not in (502, 503):
                log.error("control route failed code=%s error=%s", exc.code, exc)
            return error_response(exc.http_status, exc.code, str(exc))
        except Exception:
            log.exception(
                "control route crashed method=%s target=%r", request.method, request.target[:200]
            )
            return error_response(500, "internal", "internal error")

    def _dispatch(self, request: Request) -> Response:
        path, query = _split_target(request.target)
        segments = path.split("/")[1:]
        matches = [
            (m, fn, params)
            for pat, m, fn in self._routes
            if (params := _params(pat, segments)) is not None
        ]
        if not matches:
            raise NotFoundError(f"no such route: {path[:200]}")
        method = "GET" if request.method == "HEAD" else request.method
        for allowed, fn, params in matches:
            if allowed == method:
                return self._call(request, allowed, fn, params, query)
        allow = {m for m, _, _ in matches}
        allow |= {"HEAD"} if "GET" in allow else set()
        response = error_response(
            405, "method_not_allowed", f"method {request.method[:20]!r} not allowed here"
        )
        response.headers.append(("Allow", ", ".join(sorted(allow))))
        return response

    def _call(
        self, request: Request, method: str, fn: Handler, params: Params, query: str
    ) -> Response:
        healthz = fn == self._healthz
        if self._api.shutting_down() and not healthz:
            return error_response(503, "shutting_down", "svimaged is shutting down")
        if method == "POST" and request.over_tcp:
            self._check_token(request)
        try:
            qs = parse_qs(query, keep_blank_values=True, max_num_fields=20)
        except ValueError as exc:
            raise UsageError("more than 20 query parameters") from exc
        return fn(request, params, qs)

    def _check_token(self, request: Request) -> None:
        if self._token is None:
            raise _Forbidden("POST over TCP is disabled: no http.token is configured")
        given = request.headers.get("Authorization") or ""
        scheme, _, value = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode("utf-8", "surrogateescape"), self._token.encode("utf-8")
        )
        if not ok:
            raise _Forbidden("missing or wrong bearer token")

    # -- image files --------------------------------------------------------------------

    def _profile_image(self, req: Request, params: Params, _q: Query) -> Response:
        name = _name(params[0], paths.PROFILE_NAME.fullmatch)
        return self._serve(req, (paths.PROFILES_DIR,), name)

    def _category_image(self, req: Request, params: Params, _q: Query) -> Response:
        name = _name(params[0], paths.CATEGORY_NAME.fullmatch)
        return self._serve(req, (paths.CATEGORIES_DIR,), name)

    def _artwork_image(self, req: Request, params: Params, _q: Query) -> Response:
        streamer_id = _name(params[0], paths.is_safe_id)
        name = _name(params[1], paths.ARTWORK_NAME.fullmatch)
        return self._serve(req, (paths.ARTWORK_DIR, streamer_id), name)

    def _serve(self, req: Request, folders: tuple[str, ...], name: str) -> Response:
        """Serve `images_root/<folders>/<name>`: stat first (304 and HEAD never open the
        file), then open it with O_NOFOLLOW and describe what was actually opened."""
        dir_fd = _open_folder(os.fspath(self._api.images_root), folders)
        try:
            st = _lstat_file(name, dir_fd)
            headers = _file_headers(st)
            if _not_modified(req.headers, _etag(st), st):
                return Response(304, headers)
            if req.method == "HEAD":
                return Response(200, headers, head_length=st.st_size)
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(name, flags, dir_fd=dir_fd)
            except OSError as exc:
                raise NotFoundError(f"no such image: {name}") from exc
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                os.close(fd)
                raise NotFoundError(f"no such image: {name}")
            return Response(200, _file_headers(opened), file=FileBody(fd, opened.st_size))
        finally:
            os.close(dir_fd)

    # -- JSON routes --------------------------------------------------------------------

    def _stats(self, _r: Request, _p: Params, _q: Query) -> Response:
        return json_response(200, self._api.stats())

    def _streamer(self, _r: Request, params: Params, _q: Query) -> Response:
        return json_response(200, self._api.streamer(_ident(params[0])))

    def _streamer_download(self, _r: Request, params: Params, q: Query) -> Response:
        key = _ident(params[0])
        return json_response(200, self._api.download_streamer(key, force=_flag(q, "force")))

    def _category(self, _r: Request, params: Params, _q: Query) -> Response:
        return json_response(200, self._api.category(_category_name(params[0])))

    def _category_download(self, _r: Request, params: Params, q: Query) -> Response:
        name = _category_name(params[0])
        return json_response(200, self._api.download_category(name, force=_flag(q, "force")))

    def _sync(self, _r: Request, _p: Params, q: Query) -> Response:
        wait = _flag(q, "wait")
        job_id = self._api.start_sync()
        if wait:
            deadline = time.monotonic() + SYNC_WAIT_MAX
            while not self._stopping() and (left := deadline - time.monotonic()) > 0:
                result = self._api.wait_job(job_id, min(_WAIT_SLICE, left))
                if result.get("state", "done") not in ("queued", "running"):
                    return json_response(200, result)
                if self._api.shutting_down():
                    return error_response(503, "shutting_down", "svimaged is shutting down")
        return json_response(202, {"job_id": job_id, "queued": True})

    def _job(self, _r: Request, params: Params, _q: Query) -> Response:
        return json_response(200, self._api.job(_ident(params[0])))

    def _cleanup(self, _r: Request, _p: Params, q: Query) -> Response:
        return json_response(200, self._api.cleanup(dry_run=_flag(q, "dry_run")))

    def _healthz(self, _r: Request, _p: Params, _q: Query) -> Response:
        if self._api.shutting_down():
            return json_response(503, {"status": "stopping", "version": self._api.version})
        return json_response(200, {"status": "ok", "version": self._api.version})

    def _metrics(self, _r: Request, _p: Params, _q: Query) -> Response:
        body = self._api.metrics().encode("utf-8")
        return Response(200, [("Content-Type", METRICS_TYPE), _NO_STORE], body)


class _Forbidden(SvimagedError):
    """POST over TCP without the right bearer token (module-private: never leaves here)."""

    http_status = 403
    code = "forbidden"


def _split_target(target: str) -> tuple[str, str]:
    """Path and query of a request target; absolute-form (`http://host/path`) is accepted."""
    target = target.partition("#")[0]
    if re.match(r"(?i)https?://", target):
        rest = target.split("://", 1)[1]
        target = "/" + rest.partition("/")[2] if "/" in rest else "/"
    path, _, query = target.partition("?")
    if not path.startswith("/"):
        raise UsageError(f"request target must start with '/': {path[:60]!r}")
    return path, query


def _params(pattern: tuple[str, ...], segments: list[str]) -> list[str] | None:
    """The raw `*` segments if `segments` fit `pattern` (literals compared raw), else None."""
    params = []
    if len(pattern) != len(segments):
        return None
    for want, got in zip(pattern, segments, strict=True):
        if want == "*":
            params.append(got)
        elif want != got:
            return None
    return params


def _decode(raw: str) -> str:
    """Percent-decode one raw path segment exactly once, as UTF-8 (strict)."""
    try:
        return unquote_to_bytes(raw.encode("latin-1")).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:
        raise UnsafeNameError(f"name is not valid UTF-8: {raw[:60]!r}") from exc


def _name(raw: str, valid: Callable[[str], object]) -> str:
    """A decoded file name or id: 400 for separators, NUL, control characters, `..`, a
    leading dot or over 255 bytes; 404 when it is not a name the daemon ever writes."""
    name = paths.safe_component(_decode(raw))
    if ".." in name:
        raise UnsafeNameError(f"name contains '..': {name[:60]!r}")
    if not valid(name):
        raise NotFoundError(f"no such image: {name[:60]!r}")
    return name


def _ident(raw: str) -> str:
    """A Twitch id, login or job id: `[0-9A-Za-z_-]{1,128}` after decoding, else 400."""
    return paths.safe_id(_decode(raw))


def _category_name(raw: str) -> str:
    """A category name (may contain `/` as `%2F`); no NUL/control characters, 1-200 chars."""
    name = _decode(raw)
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise UnsafeNameError(f"category name must be 1 to {CATEGORY_NAME_MAX} characters")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name):
        raise UnsafeNameError(f"category name contains a control character: {name[:60]!r}")
    return name


def _flag(query: dict[str, list[str]], key: str) -> bool:
    """A query flag: absent/0/false/no -> False; (empty)/1/true/yes -> True; else 400."""
    values = query.get(key)
    if not values:
        return False
    value = values[-1].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"query flag {key} must be 1/true/yes or 0/false/no, not {value[:20]!r}")


def _open_folder(root: str, folders: tuple[str, ...]) -> int:
    """A directory fd for `root/<folders...>`, refusing symlinks below `root` (404)."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:  # nothing cached yet, or .images unreadable
        _log_odd(exc, root)
        raise NotFoundError("no such image folder") from exc
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    for folder in folders:
        try:
            sub = os.open(folder, flags, dir_fd=fd)
        except OSError as exc:
            os.close(fd)
            _log_odd(exc, folder)
            raise NotFoundError(f"no such image folder: {folder}") from exc
        os.close(fd)
        fd = sub
    return fd


def _lstat_file(name: str, dir_fd: int) -> os.stat_result:
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


def _file_headers(st: os.stat_result) -> list[tuple[str, str]]:
    """Content-Type, ETag (strong: size + mtime_ns), Last-Modified, Cache-Control."""
    return [
        ("Content-Type", "image/jpeg"),
        ("ETag", _etag(st)),
        ("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)),
        ("Cache-Control", "no-cache"),
    ]


def _etag(st: os.stat_result) -> str:
    """A strong ETag from size and mtime_ns (files are replaced by rename, never edited)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _not_modified(headers: Headers, etag: str, st: os.stat_result) -> bool:
    """RFC 9110 13.1: If-None-Match wins; If-Modified-Since only when it is absent."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return any(t == "*" or t.removeprefix("W/") == etag for t in tags)
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
