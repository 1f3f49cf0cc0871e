"""The control routes as a WSGI application (PEP 3333), one per listener.

The raw request target (`REQUEST_URI`, still percent-encoded) goes to `Router.handle`, so
every name is decoded exactly once there; the answer goes back through `start_response`.
Image files go out through `wsgi.file_wrapper`, so the server streams them itself; a HEAD
sends the headers a GET would, without a body.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from svimaged.control import routes
from svimaged.control.routes import Router

log = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[[str, list[tuple[str, str]]], object]
App = Callable[[Environ, StartResponse], Iterable[bytes]]

_PLAIN = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
FILE_BLOCK = 64 * 1024


class EnvironHeaders:
    """The request headers of a WSGI environ, looked up case-insensitively (the `Headers`
    protocol of `control.files`). Repeated headers arrive joined by ", "."""

    def __init__(self, environ: Environ) -> None:
        self._environ = environ

    def get(self, name: str, /) -> str | None:
        key = name.upper().replace("-", "_")
        value = self._environ.get(key if key in _PLAIN else "HTTP_" + key)
        return value if isinstance(value, str) else None

    def get_all(self, name: str, /) -> list[str] | None:
        value = self.get(name)
        return None if value is None else [value]


def status_line(status: int) -> str:
    """`404 Not Found`."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def make_app(router: Router, *, over_tcp: bool) -> App:
    """The WSGI application of one listener (`over_tcp`: the TCP one)."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        target = str(environ.get("REQUEST_URI") or "/")
        request = routes.Request(method, target, EnvironHeaders(environ), over_tcp)
        try:
            response = router.handle(request)
        except Exception:  # Router.handle answers every error itself; this is a bug
            log.exception("control connection crashed method=%s target=%r", method, target[:200])
            response = routes.error_response(500, "internal", "internal error")
        headers = list(response.headers)
        if response.status != 304:
            headers.append(("Content-Length", str(response.length)))
        start_response(status_line(response.status), headers)
        if response.file is None:
            return [] if method == "HEAD" else [response.body]
        wrapper = environ["wsgi.file_wrapper"]
        stream = open(response.file.fd, "rb", closefd=True)  # noqa: SIM115 (waitress closes it)
        return cast(Iterable[bytes], wrapper(stream, FILE_BLOCK))

    return app
