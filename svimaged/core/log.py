"""Logging setup and the `key=value` format of log lines.

One line per event, `LEVEL logger: message key=value ...`, on stderr; journald (or the
container runtime) adds the time. Values that could break a line or be misread (spaces,
quotes, `=`, control characters) are double-quoted with backslash escapes, so one event is
always exactly one line.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from svimaged.core.errors import ConfigError

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
#: Libraries whose DEBUG output (every inotify event, every PNG chunk) would drown ours.
CHATTY_LIBRARIES = ("PIL", "urllib3", "watchdog")
#: Field names whose values are never logged, whatever the caller passes.
SECRET_FIELDS = frozenset({"token", "secret", "client_secret", "password", "authorization"})

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
#: Characters that make a printable value need quotes.
_PLAIN_FORBIDDEN = re.compile(r'[ "=\\]')


class _SvimagedHandler(logging.StreamHandler[TextIO]):
    """Marks the one handler `setup_logging` owns, so a second call reuses it."""


def setup_logging(level: str, stream: TextIO | None = None) -> None:
    """Send log records at `level` (debug|info|warning|error) and above to `stream`
    (default: `sys.stderr` at call time) in `LOG_FORMAT`.

    Idempotent: calling again (e.g. on SIGHUP reload) changes the level and stream of the
    same handler instead of adding a second one. Other handlers on the root logger (such as
    pytest's) are left alone. Raises `ConfigError` for an unknown level.
    """
    numeric = LEVELS.get(level)
    if numeric is None:
        raise ConfigError([f"log_level: must be debug, info, warning or error, got {level!r}"])
    target = sys.stderr if stream is None else stream
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _SvimagedHandler)), None)
    if handler is None:
        handler = _SvimagedHandler(target)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    elif handler.stream is not target:
        try:
            handler.setStream(target)
        except ValueError:  # the old stream is closed already; nothing to flush
            handler.stream = target
    root.setLevel(numeric)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.INFO))


def kv(**fields: object) -> str:
    """Format `fields` as `key=value` pairs in the given order, skipping None values.

    Booleans are `true`/`false`; an empty value or one with spaces, quotes, `=`, `\\` or
    non-printable characters is double-quoted with backslash escapes. Fields named like a
    secret (`SECRET_FIELDS`) are shown as `***`.
    """
    parts: list[str] = []
    for key, value in fields.items():
        if value is None:
            continue
        if key.lower() in SECRET_FIELDS:
            parts.append(f"{key}=***")
            continue
        parts.append(f"{key}={_format_value(value)}")
    return " ".join(parts)


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and text.isprintable() and _PLAIN_FORBIDDEN.search(text) is None:
        return text
    if text.isprintable():
        return '"' + text.translate(_ESCAPE_TABLE) + '"'
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
