"""When to retry a failed request, and how long to wait first: pure functions, no I/O.

The policy is the official SDK's (openai-python `_should_retry` / `_calculate_retry_timeout`)
with one deliberate difference: a 429 whose error is `insufficient_quota` is never retried,
because waiting cannot refill a billing quota.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

INITIAL_RETRY_DELAY = 0.5    # seconds before the first retry, doubled for each further one
MAX_RETRY_DELAY = 8.0        # cap of the computed backoff
MAX_RETRY_AFTER = 120.0      # a server-asked wait above this is ignored (backoff instead)
JITTER = 0.25                # backoff is multiplied by a factor in (1 - JITTER, 1]
RETRY_STATUSES = frozenset({408, 409, 429})
FIRST_SERVER_ERROR = 500     # every status from here up is retried
QUOTA_ERROR = "insufficient_quota"

HEADER_SHOULD_RETRY = "x-should-retry"
HEADER_RETRY_AFTER_MS = "retry-after-ms"
HEADER_RETRY_AFTER = "retry-after"


def is_quota_error(error: Mapping | None) -> bool:
    """True when an OpenAI error object says the account's quota is exhausted."""
    if not isinstance(error, Mapping):
        return False
    return QUOTA_ERROR in (error.get("code"), error.get("type"))


def should_retry(status: int, headers: Mapping, *, error: Mapping | None = None) -> bool:
    """Whether a response with this status, headers and (parsed) `error` object is retried.

    Order: an `insufficient_quota` error never is; then the server's `x-should-retry:
    true|false` decides; then 408, 409, 429 and every status >= 500 are, other statuses not.
    """
    if is_quota_error(error):
        return False
    hint = (header(headers, HEADER_SHOULD_RETRY) or "").strip().lower()
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in RETRY_STATUSES or status >= FIRST_SERVER_ERROR


def retry_delay(attempt: int, headers: Mapping | None = None, *,
                rand: Callable[[], float] = random.random,
                now: Callable[[], float] = time.time) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    The server's wait (`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date)
    is honoured when 0 < wait <= MAX_RETRY_AFTER; otherwise exponential backoff with jitter:
    min(INITIAL_RETRY_DELAY * 2**attempt, MAX_RETRY_DELAY) * (1 - JITTER * rand()).
    """
    asked = server_wait(headers or {}, now=now)
    if asked is not None and 0 < asked <= MAX_RETRY_AFTER:
        return asked
    backoff = min(INITIAL_RETRY_DELAY * 2.0 ** min(attempt, 64), MAX_RETRY_DELAY)
    return max(backoff * (1 - JITTER * rand()), 0.0)


def server_wait(headers: Mapping, *, now: Callable[[], float] = time.time) -> float | None:
    """The wait the server asked for, in seconds, or None if it asked for none we can read."""
    millis = header(headers, HEADER_RETRY_AFTER_MS)
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = header(headers, HEADER_RETRY_AFTER)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from email.utils import mktime_tz, parsedate_tz  # only for the rare HTTP-date form

    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    return float(mktime_tz(parsed) - now())


def header(headers: Mapping, name: str) -> str | None:
    """Case-insensitive header lookup on any mapping (plain dicts included)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value
