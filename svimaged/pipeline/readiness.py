"""Which streamer folders of a pass can be written now: a folder's outputs refer to its
profile image, backdrop, box art and artwork, so its files are written once none of those is
still being transferred (then the NFOs point at the cached files, not at the URLs). Pure
bookkeeping: no I/O, no state."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def in_readiness_order(
    items: list[T],
    needs: Callable[[T], Iterable[str]],
    running: Collection[str],
    finished: Iterator[str],
) -> Iterator[T]:
    """Every item once: first, in order, those that need none of the `running` cache paths,
    then each as soon as the last path it needs comes out of `finished` (the running ones,
    each once, as they end). `finished` is read only as far as the next item needs; an item
    still waiting when it runs dry comes last, in order."""
    waiting_on: dict[str, list[int]] = {}
    blocked = [0] * len(items)
    for index, item in enumerate(items):
        for path in set(needs(item)):
            if path in running:
                waiting_on.setdefault(path, []).append(index)
                blocked[index] += 1
    ready = deque(index for index, count in enumerate(blocked) if count == 0)
    while True:
        while ready:
            yield items[ready.popleft()]
        done = next(finished, None)
        if done is None:
            break
        for index in waiting_on.pop(done, ()):
            blocked[index] -= 1
            if blocked[index] == 0:
                ready.append(index)
    for index, count in enumerate(blocked):
        if count > 0:
            yield items[index]
