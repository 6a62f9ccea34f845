"""Staying inside the account's rate limit, as the server reports it.

Every OpenAI answer carries `x-ratelimit-remaining-requests/-tokens` and
`x-ratelimit-reset-requests/-tokens` (durations such as "20ms", "1s", "6m0s"). The limiter
keeps the last report, subtracts what is in flight, and makes a worker wait until the window
resets when its request would not fit; a 429 pauses every worker for the wait the retry policy
gives. Until the first report it lets requests through (the concurrency limit still holds).
`clock` and `sleep` are seams for tests.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping

REMAINING_REQUESTS = "x-ratelimit-remaining-requests"
REMAINING_TOKENS = "x-ratelimit-remaining-tokens"
LIMIT_REQUESTS = "x-ratelimit-limit-requests"
LIMIT_TOKENS = "x-ratelimit-limit-tokens"
RESET_REQUESTS = "x-ratelimit-reset-requests"
RESET_TOKENS = "x-ratelimit-reset-tokens"
MIN_WAIT = 0.005        # seconds: never spin
MAX_WAIT = 60.0         # seconds: re-check at least this often (a reset we misread heals itself)
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
                 sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
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

    def acquire(self, tokens: int) -> int:
        """Block until a request of `tokens` fits; return the tokens reserved (pass to release)."""
        with self._cond:
            while True:
                wait = self._wait_needed(tokens)
                if wait <= 0:
                    tokens = self._fit(tokens)
                    self.reserved_requests += 1
                    self.reserved_tokens += tokens
                    return tokens
                self.waits += 1
                seconds = min(max(wait, MIN_WAIT), MAX_WAIT)
                if self._sleep is time.sleep:
                    self._cond.wait(seconds)  # woken early when an answer brings news
                else:
                    self._sleep_unlocked(seconds)

    def _sleep_unlocked(self, seconds: float) -> None:
        self._cond.release()
        try:
            self._sleep(seconds)
        finally:
            self._cond.acquire()

    def _fit(self, tokens: int) -> int:
        # A request larger than the whole window could never fit: reserve the whole window.
        return min(tokens, self.tokens_limit) if self.tokens_limit else tokens

    def _wait_needed(self, tokens: int) -> float:
        now = self._clock()
        if now < self.paused_until:
            return self.paused_until - now
        if self.requests_left is not None and now >= self.requests_reset_at:
            self.requests_left = None   # the window has reset: forget the old count
        if self.tokens_left is not None and now >= self.tokens_reset_at:
            self.tokens_left = None
        if self.requests_left is not None and self.requests_left - self.reserved_requests < 1:
            return self.requests_reset_at - now
        tokens = self._fit(tokens)
        if self.tokens_left is not None and self.tokens_left - self.reserved_tokens < tokens:
            return self.tokens_reset_at - now
        return 0.0

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
            reset = parse_duration(headers.get(RESET_REQUESTS))
            if left is not None and reset is not None:
                self.requests_left, self.requests_reset_at = _merge(
                    self.requests_left, self.requests_reset_at, left, now + reset, now)
            left = _int(headers, REMAINING_TOKENS)
            reset = parse_duration(headers.get(RESET_TOKENS))
            if left is not None and reset is not None:
                self.tokens_left, self.tokens_reset_at = _merge(
                    self.tokens_left, self.tokens_reset_at, left, now + reset, now)
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every worker back for `seconds` (after a 429)."""
        with self._cond:
            self.paused_until = max(self.paused_until, self._clock() + seconds)
