"""The cycle collector set for long passes (`memory.settle_collector`)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from svimaged.core import memory


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_settle_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    memory.settle_collector()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (memory.YOUNG_THRESHOLD, 10, 10)


def test_settle_never_collects_and_giving_memory_back_does() -> None:
    gc.unfreeze()
    full: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(count)
    try:
        memory.settle_collector()
        memory.settle_collector()
        assert full == []
        memory.give_back_memory()
        assert full == [1]
        assert gc.get_freeze_count() > 0  # what is alive is frozen again
    finally:
        gc.callbacks.remove(count)


def test_giving_memory_back_collects_cycles_that_died_while_frozen() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    memory.settle_collector()  # the cycle is alive: frozen
    del a, b  # dies while frozen: nothing collects it
    gc.collect()
    memory.settle_collector()  # before the next pass: still frozen
    assert gone() is not None
    memory.give_back_memory()  # the daemon idle again: given back and collected
    assert gone() is None
