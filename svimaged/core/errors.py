"""One exception hierarchy for svimaged.

Every error the daemon raises on purpose is a `SvimagedError`. Each class carries the process
exit code (contract section 8) and the HTTP status plus error code (contract section 7) it
maps to, so the CLI and the control server never guess.
"""

from __future__ import annotations


class SvimagedError(Exception):
    """Base of all svimaged errors; `str(err)` is a one-line message naming the culprit."""

    exit_code: int = 1
    http_status: int = 500
    code: str = "internal"


class ConfigError(SvimagedError):
    """The configuration is invalid. `problems` holds one `key.path: message` line each."""

    exit_code = 2
    http_status = 400
    code = "config"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class UsageError(SvimagedError):
    """Bad command-line usage or a bad request body."""

    exit_code = 2
    http_status = 400
    code = "bad_request"


class UnsafeNameError(SvimagedError):
    """A name that must become a path component contains `/`, `..`, NUL or a leading dot."""

    exit_code = 2
    http_status = 400
    code = "bad_name"


class NotFoundError(SvimagedError):
    """An unknown id, name or file."""

    http_status = 404
    code = "not_found"


class MetadataError(SvimagedError):
    """A metadata file in the tree (info.json, NFO) could not be read or understood."""

    code = "metadata"


class NfoParseError(MetadataError):
    """An existing NFO is not well-formed XML; it must be left byte-for-byte as it is."""

    code = "nfo_parse"


class FetchError(SvimagedError):
    """A download failed (network, HTTP status, policy, size)."""

    http_status = 502
    code = "fetch"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class DisallowedURLError(FetchError):
    """The URL (or a redirect hop) breaks the download policy: scheme, host or address."""

    code = "disallowed_url"


class TooLargeError(FetchError):
    """The body exceeded `download.max_bytes`."""

    code = "too_large"


class InvalidImageError(SvimagedError):
    """The bytes are not a usable image (HTML page, truncated, bomb, unknown format)."""

    http_status = 502
    code = "invalid_image"


class HelixError(SvimagedError):
    """Twitch Helix answered with an error or could not be reached."""

    http_status = 502
    code = "helix"


class RateLimitedError(HelixError):
    """Helix asked for a wait longer than the caller's wait budget has left."""

    code = "rate_limited"


class NeedsCredentialsError(HelixError):
    """The operation needs Twitch credentials and none are configured."""

    code = "needs_credentials"


class NotifyError(SvimagedError):
    """A media server did not take a notification (contract section 9, `notify`).

    `transient` errors (no connection, a timeout, a 5xx or 429) are retried with backoff;
    the others (401, 404, an answer that makes no sense, no library holding the path) are
    not, since asking again would get the same answer."""

    http_status = 502
    code = "notify"

    def __init__(self, message: str, *, transient: bool) -> None:
        self.transient = transient
        super().__init__(message)


class StateError(SvimagedError):
    """The state database could not be opened, migrated or written."""

    code = "state"


class ShuttingDownError(SvimagedError):
    """The daemon is stopping and takes no new work."""

    http_status = 503
    code = "shutting_down"


class BusyError(SvimagedError):
    """Too much work is waiting already (the job queue is full); ask again later."""

    http_status = 503
    code = "busy"


class IncompleteScanError(SvimagedError):
    """Part of the tree could not be listed, so nothing may be deleted on its account."""

    http_status = 409
    code = "incomplete_scan"


class DaemonUnreachableError(SvimagedError):
    """The control socket does not answer: no daemon, a stale socket, or a timeout."""

    exit_code = 3
    code = "unreachable"
