"""No wait longer than its deadline (issue 17, item 6): a bulk run follows the single call's
policy (a Retry-After or a window reset over 120 s is not honoured), a wait counts against the
waiting request's deadline (OPENAI_SKILL_DEADLINE), a deadline that passes while waiting ends
the run with exit 5 keeping the checkpoint, and stderr says what the run waits for.
Real CLI processes; each bound is generous (a loaded machine), far below the stalls they catch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


TEXTS = [f"text number {i}" for i in range(60)]
BOUND = 60.0        # seconds: the old code stalled for an hour (or 1000 h) here


def _run(tmp_path, *extra, env=None):
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in TEXTS))
    args = [str(Path(sys.executable).parent / "openai-skill"), "embed", "--file", str(source),
            "--out", str(tmp_path / "o.jsonl"), "--dimensions", "8", "--batch-size", "6", "-k", "2",
            "--no-cache", *map(str, extra)]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=BOUND)
    return done, time.monotonic() - started


def _answer(openai, change):
    real = openai.embeddings
    openai.embeddings = lambda body: change(real, body)


def _too_many(headers):
    return 429, {"error": {"message": "Rate limit reached for requests", "type": "requests",
                           "param": None, "code": "rate_limit_exceeded"}}, headers


def test_a_429_asking_for_an_hour_is_backed_off_not_waited_for(openai, tmp_path):
    asked = []

    def once(real, body):
        if not asked:
            asked.append(1)
            return _too_many({"retry-after": "3600"})
        return real(body)

    _answer(openai, once)
    done, _seconds = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["texts"] == len(TEXTS)
    assert "asks for 3600 s, more than the 120 s honoured" in done.stderr


def test_a_window_reset_of_1000_hours_is_not_waited_for(openai, tmp_path):
    def closed_window(real, body):
        status, data, headers = real(body)
        return status, data, {**headers, "x-ratelimit-remaining-requests": "0",
                              "x-ratelimit-reset-requests": "1000h", "x-ratelimit-limit-requests": "100"}

    _answer(openai, closed_window)
    done, _seconds = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert openai.count("POST", "/v1/embeddings", 200) == 10


@pytest.mark.parametrize("limited", ["retry-after 3600", "window reset 30s"])
def test_a_deadline_that_passes_while_waiting_ends_the_run_with_exit_5_keeping_the_checkpoint(
        openai, tmp_path, limited):
    served = []

    def then_limited(real, body):
        served.append(1)
        if len(served) <= 2:
            return real(body)
        if limited == "retry-after 3600":
            return _too_many({"retry-after": "3600"})            # backoff instead, until the deadline
        status, data, headers = real(body)                       # answered, but the window is spent
        return status, data, {**headers, "x-ratelimit-remaining-requests": "0",
                              "x-ratelimit-reset-requests": "30s"}

    _answer(openai, then_limited)
    done, seconds = _run(tmp_path, "-k", "1", env={"OPENAI_SKILL_DEADLINE": "3"})
    assert done.returncode == 5, done.stderr
    # the limiter's refusal, or the core's own (its retry's wait would pass the same deadline)
    assert "deadline" in done.stderr and "OPENAI_SKILL_DEADLINE" in done.stderr
    if limited == "window reset 30s":
        assert "waiting 30.0 s for the request limit's window" in done.stderr
    assert seconds < BOUND
    journal = (tmp_path / "o.jsonl.partial" / "journal").read_text().splitlines()
    assert len(journal) >= 1 + 2                       # the header and the chunks answered are kept
    assert not (tmp_path / "o.jsonl").exists()


def test_a_wait_the_server_asks_for_is_said_on_stderr(openai, tmp_path):
    openai.storm, openai.storm_wait_ms = 1, 1200
    done, _seconds = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "rate limited (429): waiting 1.2 s, as the server asks" in done.stderr


def test_the_limiter_refuses_a_wait_past_the_deadline_at_once():
    from openai_skill.errors import APITimeoutError
    from openai_skill.jobs.bulk.ratelimit import RateLimiter

    now = [100.0]
    slept, heard = [], []
    limiter = RateLimiter(clock=lambda: now[0], sleep=slept.append, on_wait=lambda s, r: heard.append((s, r)))
    limiter.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s"})
    with pytest.raises(APITimeoutError, match="deadline would pass while waiting 20.0 s"):
        limiter.acquire(1, deadline_at=110.0)
    assert slept == [] and heard == []
    limiter.pause(7200)                              # over MAX_RETRY_AFTER: not honoured
    assert limiter.paused_until == 0.0
