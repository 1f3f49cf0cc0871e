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


def test_the_first_settle_does_not_collect_and_a_later_one_does() -> None:
    gc.unfreeze()
    full: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(count)
    try:
        memory.settle_collector()
        assert full == []
        memory.settle_collector()
        assert full == [1]
    finally:
        gc.callbacks.remove(count)


def test_settle_again_collects_cycles_that_died_while_frozen() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    memory.settle_collector()  # the cycle is alive: frozen
    del a, b  # dies while frozen: nothing collects it
    gc.collect()
    assert gone() is not None
    memory.settle_collector()  # a reload: given back and collected
    assert gone() is None
