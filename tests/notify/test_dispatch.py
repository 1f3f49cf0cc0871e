"""The batching window, the bounded queue and the backoff of one server (pure: times are
passed in)."""

from __future__ import annotations

from svimaged.notify.changes import FolderBatch
from svimaged.notify.dispatch import ServerQueue

A, B = "/tv/Alice", "/tv/Bob"


def batch(show: str, *created: str) -> dict[str, FolderBatch]:
    return {show: FolderBatch(show, frozenset(created))}


def test_changes_within_the_window_become_one_batch_per_folder() -> None:
    queue = ServerQueue(window=2.0)
    queue.add(batch(A, f"{A}/1.nfo"), now=100.0)
    queue.add(batch(A, f"{A}/2.nfo") | batch(B, f"{B}/1.nfo"), now=101.0)
    queue.add(batch(A, f"{A}/3.nfo"), now=101.9)
    assert queue.take(101.9) == []  # A's window ends at 102
    assert queue.wake_at() == 102.0
    (due,) = queue.take(102.0)
    assert due.batch.show == A and due.batch.created == {f"{A}/1.nfo", f"{A}/2.nfo", f"{A}/3.nfo"}
    assert [w.batch.show for w in queue.take(103.0)] == [B]
    assert queue.wake_at() is None and len(queue) == 0


def test_flush_ignores_the_window_but_not_the_backoff() -> None:
    queue = ServerQueue(window=2.0, initial=5.0, maximum=300.0)
    queue.add(batch(A, f"{A}/1.nfo"), now=0.0)
    (due,) = queue.take(0.0, flush=True)
    assert queue.failed(due, 0.0, transient=True) == 5.0
    assert queue.take(4.9, flush=True) == [] and queue.wake_at() == 5.0
    assert [w.batch.show for w in queue.take(5.0, flush=True)] == [A]


def test_backoff_doubles_up_to_the_cap_and_a_success_resets_it() -> None:
    queue = ServerQueue(window=0.0, initial=5.0, maximum=30.0)
    queue.add(batch(A, f"{A}/1.nfo"), now=0.0)
    delays = []
    now = 0.0
    for _ in range(5):
        (due,) = queue.take(now)
        delay = queue.failed(due, now, transient=True)
        assert delay is not None
        delays.append(delay)
        now += delay
    assert delays == [5.0, 10.0, 20.0, 30.0, 30.0]
    (due,) = queue.take(now)
    queue.succeeded()
    assert queue.failures == 0 and queue.retry_at == 0.0 and len(queue) == 0


def test_a_permanent_failure_drops_the_batch_without_backoff() -> None:
    queue = ServerQueue(window=0.0)
    queue.add(batch(A, f"{A}/1.nfo"), now=0.0)
    (due,) = queue.take(0.0)
    assert queue.failed(due, 0.0, transient=False) is None
    assert len(queue) == 0 and queue.retry_at == 0.0


def test_a_batch_put_back_merges_with_what_arrived_meanwhile() -> None:
    queue = ServerQueue(window=1.0)
    queue.add(batch(A, f"{A}/1.nfo"), now=0.0)
    (taken,) = queue.take(1.0)
    queue.add(batch(A, f"{A}/2.nfo"), now=1.5)  # arrives while the first is being sent
    queue.put_back(taken)
    (due,) = queue.take(2.0)
    assert due.since == 0.0 and due.batch.created == {f"{A}/1.nfo", f"{A}/2.nfo"}


def test_the_queue_is_bounded_by_show_folders() -> None:
    queue = ServerQueue(window=1.0, capacity=2)
    assert queue.add(batch(A, "1") | batch(B, "2") | batch("/tv/C", "3"), now=0.0) == 1
    assert queue.add(batch(A, "4"), now=0.5) == 0  # joins a waiting folder
    assert len(queue) == 2
