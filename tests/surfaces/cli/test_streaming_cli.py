"""chat-completion with stream: true, end to end: text printed as it arrives, and a final
result with the same shape as the non-streamed one."""

import json

import pytest
from jsonschema import Draft202012Validator

import openai_skill as skill
from openai_skill.manifest import load_manifest
from support.openai_data import HI, sse


def chunk(delta, finish=None, **extra):
    return {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1764000000,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}


USAGE = {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1764000000,
         "model": "gpt-4o-mini-2024-07-18", "choices": [],
         "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}}

STREAM = sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "One, "}), chunk({"content": "two, "}),
             chunk({"content": "three."}), chunk({}, "stop"), USAGE)


@pytest.fixture
def streaming(openai):
    from contract.spec import validate_stream_chunk

    for event in STREAM.split("\n\n"):
        if event.startswith("data: {"):
            validate_stream_chunk(json.loads(event[len("data: "):]))
    openai.reply_raw("POST", "/chat/completions", STREAM, content_type="text/event-stream",
                     headers={"x-request-id": "req_stream"})
    return openai


def test_stream_result_has_the_non_streamed_shape(streaming, key):
    pieces = []
    result = skill.invoke("chat-completion", {"messages": HI, "stream": True}, on_text=pieces.append)
    assert pieces == ["One, ", "two, ", "three."]
    assert result == {"content": "One, two, three.", "role": "assistant", "finish_reason": "stop",
                      "model": "gpt-4o-mini-2024-07-18", "id": "chatcmpl-s1",
                      "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
                      "request_id": "req_stream",
                      # From the usage of the last chunk (include_usage), at gpt-4o-mini's $0.15 in and
                      # $0.60 out per 1M tokens: (11 x 0.15 + 5 x 0.60) / 1M.
                      "cost": {"usd": 0.00000465, "basis": "usage", "prices_as_of": "2026-12-02",
                               "model": "gpt-4o-mini", "input_tokens": 11, "cached_tokens": 0, "output_tokens": 5}}
    schema = load_manifest().action("chat-completion").output_schema
    assert not list(Draft202012Validator(schema).iter_errors(result))
    body = streaming.bodies()[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert streaming.requests[0].headers["Accept"] == "text/event-stream"


def test_chat_shortcut_streams_text_to_stdout(streaming, key, cli):
    result = cli("chat", "Count to three", "--stream")
    assert result.code == 0
    assert result.out == "One, two, three.\n"


def test_run_streams_text_to_stderr_and_json_to_stdout(streaming, key, cli):
    result = cli("run", "chat-completion", "--input", json.dumps({"messages": HI, "stream": True}))
    assert result.code == 0
    assert "One, two, three." in result.err
    assert result.json()["content"] == "One, two, three."


def test_mid_stream_error_is_raised(openai, key, cli):
    broken = sse(chunk({"role": "assistant", "content": "One"}),
                 {"error": {"message": "The server had an error while processing your request.",
                            "type": "server_error", "param": None, "code": None}}, done=False)
    openai.reply_raw("POST", "/chat/completions", broken, content_type="text/event-stream")
    result = cli("--json", "run", "chat-completion", "--input", json.dumps({"messages": HI, "stream": True}))
    assert result.code == 4
    assert "server had an error" in result.err and "Traceback" not in result.err
    assert result.out.strip().endswith("}") and json.loads(result.out)["error"]["type"] == "server_error"
