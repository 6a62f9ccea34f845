"""The one loopback OpenAI (support/fake_openai.py), wired as the `openai` fixture wires it,
answers as today's API does (support/todays_api.py), so a test whose code sends what the live
API refuses fails: a retired model 404 `model_not_found` (unless that origin's own model list
still serves it), GPT-6 refusing `max_tokens`, gpt-image-2's size limits, a refused batch line
in the error file, and `shutdown_date` in GET /models. Talks to it with urllib, not the skill."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from openai_skill.urls import origin_of
from support.fake_openai import FakeOpenAI
from support.lifecycle import serve
from support.openai_data import HI
from support.todays_api import as_served_by


@pytest.fixture
def fake():
    server = FakeOpenAI()
    server.start()
    server.refuse = as_served_by(server.url)
    yield server
    server.stop()


def call(fake: FakeOpenAI, method: str, path: str, body=None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(fake.url + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_retired_model_is_answered_404_and_fails_the_test(fake):
    status, answer = call(fake, "POST", "/chat/completions", {"model": "o3-mini", "messages": HI})
    assert status == 404 and answer["error"]["code"] == "model_not_found"
    assert len(fake.invalid) == 1 and "today's API refuses POST /v1/chat/completions with 404" in fake.invalid[0]


def test_a_scripted_route_is_judged_too(fake):
    fake.reply("POST", "/images/generations", {"created": 1, "data": []})
    status, answer = call(fake, "POST", "/images/generations",
                          {"model": "gpt-image-2", "prompt": "x", "size": "1000x1000"})
    assert status == 400 and answer["error"]["param"] == "size"
    status, _ = call(fake, "POST", "/images/generations", {"model": "gpt-image-2", "prompt": "x", "size": "1536x864"})
    assert status == 200 and len(fake.invalid) == 1


def test_gpt_6_refuses_max_tokens(fake):
    status, answer = call(fake, "POST", "/chat/completions", {"model": "gpt-6-luna", "messages": HI, "max_tokens": 5})
    assert status == 400 and answer["error"]["param"] == "max_tokens"
    status, _ = call(fake, "POST", "/chat/completions",
                     {"model": "gpt-6-luna", "messages": HI, "max_completion_tokens": 5})
    assert status == 200


def test_a_server_that_still_lists_a_retired_model_serves_it(fake):
    serve("o3-mini", origin=origin_of(fake.url))  # what the skill learns from that origin's GET /models
    status, _ = call(fake, "POST", "/chat/completions", {"model": "o3-mini", "messages": HI})
    assert status == 200 and fake.invalid == []


def test_models_carry_their_shutdown_date(fake):
    status, answer = call(fake, "GET", "/models")
    assert status == 200
    assert {m["id"]: m["shutdown_date"] for m in answer["data"]} == {
        "gpt-4o-mini": "2027-01-14", "text-embedding-3-small": None}


def test_a_refused_batch_line_lands_in_the_error_file_alone(fake):
    lines = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": model, "messages": HI}} for i, model in enumerate(["gpt-4o-mini", "dall-e-3"])]
    fake.files["file-in"] = ({"id": "file-in"}, "\n".join(json.dumps(line) for line in lines).encode())
    _, batch = call(fake, "POST", "/batches", {"input_file_id": "file-in", "endpoint": "/v1/chat/completions",
                                                "completion_window": "24h"})
    for _ in range(3):
        _, batch = call(fake, "GET", f"/batches/{batch['id']}")
    assert batch["status"] == "completed" and batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    error_line = json.loads(fake.files[batch["error_file_id"]][1])
    assert error_line["custom_id"] == "r1" and error_line["response"]["status_code"] == 404
    assert len(fake.invalid) == 1 and "dall-e-3" in fake.invalid[0]
