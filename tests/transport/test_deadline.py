"""The total deadline holds against servers that answer one byte at a time, and streams have
an idle timeout. Each test records how far past the deadline the call returned (overshoot).

Every server here drips forever (or far longer than any bound below), and each byte resets the
read timeout: without the deadline a call would run until the test's own timeout. So the bounds
can be generous (a machine ten times slower passes) and still fail when the deadline is not
enforced; how far past the deadline a call really ends is measured by
benchmarks/transport_limits.py, not asserted here."""

from __future__ import annotations

import json

import pytest

import openai_skill
from openai_skill.config import DEFAULT_DEADLINE, Settings
from openai_skill.errors import APITimeoutError
from openai_skill.transport.download import download

from support.canary import CANARY_KEY
from support.misbehaving import RawServer, drip, respond, timed

# ~0.01 s measured on an idle machine; the bound only has to be far below "never".
MAX_OVERSHOOT = 15.0
PROCESS_START = 15.0     # and a CLI process's start, on a loaded machine
OVERSHOOTS: dict[str, float] = {}


@pytest.fixture
def server_with():
    made = []

    def make(handler, host="127.0.0.1"):
        made.append(RawServer(handler, host=host))
        return made[-1]
    yield make
    for server in made:
        server.close()


def check_deadline(name: str, seconds: float, error, deadline: float):
    assert isinstance(error, APITimeoutError), repr(error)
    assert f"{deadline:g} s deadline" in error.message
    overshoot = seconds - deadline
    OVERSHOOTS[name] = overshoot
    print(f"\n{name}: returned {seconds:.2f} s after the start, overshoot {overshoot:+.3f} s")
    assert overshoot < MAX_OVERSHOOT


JSON_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100000\r\n\r\n{\"object\": \"list\", \"data\": [")


@pytest.mark.timeout(90)
def test_a_body_dripping_a_byte_every_2_s_is_cut_at_the_deadline(server_with):
    server = server_with(drip(JSON_HEAD, every=2.0))
    seconds, error, _ = timed(openai_skill.invoke, "list-models", {}, api_key=CANARY_KEY,
                              base_url=server.url(), deadline=3, max_retries=0)
    check_deadline("content-length drip", seconds, error, 3)


@pytest.mark.timeout(90)
def test_the_cli_with_openai_skill_deadline_returns_in_time(server_with, installed_cli):
    server = server_with(drip(JSON_HEAD, every=2.0))
    seconds, _, result = timed(installed_cli, "models", "--json", env={
        "OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": server.url(), "OPENAI_SKILL_DEADLINE": "3"})
    assert result.code == 5
    assert "3 s deadline" in result.err
    OVERSHOOTS["cli drip (process)"] = seconds - 3
    assert seconds - 3 < MAX_OVERSHOOT + PROCESS_START


@pytest.mark.timeout(90)
def test_headers_dripping_a_byte_at_a_time_are_cut_at_the_deadline(server_with):
    server = server_with(drip(b"HTTP/1.1 200 OK\r\nX-Slow: ", every=0.5, byte=b"a"))
    seconds, error, _ = timed(openai_skill.invoke, "list-models", {}, api_key=CANARY_KEY,
                              base_url=server.url(), deadline=2, max_retries=0)
    check_deadline("header drip", seconds, error, 2)


@pytest.mark.timeout(90)
def test_a_chunked_sse_event_dripping_is_cut_at_the_deadline(server_with):
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n186a0\r\ndata: {\"choices\": [")
    server = server_with(drip(head, every=2.0))
    seconds, error, _ = timed(openai_skill.invoke, "chat-completion",
                              {"messages": [{"role": "user", "content": "hi"}], "stream": True},
                              api_key=CANARY_KEY, base_url=server.url(), deadline=3, max_retries=0)
    check_deadline("chunked SSE drip", seconds, error, 3)


@pytest.mark.timeout(90)
def test_a_stream_of_keep_alives_only_hits_the_idle_timeout(server_with):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    server = server_with(drip(head, every=0.2, byte=b": keep-alive\n\n"))
    seconds, error, _ = timed(openai_skill.invoke, "chat-completion",
                              {"messages": [{"role": "user", "content": "hi"}], "stream": True},
                              api_key=CANARY_KEY, base_url=server.url(), stream_idle_timeout=1.5,
                              max_retries=0)
    assert isinstance(error, APITimeoutError), repr(error)
    assert "no event" in error.message and "1.5 s" in error.message
    OVERSHOOTS["SSE idle (1.5 s)"] = seconds - 1.5
    assert 1.5 <= seconds < 1.5 + MAX_OVERSHOOT


@pytest.mark.timeout(90)
def test_an_image_download_dripping_is_cut_at_the_deadline(server_with):
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
            b"\x89PNG\r\n\x1a\n")
    server = server_with(drip(head, every=2.0))
    settings = Settings.from_env(base_url=server.url(), deadline=3, max_retries=0)
    seconds, error, _ = timed(download, server.url("/img.png?sig=secret"), settings)
    check_deadline("image download drip", seconds, error, 3)
    assert "secret" not in error.message


@pytest.mark.timeout(90)
def test_the_deadline_spans_every_download_redirect(server_with):
    """Three hops, each slow but within any per-hop limit: the one deadline ends the chain."""
    final = server_with(drip(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                             b"Content-Length: 5000\r\n\r\n\x89PNG", every=0.5))
    second = server_with(respond("302 Found", b"", {"Location": final.url("/img.png")}, delay=1.2))
    first = server_with(respond("302 Found", b"", {"Location": second.url("/next")}, delay=1.2))
    settings = Settings.from_env(base_url=first.url(), deadline=3, max_retries=0, read_timeout=10)
    seconds, error, _ = timed(download, first.url("/img.png"), settings)
    check_deadline("download redirects", seconds, error, 3)
    assert (first.accepted, second.accepted, final.accepted) == (1, 1, 1)


def test_a_deadline_is_on_by_default_and_0_disables_it(monkeypatch):
    assert Settings.from_env().deadline == DEFAULT_DEADLINE == 900
    monkeypatch.setenv("OPENAI_SKILL_DEADLINE", "0")
    assert Settings.from_env().deadline is None
    monkeypatch.setenv("OPENAI_SKILL_DEADLINE", "12.5")
    assert Settings.from_env().deadline == 12.5
    assert Settings.from_env(deadline=0).deadline is None
    monkeypatch.setenv("OPENAI_SKILL_STREAM_IDLE_TIMEOUT", "7")
    assert Settings.from_env().stream_idle_timeout == 7


@pytest.mark.timeout(90)
def test_a_normal_call_after_a_cut_one_reuses_nothing_broken(server_with):
    """The watchdog lets go of a socket when its call ends: the next call on the same
    process is unaffected."""
    body = json.dumps({"object": "list", "data": []}).encode()
    good = server_with(respond("200 OK", body, {"Content-Type": "application/json"}))
    bad = server_with(drip(JSON_HEAD, every=2.0))
    _, error, _ = timed(openai_skill.invoke, "list-models", {}, api_key=CANARY_KEY,
                        base_url=bad.url(), deadline=1, max_retries=0)
    assert isinstance(error, APITimeoutError)
    for _ in range(3):
        result = openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=good.url(),
                                     deadline=1)
        assert result["models"] == []
