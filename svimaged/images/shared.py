"""One request per URL in a run of transfers. Several cache files can come from the same URL
(a recording's artwork that falls back to its category's box art or its streamer's avatar),
and `run --once` first refreshes what is stale, then passes over the folders, which may ask
for the same URL again.

- Within one batch, the first task to ask for a URL sends the request and the other tasks
  of the batch that want it take its answer (kept only until the last of them took it).
- Across the batches of one run (`Validators`), a conditional GET with validators the server
  confirmed as current in this run (a 304 to them, or a 200 that sent them) is answered
  "not modified" without asking again.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from svimaged.images.fetch import FetchResult

#: `fetch(url, etag, last_modified)`: one GET, conditional when validators are given.
Fetch = Callable[[str, str | None, str | None], FetchResult]
Pair = tuple[str | None, str | None]


class Validators:
    """The validators of each URL the server confirmed as current during one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, Pair] = {}

    def confirmed(self, url: str, sent: Pair) -> bool:
        """True when `sent` (etag, last_modified; not both None) was confirmed for `url`."""
        with self._lock:
            return sent != (None, None) and self._current.get(url) == sent

    def learn(self, url: str, sent: Pair, answer: FetchResult) -> None:
        """Remember what `answer` (to a request with validators `sent`) says is current."""
        now = sent if answer.not_modified else (answer.etag, answer.last_modified)
        if now != (None, None):
            with self._lock:
                self._current[url] = now


@dataclass(slots=True)
class _Shared:
    left: int  # tasks of the batch that have not taken the answer yet
    lock: threading.Lock = field(default_factory=threading.Lock)
    answer: FetchResult | None = None
    sent: Pair = (None, None)  # the validators it answered


class SharedAnswers:
    """The answers of one batch (and what the run confirmed before it)."""

    def __init__(self, run: Validators | None = None) -> None:
        """`run`: the validators confirmed in the run the batch belongs to."""
        self._lock = threading.Lock()
        self._shared: dict[str, _Shared] = {}
        self._run = run if run is not None else Validators()

    def expect(self, urls: Iterable[str]) -> None:
        """Tasks of the batch will ask for these URLs (once per task)."""
        with self._lock:
            for url, n in Counter(urls).items():
                shared = self._shared.get(url)
                if shared is None:
                    self._shared[url] = _Shared(n)
                else:
                    shared.left += n

    def get(
        self, url: str, etag: str | None, last_modified: str | None, fetch: Fetch
    ) -> FetchResult:
        """The answer for `url`: "not modified" for validators confirmed in this run, the
        answer an earlier task of the batch got, else `fetch`'s. A 304 is taken only by a
        task that sent the same validators, and a failed request is not remembered (the next
        task asks itself)."""
        sent = (etag, last_modified)
        if self._run.confirmed(url, sent):
            return FetchResult(url, True, b"", etag, last_modified, None)
        with self._lock:
            shared = self._shared.get(url)
        if shared is None:  # a task nobody said would come
            return self._fetch(url, sent, fetch)
        with shared.lock:
            try:
                answer = shared.answer
                if answer is None or (answer.not_modified and shared.sent != sent):
                    answer = self._fetch(url, sent, fetch)
                    shared.answer, shared.sent = answer, sent
                return answer
            finally:
                self._taken(url, shared)

    def _taken(self, url: str, shared: _Shared) -> None:
        """One task took its answer; after the last, the answer and its bytes go."""
        with self._lock:
            shared.left -= 1
            if shared.left <= 0 and self._shared.get(url) is shared:
                del self._shared[url]

    def _fetch(self, url: str, sent: Pair, fetch: Fetch) -> FetchResult:
        answer = fetch(url, *sent)
        self._run.learn(url, sent, answer)
        return answer
