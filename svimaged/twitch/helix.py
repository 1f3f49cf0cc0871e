"""Twitch Helix client: app token, batching, rate limits, image URL templates (contract section 4).

One `HelixClient` is shared by the worker threads. It fetches an app access token with the
client-credentials grant, caches it until shortly before it expires, and refreshes it once
when Helix answers 401. `users` and `games` send at most 100 query parameters per request, so
N unknown streamers cost ceil(N/100) calls. `Ratelimit-Remaining: 0` makes the next call wait
until `Ratelimit-Reset`; a 429 waits and retries up to three times; a 5xx is retried once.
Each wait is capped; calls given a `WaitBudget` (a pass's look-ups) share its seconds, and a
wait that does not fit in what is left is not waited at all: `RateLimitedError`.

Every failure leaves as `HelixError`; a client without credentials raises
`NeedsCredentialsError` before sending anything. Neither the client secret nor a token ever
appears in a log line or an exception message.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from svimaged.core.clock import Clock, SystemClock
from svimaged.core.errors import HelixError, NeedsCredentialsError, RateLimitedError
from svimaged.core.model import TwitchGame, TwitchUser, TwitchVideo
from svimaged.core.text import without_lone_surrogates
from svimaged.twitch.answers import (
    data_list,
    decode_object,
    next_cursor,
    parse_game,
    parse_token,
    parse_user,
    parse_video,
)

log = logging.getLogger(__name__)

#: Helix accepts at most 100 ids/logins/names in one request, all kinds together.
BATCH_SIZE = 100
#: A token is used until this many seconds before Twitch says it expires.
TOKEN_MARGIN = 60.0
#: Largest response body read from Helix or the token endpoint.
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_RATE_RETRIES = 3
_DIGITS = re.compile(r"[0-9]{1,32}")
SERVER_RETRY_DELAY = 1.0
DEFAULT_RATE_WAIT = 1.0


class WaitBudget:
    """Seconds the Helix calls that share it may spend waiting, in total (rate limits and
    retries); thread-safe. `take(s)` spends `s` when they fit in what is left."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self._left = seconds
        self._lock = threading.Lock()

    @property
    def left(self) -> float:
        with self._lock:
            return self._left

    def take(self, seconds: float) -> bool:
        """Spend `seconds` and return True, or return False (spending nothing) when they
        are more than what is left."""
        with self._lock:
            if seconds > self._left:
                return False
            self._left -= seconds
            return True


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP answer, read in full (capped)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class _Attempts:
    """Retries used so far for one logical Helix call."""

    auth: int = 0
    rate: int = 0
    server: int = 0


class HelixClient:
    """A thread-safe Twitch Helix client (see the module docstring for the behaviour).

    `session` is used for every request; when none is given the client makes its own and
    `close()` closes it (an injected session belongs to the caller). `clock` is asked for the
    time and used for every wait, so tests never sleep. Waits are capped at `max_rate_wait`.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_base: str,
        auth_url: str,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        timeout: float = 15.0,
        max_rate_wait: float = 60.0,
    ) -> None:
        self._client_id = client_id.strip()
        self._client_secret = client_secret.strip()
        self._api_base = api_base.rstrip("/")
        self._auth_url = auth_url
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._timeout = timeout
        self._max_rate_wait = max_rate_wait
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self._state_lock = threading.Lock()
        self._calls = 0
        self._token_requests = 0
        self._rate_remaining: int | None = None
        self._rate_reset: float | None = None

    @property
    def has_credentials(self) -> bool:
        """True when both a client id and a client secret are configured."""
        return bool(self._client_id and self._client_secret)

    @property
    def calls(self) -> int:
        """Helix API requests sent so far (retries included, token requests not)."""
        with self._state_lock:
            return self._calls

    @property
    def token_requests(self) -> int:
        """Token requests sent so far."""
        with self._state_lock:
            return self._token_requests

    def close(self) -> None:
        """Release the HTTP session if the client created it."""
        if self._own_session:
            self._session.close()

    # -- public calls -------------------------------------------------------------------

    def users(
        self,
        *,
        ids: Iterable[str] = (),
        logins: Iterable[str] = (),
        budget: WaitBudget | None = None,
    ) -> list[TwitchUser]:
        """Look users up by id and/or login (logins are lowercased, non-numeric ids dropped),
        100 parameters per request. Unknown users are simply absent; each user once. Waits
        are taken from `budget` when given (see the module docstring)."""
        params = [("id", i) for i in _valid_ids(ids, "user")]
        params += [("login", name) for name in _dedupe(x.strip().lower() for x in logins)]
        found: dict[str, TwitchUser] = {}
        for batch in _batches(params):
            for entry in self._data("users", batch, budget):
                user = parse_user(entry)
                found.setdefault(user.id, user)
        return list(found.values())

    def games(
        self,
        *,
        ids: Iterable[str] = (),
        names: Iterable[str] = (),
        budget: WaitBudget | None = None,
    ) -> list[TwitchGame]:
        """Look categories up by id and/or exact name, 100 parameters per request. The box
        art URL is filled to 285x380, or None for Twitch's `404_boxart` placeholder."""
        params = [("id", i) for i in _valid_ids(ids, "game")]
        params += [("name", name) for name in _dedupe(x for x in names if x)]
        found: dict[str, TwitchGame] = {}
        for batch in _batches(params):
            for entry in self._data("games", batch, budget):
                game = parse_game(entry)
                found.setdefault(game.id, game)
        return list(found.values())

    def videos(
        self, user_id: str, *, max_pages: int = 5, budget: WaitBudget | None = None
    ) -> list[TwitchVideo]:
        """The user's archive videos (newest first as Twitch sends them), following the
        pagination cursor for at most `max_pages` pages of 100. Thumbnails are filled to
        1280x720, or None while Twitch has none."""
        if not _DIGITS.fullmatch(user_id):
            log.debug("helix skipped endpoint=videos reason=non_numeric_user_id")
            return []
        base = [("user_id", user_id), ("type", "archive"), ("first", str(BATCH_SIZE))]
        result: list[TwitchVideo] = []
        after: str | None = None
        for _page in range(max(max_pages, 0)):
            params = base + ([("after", after)] if after else [])
            payload = self._get_json("videos", params, budget)
            result += [parse_video(entry, user_id) for entry in data_list("videos", payload)]
            after = next_cursor(payload)
            if after is None:
                break
        return result

    # -- request machinery --------------------------------------------------------------

    def _data(
        self, endpoint: str, params: list[tuple[str, str]], budget: WaitBudget | None
    ) -> list[dict[str, Any]]:
        return data_list(endpoint, self._get_json(endpoint, params, budget))

    def _get_json(
        self, endpoint: str, params: list[tuple[str, str]], budget: WaitBudget | None
    ) -> dict[str, Any]:
        """GET one Helix endpoint with every retry rule applied; the decoded JSON object."""
        if not self.has_credentials:
            raise NeedsCredentialsError(
                f"twitch credentials are not configured endpoint={endpoint}"
            )
        attempts = _Attempts()
        while True:
            self._wait_for_rate_limit(endpoint, budget)
            token = self._current_token()
            answer = self._send(endpoint, params, token)
            self._note_rate_limit(answer.headers)
            if answer.status == 200:
                return decode_object(endpoint, answer.body)
            self._before_retry(endpoint, answer, token, attempts, budget)

    def _before_retry(
        self,
        endpoint: str,
        answer: _Answer,
        token: str,
        tries: _Attempts,
        budget: WaitBudget | None,
    ) -> None:
        """Decide about a failed answer: prepare a retry (drop token, wait) or raise."""
        status = answer.status
        if status == 401 and tries.auth < 1:
            tries.auth += 1
            log.info("helix unauthorized endpoint=%s action=refresh_token", endpoint)
            self._drop_token(token)
            return
        if status == 429 and tries.rate < MAX_RATE_RETRIES:
            tries.rate += 1
            wait = self._reset_delay(answer.headers) or DEFAULT_RATE_WAIT
            log.warning(
                "helix rate_limited endpoint=%s wait=%.1f try=%d", endpoint, wait, tries.rate
            )
            self._wait(endpoint, wait, budget, "rate limited")
            return
        if status >= 500 and tries.server < 1:
            tries.server += 1
            log.warning("helix server_error endpoint=%s status=%d action=retry", endpoint, status)
            self._wait(endpoint, SERVER_RETRY_DELAY, budget, "server error")
            return
        raise HelixError(
            f"twitch helix request failed endpoint={endpoint} status={status}"
            f"{self._twitch_message(answer.body)}"
        )

    def _send(self, endpoint: str, params: list[tuple[str, str]], token: str) -> _Answer:
        headers = {"Client-Id": self._client_id, "Authorization": f"Bearer {token}"}
        with self._state_lock:
            self._calls += 1
        try:
            with self._session.get(
                f"{self._api_base}/{endpoint}",
                params=params,
                headers=headers,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            ) as resp:
                answer = _Answer(resp.status_code, resp.headers, _read_capped(resp, endpoint))
        except requests.RequestException as exc:
            raise HelixError(
                f"twitch helix unreachable endpoint={endpoint} error={type(exc).__name__}"
            ) from None
        log.debug(
            "helix request endpoint=%s params=%d status=%d", endpoint, len(params), answer.status
        )
        return answer

    def _twitch_message(self, body: bytes) -> str:
        """` message=...` from a Twitch error body, shortened and scrubbed, or ""."""
        try:
            message = json.loads(body.decode("utf-8")).get("message")
        except (ValueError, AttributeError, RecursionError):
            return ""
        if not isinstance(message, str) or not message:
            return ""
        return f" message={self._scrub(without_lone_surrogates(message[:200]))!r}"

    def _scrub(self, text: str) -> str:
        """Remove the secret and the token from text that came from outside."""
        for secret in (self._client_secret, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text

    # -- rate limit ---------------------------------------------------------------------

    def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        remaining = _int_header(headers, "Ratelimit-Remaining")
        reset = _int_header(headers, "Ratelimit-Reset")
        with self._state_lock:
            if remaining is not None:
                self._rate_remaining = remaining
            if reset is not None:
                self._rate_reset = float(reset)

    def _reset_delay(self, headers: Mapping[str, str]) -> float:
        """Seconds until the `Ratelimit-Reset` in `headers`; 0 when absent or past."""
        reset = _int_header(headers, "Ratelimit-Reset")
        return max(0.0, reset - self._clock.time()) if reset is not None else 0.0

    def _wait_for_rate_limit(self, endpoint: str, budget: WaitBudget | None) -> None:
        """Sleep until the bucket refills when the last answer said none are left."""
        with self._state_lock:
            if self._rate_remaining != 0 or self._rate_reset is None:
                return
            wait = self._rate_reset - self._clock.time()
        if wait > 0:
            log.info("helix rate_limit_wait endpoint=%s wait=%.1f", endpoint, wait)
            self._wait(endpoint, wait, budget, "rate limited")

    def _wait(self, endpoint: str, seconds: float, budget: WaitBudget | None, why: str) -> None:
        """Sleep `seconds` (at most `max_rate_wait`) on the clock, taken from `budget`;
        `RateLimitedError` without sleeping when the whole wait is longer than what the
        budget has left (a shorter wait would only meet the same answer again)."""
        capped = min(seconds, self._max_rate_wait)
        if budget is not None and (seconds > budget.left or not budget.take(capped)):
            raise RateLimitedError(
                f"twitch helix {why} endpoint={endpoint} wait={seconds:.0f}s: over the wait "
                f"budget ({budget.left:.0f} of {budget.total:.0f} s left)"
            )
        self._clock.sleep(capped)

    # -- token --------------------------------------------------------------------------

    def _current_token(self) -> str:
        """The cached app token, fetched anew when missing or about to expire."""
        with self._token_lock:
            if self._token is not None and self._clock.monotonic() < self._token_expires:
                return self._token
            token, ttl = self._fetch_token()
            self._token = token
            self._token_expires = self._clock.monotonic() + max(ttl - TOKEN_MARGIN, ttl / 2)
            return token

    def _drop_token(self, token: str) -> None:
        """Forget `token` unless another thread already replaced it."""
        with self._token_lock:
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        """POST the client-credentials grant; (access_token, expires_in seconds)."""
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        with self._state_lock:
            self._token_requests += 1
        try:
            with self._session.post(
                self._auth_url, data=form, timeout=self._timeout, stream=True, allow_redirects=False
            ) as resp:
                answer = _Answer(resp.status_code, resp.headers, _read_capped(resp, "token"))
        except requests.RequestException as exc:
            raise HelixError(
                f"twitch token endpoint unreachable error={type(exc).__name__}"
            ) from None
        if answer.status != 200:
            raise HelixError(
                f"twitch token request refused status={answer.status}"
                f"{self._twitch_message(answer.body)} (check twitch.client_id/client_secret)"
            )
        log.info("helix token fetched")
        return parse_token(decode_object("token", answer.body))


# -- pure helpers ---------------------------------------------------------------------------


def _dedupe(values: Iterable[str]) -> list[str]:
    """Non-empty values, first occurrence kept, order preserved."""
    return list(dict.fromkeys(v for v in values if v))


def _valid_ids(ids: Iterable[str], kind: str) -> list[str]:
    """Deduplicated numeric ids; anything else is dropped with a debug line."""
    result: list[str] = []
    for raw in _dedupe(i.strip() for i in ids):
        if _DIGITS.fullmatch(raw):
            result.append(raw)
        else:
            log.debug("helix dropped_id kind=%s reason=non_numeric", kind)
    return result


def _batches(params: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    count = math.ceil(len(params) / BATCH_SIZE)
    for n in range(count):
        yield params[n * BATCH_SIZE : (n + 1) * BATCH_SIZE]


def _read_capped(resp: requests.Response, endpoint: str) -> bytes:
    """The whole body, or HelixError once it grows past MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HelixError(f"twitch answer too large endpoint={endpoint} limit={MAX_BODY_BYTES}")
        chunks.append(chunk)
    return b"".join(chunks)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
