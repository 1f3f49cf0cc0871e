"""`images.shared`: one request per URL in a batch, and no second revalidation in a run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from svimaged.images.fetch import FetchResult
from svimaged.images.shared import SharedAnswers, Validators

URL = "https://static-cdn.jtvnw.net/ttv-boxart/509658-285x380.jpg"


def batch(urls: list[str], run: Validators | None = None) -> SharedAnswers:
    shared = SharedAnswers(run)
    shared.expect(urls)
    return shared


class CountingFetch:
    """A fetch that counts its calls and answers 304 to matching validators, else 200."""

    def __init__(self, etag: str = '"v1"') -> None:
        self.calls: list[tuple[str | None, str | None]] = []
        self.etag = etag
        self._lock = threading.Lock()

    def __call__(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        with self._lock:
            self.calls.append((etag, last_modified))
        if etag == self.etag:
            return FetchResult(url, True, b"", etag, None, None)
        return FetchResult(url, False, b"jpeg bytes", self.etag, None, "image/jpeg")


def test_tasks_of_a_batch_sharing_a_url_send_one_request() -> None:
    fetch = CountingFetch()
    shared = batch([URL] * 4)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _n: shared.get(URL, '"v1"', None, fetch), range(4)))
    assert len(fetch.calls) == 1
    assert all(answer.not_modified for answer in answers)


def test_a_new_body_is_shared_and_a_304_only_with_the_same_validators() -> None:
    fetch = CountingFetch()
    shared = batch([URL] * 3)
    assert shared.get(URL, None, None, fetch).body == b"jpeg bytes"
    assert shared.get(URL, '"old"', None, fetch).body == b"jpeg bytes"  # the same 200
    assert len(fetch.calls) == 1
    fetch = CountingFetch()
    shared = batch([URL] * 2)
    assert shared.get(URL, '"v1"', None, fetch).not_modified
    assert not shared.get(URL, '"old"', None, fetch).not_modified  # the 304 said nothing of it
    assert len(fetch.calls) == 2


def test_validators_confirmed_earlier_in_the_run_are_not_asked_again() -> None:
    fetch = CountingFetch()
    run = Validators()
    batch([URL], run).get(URL, '"v1"', None, fetch)
    again = batch([URL], run).get(URL, '"v1"', None, fetch)
    assert again.not_modified and len(fetch.calls) == 1
    batch([URL], run).get(URL, '"v0"', None, fetch)  # other validators: asked
    assert len(fetch.calls) == 2
    batch([URL], Validators()).get(URL, '"v1"', None, fetch)  # another run: asked
    assert len(fetch.calls) == 3
