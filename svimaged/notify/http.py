"""The HTTP seam of the media-server clients: one request, its JSON answer or a `NotifyError`.

Requests go only where the config's `url` points: no proxies, `.netrc` or CA bundles from the
environment, no redirects (a redirect could carry a token header to another host), a
connect and a read timeout, and a cap on the answer. Credentials travel in headers, never in
the URL, so no message or log line can show them: an error names the method, the URL
without its query and what went wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from svimaged import __version__
from svimaged.core.errors import NotifyError

#: Seconds to connect, and to wait for an answer (a library listing can take a while).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
#: Largest answer read (a big library's item list is a few MiB).
MAX_BODY = 32 * 1024 * 1024
USER_AGENT = f"svimaged/{__version__}"

Params = Mapping[str, str]


class HttpClient:
    """One request at a time over a `requests.Session` that ignores the environment (the
    session may be injected)."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        session: requests.Session | None = None,
    ) -> None:
        self._timeout = timeout
        self._session = session if session is not None else requests.Session()
        self._session.trust_env = False  # no proxies, .netrc or CA bundles from outside

    def call(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Params | None = None,
        body: object = None,
    ) -> object:
        """Send one request; the answer's JSON, or None for an empty body. Raises
        `NotifyError`: transient for no connection, a timeout, 429 and 5xx; permanent for
        other statuses, redirects and answers that are not JSON."""
        what = f"{method} {_without_query(url)}"
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            sent["Content-Type"] = "application/json"
        try:
            with self._session.request(
                method,
                url,
                headers=sent,
                params=params,
                data=data,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
            ) as answer:
                raw = _read(answer, what)
                status = answer.status_code
        except requests.Timeout:
            raise NotifyError(f"{what}: timed out", transient=True) from None
        except requests.RequestException as exc:
            raise NotifyError(f"{what}: {connection_problem(exc)}", transient=True) from None
        check_status(status, what)
        return parse_json(raw, what)

    def close(self) -> None:
        self._session.close()


def _read(answer: requests.Response, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_content(65536):
        size += len(chunk)
        if size > MAX_BODY:
            raise NotifyError(f"{what}: answer larger than {MAX_BODY} bytes", transient=False)
        chunks.append(chunk)
    return b"".join(chunks)


def check_status(status: int, what: str) -> None:
    """Raise `NotifyError` for an HTTP status that is not a success, with a hint where the
    usual cause is known."""
    if 200 <= status < 300:
        return
    hints = {
        401: "check the credentials",
        403: "check the credentials and the user's rights",
        404: "check the url (and the server type)",
    }
    hint = hints.get(status, "")
    if 300 <= status < 400:
        hint = "set url to the address the server redirects to"
    message = f"{what}: HTTP {status}" + (f" ({hint})" if hint else "")
    raise NotifyError(message, transient=status == 429 or status >= 500)


def parse_json(raw: bytes, what: str) -> object:
    """The JSON in `raw` (None when empty); a body that is not JSON is a permanent error."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise NotifyError(f"{what}: the answer is not JSON", transient=False) from None


def connection_problem(exc: BaseException) -> str:
    """A short reason for a failed connection (`connection refused`, `name not known`...)."""
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("name or service not known", "host name not known"),
        ("nodename nor servname", "host name not known"),
        ("temporary failure in name resolution", "host name not resolvable now"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network unreachable"),
        ("reset by peer", "connection reset"),
        ("remote end closed", "connection closed by the server"),
        ("ssl", "TLS failed"),
    ):
        if needle in text:
            return reason
    return f"connection failed ({type(exc).__name__})"


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
