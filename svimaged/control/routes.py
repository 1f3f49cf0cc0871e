"""The routes of the control protocol (contract section 7): request in, response out.

`Router.handle` turns a parsed `Request` into a `Response` (route table, name rules, flags,
the bearer token over TCP). Nothing here knows about sockets (see `control.server`) or how
image files are opened (see `control.files`). Every name from the URL is percent-decoded
exactly once and validated before any file system access.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qs, unquote_to_bytes

from svimaged.control import files
from svimaged.control.api import ControlApi
from svimaged.control.files import FileBody, Headers
from svimaged.core import names as paths
from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import NotFoundError, SvimagedError, UnsafeNameError, UsageError

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CATEGORY_NAME_MAX = 200
#: `POST /api/images/sync?wait=1` answers at the latest after this many seconds (then 202).
SYNC_WAIT_MAX = 3600.0
_WAIT_SLICE = 1.0
_TRUE = frozenset({"", "1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
_NO_STORE = ("Cache-Control", "no-store")


@dataclass(frozen=True)
class Request:
    """One parsed request. `target` is the raw request target (still percent-encoded);
    `headers` as parsed by `http.server`."""

    method: str
    target: str
    headers: Headers
    over_tcp: bool = False


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


class Route(NamedTuple):
    """`pattern` segments (`*` matches one), the method, the handler and, for a POST, the
    only query flags it takes (anything else in its query is a 400: a typo such as
    `dry-run=1` must never run the real thing)."""

    pattern: tuple[str, ...]
    method: str
    fn: Handler
    flags: frozenset[str] = frozenset()


class Router:
    """Maps requests to `ControlApi` calls. Thread-safe as long as the api is.

    `token`: the bearer token POST routes need over TCP (None: every POST over TCP is 403).
    `tcp_host(host)`: whether a request over TCP with that `Host` header is for us (see
    `control.hosts`; None: every request over TCP is refused). `stopping()`: True once the
    server is stopping (ends `?wait=1` early). `clock` times the `?wait=1` limit.
    """

    def __init__(
        self,
        api: ControlApi,
        *,
        token: str | None,
        tcp_host: Callable[[str | None], bool] | None = None,
        stopping: Callable[[], bool] = bool,
        clock: Clock | None = None,
    ) -> None:
        self._api = api
        self._token = token
        self._tcp_host = tcp_host
        self._stopping = stopping
        self._clock = clock or SystemClock()
        force, wait, dry_run = frozenset({"force"}), frozenset({"wait"}), frozenset({"dry_run"})
        self._routes = [
            Route(("data", "images", "profiles", "*"), "GET", self._profile_image),
            Route(("data", "images", "categories", "*"), "GET", self._category_image),
            Route(("data", "images", "artwork", "*", "*"), "GET", self._artwork_image),
            Route(("data", "images", "backdrops", "*"), "GET", self._backdrop_image),
            Route(("api", "images", "stats"), "GET", self._stats),
            Route(("api", "images", "streamer", "*"), "GET", self._streamer),
            Route(("api", "images", "streamer", "*", "download"), "POST", self._streamer_download,
                  force),
            Route(("api", "images", "category", "*"), "GET", self._category),
            Route(("api", "images", "category", "*", "download"), "POST", self._category_download,
                  force),
            Route(("api", "images", "sync"), "POST", self._sync, wait | {"full"}),
            Route(("api", "jobs", "*"), "GET", self._job),
            Route(("api", "images", "cleanup"), "POST", self._cleanup, dry_run),
            Route(("healthz",), "GET", self._healthz),
            Route(("metrics",), "GET", self._metrics),
        ]  # fmt: skip

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
        if request.over_tcp:
            self._check_host(request)
        path, query = _split_target(request.target)
        segments = path.split("/")[1:]
        matches = [
            (route, params)
            for route in self._routes
            if (params := _params(route.pattern, segments)) is not None
        ]
        if not matches:
            raise NotFoundError(f"no such route: {path[:200]}")
        method = "GET" if request.method == "HEAD" else request.method
        for route, params in matches:
            if route.method == method:
                return self._call(request, route, params, query)
        allow = {route.method for route, _ in matches}
        allow |= {"HEAD"} if "GET" in allow else set()
        response = error_response(
            405, "method_not_allowed", f"method {request.method[:20]!r} not allowed here"
        )
        response.headers.append(("Allow", ", ".join(sorted(allow))))
        return response

    def _call(self, request: Request, route: Route, params: Params, query: str) -> Response:
        if self._api.shutting_down() and route.fn != self._healthz:
            return error_response(503, "shutting_down", "svimaged is shutting down")
        if route.method == "POST" and request.over_tcp:
            self._check_token(request)
        try:
            qs = parse_qs(query, keep_blank_values=True, max_num_fields=20)
        except ValueError as exc:
            raise UsageError("more than 20 query parameters") from exc
        if route.method == "POST" and (unknown := sorted(set(qs) - route.flags)):
            takes = ", ".join(sorted(route.flags)) or "none"
            raise UsageError(
                f"unknown query parameter {unknown[0][:40]!r} (this route takes: {takes})"
            )
        return route.fn(request, params, qs)

    def _check_host(self, request: Request) -> None:
        """Over TCP, exactly one `Host` header naming this listener (DNS rebinding)."""
        hosts = request.headers.get_all("Host") or []
        host = hosts[0] if len(hosts) == 1 else None
        if self._tcp_host is None or not self._tcp_host(host):
            shown = "none" if host is None else repr(host[:100])
            raise _BadHost(f"Host header {shown} does not name this listener (http.listen)")

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

    def _backdrop_image(self, req: Request, params: Params, _q: Query) -> Response:
        name = _name(params[0], paths.BACKDROP_NAME.fullmatch)
        return self._serve(req, (paths.BACKDROPS_DIR,), name)

    def _artwork_image(self, req: Request, params: Params, _q: Query) -> Response:
        streamer_id = _name(params[0], paths.is_safe_id)
        name = _name(params[1], paths.ARTWORK_NAME.fullmatch)
        return self._serve(req, (paths.ARTWORK_DIR, streamer_id), name)

    def _serve(self, req: Request, folders: tuple[str, ...], name: str) -> Response:
        root = os.fspath(self._api.images_root)
        answer = files.serve_image(root, folders, name, req.method, req.headers)
        if answer.file is None and answer.status == 200:
            return Response(200, answer.headers, head_length=answer.size)
        return Response(answer.status, answer.headers, file=answer.file)

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
        job_id = self._api.start_sync(full=_flag(q, "full"))
        if wait:
            deadline = self._clock.monotonic() + SYNC_WAIT_MAX
            while not self._stopping() and (left := deadline - self._clock.monotonic()) > 0:
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


class _BadHost(SvimagedError):
    """A request over TCP whose `Host` is not this listener (module-private)."""

    http_status = 400
    code = "bad_host"


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
    """A query flag: absent/0/false/no -> False; (empty)/1/true/yes -> True; given more than
    once (even with the same value) or anything else -> 400."""
    values = query.get(key)
    if not values:
        return False
    if len(values) > 1:
        raise UsageError(f"query flag {key} given {len(values)} times; give it once")
    value = values[0].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"query flag {key} must be 1/true/yes or 0/false/no, not {value[:20]!r}")
