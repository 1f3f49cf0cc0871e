"""Tests for svimaged.core.memory: freed memory handed back to the system where glibc can."""

from __future__ import annotations

import platform
import sys

import pytest

from svimaged.core import memory


def test_gives_back_through_malloc_trim_with_no_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def trim(pad: int) -> int:
        calls.append(pad)
        return 1

    monkeypatch.setattr(memory, "_trim", trim)
    assert memory.give_back_memory() is True
    assert calls == [0]


def test_nothing_to_give_back_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_trim", lambda _pad: 0)
    assert memory.give_back_memory() is False


def test_without_glibc_it_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_trim", None)
    assert memory.give_back_memory() is False
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory._find_trim() is None


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_trim_is_found_and_runs() -> None:
    assert memory._find_trim() is not None
    assert memory.give_back_memory() in (True, False)
