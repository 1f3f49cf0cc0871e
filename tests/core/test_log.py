"""Tests for svimaged.core.log: handler setup, idempotence, level changes, key=value format."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from svimaged.core.errors import ConfigError
from svimaged.core.log import CHATTY_LIBRARIES, kv, setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the root logger (and the chatty libraries) back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    library_levels = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, lib_level in library_levels.items():
        logging.getLogger(name).setLevel(lib_level)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if type(h).__name__ == "_SvimagedHandler"]


def test_format_and_level() -> None:
    stream = io.StringIO()
    setup_logging("info", stream)
    log = logging.getLogger("svimaged.test")
    log.debug("hidden")
    log.info("cached %s", kv(streamer=123, category="just_chatting"))
    log.error("boom")
    assert stream.getvalue() == (
        "INFO svimaged.test: cached streamer=123 category=just_chatting\n"
        "ERROR svimaged.test: boom\n"
    )


def test_second_call_reuses_handler_and_changes_level() -> None:
    stream = io.StringIO()
    setup_logging("warning", stream)
    setup_logging("debug", stream)
    assert len(ours()) == 1
    logging.getLogger("svimaged.x").debug("once")
    assert stream.getvalue() == "DEBUG svimaged.x: once\n"
    setup_logging("error", stream)
    logging.getLogger("svimaged.x").warning("dropped")
    assert stream.getvalue() == "DEBUG svimaged.x: once\n"
    assert logging.getLogger().level == logging.ERROR


def test_second_call_can_switch_stream() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", first)
    setup_logging("info", second)
    logging.getLogger("svimaged.y").info("here")
    assert (first.getvalue(), second.getvalue()) == ("", "INFO svimaged.y: here\n")
    assert len(ours()) == 1


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info")
    logging.getLogger("svimaged.z").warning("to stderr")
    captured = capsys.readouterr()
    assert "WARNING svimaged.z: to stderr\n" in captured.err
    assert "to stderr" not in captured.out


def test_chatty_libraries_stay_at_info_in_debug_mode() -> None:
    setup_logging("debug", io.StringIO())
    for name in CHATTY_LIBRARIES:
        assert logging.getLogger(name).getEffectiveLevel() == logging.INFO
    setup_logging("error", io.StringIO())
    assert logging.getLogger("PIL").getEffectiveLevel() == logging.ERROR


def test_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        setup_logging("verbose", io.StringIO())
    assert info.value.problems == [
        "log_level: must be debug, info, warning or error, got 'verbose'"
    ]
    assert ours() == []


# ---------------------------------------------------------------------------- kv


def test_kv_plain_values_in_order() -> None:
    assert kv(streamer="12345", category="just_chatting", n=3, ok=True, off=False) == (
        "streamer=12345 category=just_chatting n=3 ok=true off=false"
    )


def test_kv_skips_none() -> None:
    assert kv(a=None, b=1, c=None) == "b=1"
    assert kv() == ""
    assert kv(a=None) == ""


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("", '""'),
        ("C:\\x", '"C:\\\\x"'),
        ("line1\nline2", '"line1\\nline2"'),
        ("cr\rtab\t", '"cr\\rtab\\t"'),
        ("bell\x07", '"bell\\x07"'),
        ("sep\u2028x", '"sep\\u2028x"'),
        ("Pokémon", "Pokémon"),
        (Path("/recordings/A B/x.mp4"), '"/recordings/A B/x.mp4"'),
        (2.5, "2.5"),
        (ValueError("bad thing"), '"bad thing"'),
    ],
)
def test_kv_quoting(value: object, shown: str) -> None:
    assert kv(v=value) == f"v={shown}"


def test_kv_output_is_one_line() -> None:
    assert "\n" not in kv(title="evil\nINFO fake: injected", path="/a\r\n/b")


@pytest.mark.parametrize("key", ["token", "client_secret", "password", "Authorization", "secret"])
def test_kv_masks_secret_fields(key: str) -> None:
    line = kv(**{key: "hunter2"}, user=42)
    assert "hunter2" not in line
    assert line == f"{key}=*** user=42"
