"""`batch create` never loses a batch it created and never pays for one twice (issue 17,
item 5): a create whose answer is lost is found by its tag instead of being sent again; a
create that did not happen is retried; every batch created is reported, on failure too; a
refused upload creates nothing."""

from __future__ import annotations

import json
import threading

import pytest

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


WAIT = 30.0


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    from openai_skill.jobs.batch import api as batch
    from openai_skill.transport import call

    monkeypatch.setattr(batch, "_sleep", lambda seconds: None)
    monkeypatch.setattr(call, "_sleep", lambda seconds: None)


def _inputs(tmp_path, lines: int = 4):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}]}) + "\n"
                            for i in range(1, lines + 1)))
    return path


def _wrap(openai, name: str, wrapper):
    real = getattr(openai, name)
    setattr(openai, name, lambda *args: wrapper(real, *args))


def _lists_batches(openai) -> threading.Event:
    """Set when the client lists batches (its lookup)."""
    listed = threading.Event()
    route = openai.route

    def watched(method, path, *args):
        if method == "GET" and path.rstrip("/").endswith("/batches"):
            listed.set()
        return route(method, path, *args)

    openai.route = watched
    return listed


def test_a_create_whose_answer_is_lost_is_found_by_its_tag_not_sent_again(openai, cli, tmp_path):
    listed = _lists_batches(openai)

    def answer_late(real, body):
        answer = real(body)            # the batch exists from here on
        listed.wait(WAIT)              # ... but its answer comes after the client gave up
        return answer

    _wrap(openai, "create_batch", answer_late)
    try:
        result = cli("batch", "create", "chat-completion", "--file", _inputs(tmp_path), "--request-timeout", 1)
    finally:
        listed.set()
    assert result.code == 0, result.err
    (made,) = openai.batches.values()
    assert [b["id"] for b in result.json()["batches"]] == [made["id"]]
    assert openai.count("POST", "/v1/batches") <= 1 and len(openai.batches) == 1   # sent once, created once
    assert len(made["metadata"]["create_tag"]) == 16


def test_a_create_that_did_not_happen_is_tried_again(openai, cli, tmp_path):
    refusals = [1]

    def unavailable_once(real, body):
        if refusals:
            refusals.pop()
            return 503, {"error": {"message": "overloaded", "type": "server_error", "param": None,
                                   "code": None}}, {}
        return real(body)

    _wrap(openai, "create_batch", unavailable_once)
    result = cli("batch", "create", "chat-completion", "--file", _inputs(tmp_path))
    assert result.code == 0, result.err
    assert len(openai.batches) == 1 and openai.count("POST", "/v1/batches") == 2
    assert openai.count("GET", "/v1/batches") == 1                     # looked up before trying again


@pytest.mark.parametrize("as_json", [False, True])
def test_batches_created_before_a_failure_are_always_reported(openai, cli, tmp_path, as_json):
    calls = []

    def refuse_second(real, body):
        calls.append(body)
        if len(calls) == 2:
            return 400, {"error": {"message": "too many enqueued tokens", "type": "invalid_request_error",
                                   "param": None, "code": None}}, {}
        return real(body)

    _wrap(openai, "create_batch", refuse_second)
    args = ["batch", "create", "chat-completion", "--file", _inputs(tmp_path), "--max-requests", 2]
    result = cli(*(["--json"] if as_json else []), *args)
    assert result.code == 4
    (first,) = openai.batches.values()
    assert first["id"] in result.err and "billed" in result.err
    if as_json:
        assert json.loads(result.out)["error"]["created"][0]["id"] == first["id"]
    else:
        printed = result.json()
        assert printed["complete"] is False and [b["id"] for b in printed["batches"]] == [first["id"]]


def test_a_refused_upload_creates_no_batch(openai, cli, tmp_path):
    uploads = []

    def refuse_second(real, *args):
        uploads.append(1)
        if len(uploads) == 2:
            return 400, {"error": {"message": "file too large", "type": "invalid_request_error",
                                   "param": None, "code": None}}, {}
        return real(*args)

    _wrap(openai, "upload", refuse_second)
    result = cli("batch", "create", "chat-completion", "--file", _inputs(tmp_path), "--max-requests", 2)
    assert result.code == 4 and "file too large" in result.err
    assert openai.batches == {} and openai.count("POST", "/v1/batches") == 0


def test_when_the_lookup_fails_too_the_create_is_not_repeated_and_the_tag_is_named(openai, cli, tmp_path):
    listed = threading.Event()

    def answer_late(real, body):
        answer = real(body)
        listed.wait(WAIT)
        return answer

    _wrap(openai, "create_batch", answer_late)
    route = openai.route

    def no_list(method, path, *args):
        if method == "GET" and path.rstrip("/").endswith("/batches"):
            listed.set()
            return 500, b'{"error": {"message": "down", "type": "server_error"}}', "application/json", {}
        return route(method, path, *args)

    openai.route = no_list
    try:
        result = cli("batch", "create", "chat-completion", "--file", _inputs(tmp_path), "--request-timeout", 1,
                     "--max-retries", 1)
    finally:
        listed.set()
    assert result.code == 5, result.err
    (made,) = openai.batches.values()
    assert openai.count("POST", "/v1/batches") <= 1
    assert f"create_tag={made['metadata']['create_tag']}" in result.err and "batch list" in result.err
