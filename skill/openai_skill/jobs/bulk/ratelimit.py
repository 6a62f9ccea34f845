"""Staying inside the account's rate limit, as the server reports it.

Every OpenAI answer carries `x-ratelimit-remaining-requests/-tokens` and
`x-ratelimit-reset-requests/-tokens` (durations such as "20ms", "1s", "6m0s"). The limiter
keeps the last report, subtracts what is in flight, and makes a worker wait until the window
resets when its request would not fit; a 429 pauses every worker for the wait the retry policy
gives. Until the first report it lets requests through (the concurrency limit still holds).
`clock` and `sleep` are seams for tests.

The single call's policy holds here too: a reset further off than the retry policy's
MAX_RETRY_AFTER (120 s) is not honoured (a gateway's "1000h" would stall the run for good):
requests go out, and a 429 gets the normal backoff. A wait never outlasts the waiting
request's deadline: `acquire` raises APITimeoutError instead, and `on_wait(seconds, reason)`
hears of every wait of a second or more, so the user knows what the run is waiting for.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping

from ...errors import APITimeoutError
from ...retry import MAX_RETRY_AFTER

REMAINING_REQUESTS = "x-ratelimit-remaining-requests"
REMAINING_TOKENS = "x-ratelimit-remaining-tokens"
LIMIT_REQUESTS = "x-ratelimit-limit-requests"
LIMIT_TOKENS = "x-ratelimit-limit-tokens"
RESET_REQUESTS = "x-ratelimit-reset-requests"
RESET_TOKENS = "x-ratelimit-reset-tokens"
MIN_WAIT = 0.005        # seconds: never spin
MAX_WAIT = 60.0         # seconds: re-check at least this often (a reset we misread heals itself)
NOTICE_AFTER = 1.0      # seconds: a wait at least this long is reported through on_wait
PAUSED = "a 429 answer (every worker pauses)"
REQUESTS_WINDOW = "the request limit's window to reset (x-ratelimit-reset-requests)"
TOKENS_WINDOW = "the token limit's window to reset (x-ratelimit-reset-tokens)"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """Seconds in an OpenAI reset header ("1s", "6m0s", "59.9s", "20ms"); None if unreadable."""
    if not text:
        return None
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        try:
            return max(float(text), 0.0)  # a bare number of seconds
        except ValueError:
            return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _int(headers: Mapping, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _merge(left: int | None, reset_at: float, new_left: int, new_reset_at: float,
           now: float) -> tuple[int, float]:
    """Combine a report with the one we hold. Answers arrive out of order across workers, so
    an older report (more left, an earlier reset) may come after a newer one: while the held
    window has not reset, keep the smaller count and the later reset."""
    if left is None or now >= reset_at:
        return new_left, new_reset_at
    return min(left, new_left), max(reset_at, new_reset_at)


class RateLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 on_wait: Callable[[float, str], None] | None = None):
        self._clock, self._sleep = clock, sleep
        self.on_wait = on_wait
        self.closed = False         # the run stopped: no request may start any more
        self._noticed = (0.0, "")   # (until, reason) of the last wait reported
        self._cond = threading.Condition()
        self.requests_left: int | None = None
        self.tokens_left: int | None = None
        self.requests_limit: int | None = None
        self.tokens_limit: int | None = None
        self.requests_reset_at = 0.0
        self.tokens_reset_at = 0.0
        self.paused_until = 0.0
        self.reserved_requests = 0
        self.reserved_tokens = 0
        self.waits = 0              # how often a worker had to wait (reported in the summary)

    def acquire(self, tokens: int, deadline_at: float | None = None) -> int:
        """Block until a request of `tokens` fits; return the tokens reserved (pass to release).
        APITimeoutError, at once, when the wait would end after `deadline_at` (this clock)."""
        with self._cond:
            while True:
                if self.closed:
                    raise InterruptedError("the run stopped")
                wait, reason = self._wait_needed(tokens)
                if wait <= 0:
                    tokens = self._fit(tokens)
                    self.reserved_requests += 1
                    self.reserved_tokens += tokens
                    return tokens
                now = self._clock()
                if deadline_at is not None and now + wait > deadline_at:
                    raise self.deadline_error(f"would pass while waiting {wait:.1f} s for {reason}")
                self._notice(now, wait, reason)
                self.waits += 1
                seconds = min(max(wait, MIN_WAIT), MAX_WAIT)
                if self._sleep is time.sleep:
                    self._cond.wait(seconds)  # woken early when an answer brings news
                else:
                    self._sleep_unlocked(seconds)

    def _sleep_unlocked(self, seconds: float) -> None:  # a test's clock: close() cannot wake it
        self._cond.release()
        try:
            self._sleep(seconds)
        finally:
            self._cond.acquire()

    def _fit(self, tokens: int) -> int:
        # A request larger than the whole window could never fit: reserve the whole window.
        return min(tokens, self.tokens_limit) if self.tokens_limit else tokens

    @staticmethod
    def deadline_error(when: str) -> APITimeoutError:
        return APITimeoutError(
            f"a request's deadline {when} (OPENAI_SKILL_DEADLINE / deadline option bounds each "
            "request, rate-limit waits included); the finished chunks are kept: run again to resume")

    def _notice(self, now: float, wait: float, reason: str) -> None:
        until = now + wait
        if self.on_wait is None or wait < NOTICE_AFTER:
            return
        if reason == self._noticed[1] and abs(until - self._noticed[0]) < NOTICE_AFTER:
            return  # the same wait, seen by another worker
        self._noticed = (until, reason)
        self.on_wait(wait, reason)

    def _wait_needed(self, tokens: int) -> tuple[float, str]:
        now = self._clock()
        if now < self.paused_until:
            return self.paused_until - now, PAUSED
        if self.requests_left is not None and now >= self.requests_reset_at:
            self.requests_left = None   # the window has reset: forget the old count
        if self.tokens_left is not None and now >= self.tokens_reset_at:
            self.tokens_left = None
        if self.requests_left is not None and self.requests_left - self.reserved_requests < 1:
            return self.requests_reset_at - now, REQUESTS_WINDOW
        tokens = self._fit(tokens)
        if self.tokens_left is not None and self.tokens_left - self.reserved_tokens < tokens:
            return self.tokens_reset_at - now, TOKENS_WINDOW
        return 0.0, ""

    def release(self, reserved: int, headers: Mapping | None = None) -> None:
        """A request finished (or failed); learn from its answer's headers, if any."""
        with self._cond:
            self.reserved_requests = max(self.reserved_requests - 1, 0)
            self.reserved_tokens = max(self.reserved_tokens - reserved, 0)
            if headers:
                self.observe(headers)
            self._cond.notify_all()

    def observe(self, headers: Mapping) -> None:
        """Take in an answer's rate-limit headers (lower-case names)."""
        with self._cond:
            now = self._clock()
            self.requests_limit = _int(headers, LIMIT_REQUESTS) or self.requests_limit
            self.tokens_limit = _int(headers, LIMIT_TOKENS) or self.tokens_limit
            left = _int(headers, REMAINING_REQUESTS)
            reset = _honoured(parse_duration(headers.get(RESET_REQUESTS)))
            if left is not None and reset is not None:
                self.requests_left, self.requests_reset_at = _merge(
                    self.requests_left, self.requests_reset_at, left, now + reset, now)
            left = _int(headers, REMAINING_TOKENS)
            reset = _honoured(parse_duration(headers.get(RESET_TOKENS)))
            if left is not None and reset is not None:
                self.tokens_left, self.tokens_reset_at = _merge(
                    self.tokens_left, self.tokens_reset_at, left, now + reset, now)
            self._cond.notify_all()

    @property
    def clock(self) -> Callable[[], float]:
        """The clock waits and deadlines are measured with (time.monotonic outside tests)."""
        return self._clock

    def close(self) -> None:
        """The run stopped: wake every waiting worker, and let none start a request."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every worker back for `seconds` (after a 429); a pause above MAX_RETRY_AFTER is
        not honoured (the caller's backoff applies instead)."""
        if not 0 < seconds <= MAX_RETRY_AFTER:
            return
        with self._cond:
            self.paused_until = max(self.paused_until, self._clock() + seconds)


def _honoured(reset: float | None) -> float | None:
    """A window reset the limiter waits for: none further off than the retry policy honours."""
    return reset if reset is not None and reset <= MAX_RETRY_AFTER else None
