"""`pipeline.readiness`: folders in the order their images finish, reading the finished
transfers only as far as needed."""

from __future__ import annotations

from collections.abc import Iterator

from svimaged.pipeline.readiness import in_readiness_order

NEEDS = {"a": ["p/a", "c/x"], "b": ["p/b", "c/x"], "c": ["p/c"], "d": []}


def test_folders_come_as_soon_as_their_last_transfer_ends() -> None:
    read: list[str] = []

    def finished() -> Iterator[str]:
        for rel in ["p/b", "c/x", "p/c", "p/a"]:
            read.append(rel)
            yield rel

    order = in_readiness_order(
        list(NEEDS), NEEDS.__getitem__, {"p/a", "p/b", "c/x", "p/c"}, finished()
    )
    assert next(order) == "d"  # needs nothing that is running
    assert read == []
    assert next(order) == "b"  # p/b and the shared box art are done
    assert read == ["p/b", "c/x"]
    assert list(order) == ["c", "a"]


def test_paths_not_running_are_not_waited_for_and_leftovers_come_last() -> None:
    order = in_readiness_order(list(NEEDS), NEEDS.__getitem__, {"p/a", "p/c"}, iter(["p/c"]))
    assert list(order) == ["b", "d", "c", "a"]
