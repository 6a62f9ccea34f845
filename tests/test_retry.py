"""The retry policy's edges, as pure functions (no server, no sleeping)."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from openai_skill.retry import (INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY, retry_delay,
                         server_wait, should_retry)

NOW = 1_700_000_000.0
QUOTA = {"message": "You exceeded your current quota", "type": "insufficient_quota",
         "param": None, "code": "insufficient_quota"}


def fixed(value):
    return lambda: value


@pytest.mark.parametrize("status, expected", [
    (408, True), (409, True), (429, True), (500, True), (502, True), (503, True), (599, True),
    (400, False), (401, False), (403, False), (404, False), (422, False), (200, False),
])
def test_status_table(status, expected):
    assert should_retry(status, {}) is expected


@pytest.mark.parametrize("value, status, expected", [
    ("true", 400, True), ("false", 500, False), ("false", 429, False), ("TRUE", 404, True),
    ("maybe", 500, True), ("maybe", 400, False),
])
def test_x_should_retry_overrides_the_status(value, status, expected):
    assert should_retry(status, {"X-Should-Retry": value}) is expected


@pytest.mark.parametrize("error", [
    QUOTA,
    {"type": "insufficient_quota", "code": None},
    {"type": "requests", "code": "insufficient_quota"},
])
def test_insufficient_quota_is_never_retried_even_when_the_server_says_so(error):
    assert should_retry(429, {}, error=error) is False
    assert should_retry(429, {"x-should-retry": "true"}, error=error) is False


def test_a_plain_rate_limit_is_retried():
    assert should_retry(429, {}, error={"type": "requests", "code": "rate_limit_exceeded"}) is True


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "120"}, 120.0),                  # the edge is honoured
    ({"Retry-After": "121"}, None),                   # above it: backoff instead
    ({"retry-after": "0.5"}, 0.5),
    ({"retry-after-ms": "1500"}, 1.5),
    ({"retry-after-ms": "120000"}, 120.0),
    ({"retry-after-ms": "120001"}, None),
    ({"retry-after-ms": "250", "retry-after": "30"}, 0.25),   # ms wins
    ({"retry-after-ms": "soon", "retry-after": "30"}, 30.0),  # unreadable ms: seconds
    ({"Retry-After": "0"}, None),                     # zero is not a wait
    ({"Retry-After": "-3"}, None),
    ({"Retry-After": "nan"}, None),
    ({"Retry-After": "inf"}, None),
    ({"Retry-After": "tomorrow"}, None),
])
def test_server_wait_is_honoured_only_within_0_to_120_seconds(headers, expected):
    delay = retry_delay(0, headers, rand=fixed(0.0), now=fixed(NOW))
    assert delay == (INITIAL_RETRY_DELAY if expected is None else expected)


def test_retry_after_as_an_http_date():
    in_30s = formatdate(NOW + 30, usegmt=True)
    assert server_wait({"Retry-After": in_30s}, now=fixed(NOW)) == 30.0
    assert retry_delay(3, {"Retry-After": in_30s}, rand=fixed(0.0), now=fixed(NOW)) == 30.0


def test_an_http_date_beyond_120_seconds_or_in_the_past_falls_back_to_backoff():
    later = formatdate(NOW + MAX_RETRY_AFTER + 1, usegmt=True)
    past = formatdate(NOW - 10, usegmt=True)
    assert retry_delay(1, {"Retry-After": later}, rand=fixed(0.0), now=fixed(NOW)) == 1.0
    assert retry_delay(1, {"Retry-After": past}, rand=fixed(0.0), now=fixed(NOW)) == 1.0


@pytest.mark.parametrize("attempt, top", [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0),
                                          (5, 8.0), (50, 8.0), (10_000, 8.0)])
def test_backoff_doubles_up_to_the_cap_with_jitter_down_to_three_quarters(attempt, top):
    assert retry_delay(attempt, {}, rand=fixed(0.0)) == top
    assert retry_delay(attempt, {}, rand=fixed(0.5)) == top * 0.875
    assert retry_delay(attempt, {}, rand=fixed(0.999999)) == pytest.approx(top * 0.75, rel=1e-5)
    assert top <= MAX_RETRY_DELAY


def test_default_jitter_stays_in_bounds():
    delays = [retry_delay(2, {}) for _ in range(200)]
    assert all(1.5 < d <= 2.0 for d in delays)
    assert len(set(delays)) > 1


def test_header_lookup_is_case_insensitive_on_plain_dicts():
    assert server_wait({"RETRY-AFTER-MS": "10"}) == 0.01
