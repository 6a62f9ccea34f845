"""`Cancel`: a call made under `cancelling(switch)` ends as soon as another thread cancels the
switch, whether it waits for an answer or between two attempts, and it is never retried."""

from __future__ import annotations

import threading
import time

import pytest

from support.canary import CANARY_KEY
from support.misbehaving import RawServer, respond
from openai_skill.client import Cancel, Client, cancelling
from openai_skill.errors import APIConnectionError

BOUND = 60.0        # a cap on waiting for events; the servers stall for longer than it


def _call_in_thread(client, switch):
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            with cancelling(switch):
                client.invoke("list-models", {})
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_call_waiting_for_an_answer_ends_when_cancelled_and_is_not_retried():
    server = RawServer(lambda conn, head, stop: stop.wait(300))       # reads the request, never answers
    try:
        client = Client(api_key=CANARY_KEY, base_url=server.url(), max_retries=2)
        switch = Cancel()
        thread, outcome = _call_in_thread(client, switch)
        deadline = time.monotonic() + BOUND
        while len(server.heads) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        switch.cancel()
        thread.join(BOUND)
        assert not thread.is_alive()
        assert isinstance(outcome["error"], APIConnectionError) and "cancelled" in str(outcome["error"])
        assert server.accepted == 1                                   # no retry after a cancel
    finally:
        server.close()


def test_a_call_waiting_to_retry_ends_when_cancelled(monkeypatch):
    server = RawServer(respond("503 Service Unavailable", b"{}", {"retry-after": "100"}))
    try:
        client = Client(api_key=CANARY_KEY, base_url=server.url(), max_retries=2)
        switch = Cancel()
        thread, outcome = _call_in_thread(client, switch)
        deadline = time.monotonic() + BOUND
        while server.accepted < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)   # most likely into its 100 s wait by now; before it, the cancel ends it too
        switch.cancel()
        thread.join(BOUND)
        assert not thread.is_alive() and outcome["seconds"] < BOUND
        assert "cancelled" in str(outcome["error"]) and server.accepted == 1
    finally:
        server.close()


def test_a_call_started_after_the_cancel_never_connects():
    server = RawServer()
    try:
        switch = Cancel()
        switch.cancel()
        with cancelling(switch), pytest.raises(APIConnectionError, match="cancelled"):
            Client(api_key=CANARY_KEY, base_url=server.url()).invoke("list-models", {})
        assert server.accepted == 0
    finally:
        server.close()
