"""A reasoning model's answer: its usage block carries `completion_tokens_details.reasoning_tokens`
(billed as output but never shown), which the result reports beside the totals, streamed or not."""

from __future__ import annotations

import json

import openai_skill as skill
from support.openai_data import HI, sse

USAGE = {"prompt_tokens": 13, "completion_tokens": 226, "total_tokens": 239,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 192, "audio_tokens": 0,
                                       "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
ANSWER = {"id": "chatcmpl-r1", "object": "chat.completion", "created": 1764000000, "model": "gpt-6-luna-2026-09-30",
          "choices": [{"index": 0,
                       "message": {"role": "assistant", "content": "42", "refusal": None, "annotations": []},
                       "logprobs": None, "finish_reason": "stop"}],
          "usage": USAGE, "service_tier": "default"}


def chunk(delta, finish=None, usage=None):
    return {"id": "chatcmpl-r1", "object": "chat.completion.chunk", "created": 1764000000,
            "model": "gpt-6-luna-2026-09-30", "choices": [] if usage else [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **({"usage": usage} if usage else {})}


def test_reasoning_tokens_are_reported(openai, key):
    openai.reply("POST", "/chat/completions", ANSWER)
    result = skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6-luna"})
    assert result["usage"] == {"prompt_tokens": 13, "completion_tokens": 226, "total_tokens": 239,
                               "reasoning_tokens": 192}
    assert openai.bodies()[0]["max_completion_tokens"] == 25000  # room for reasoning, by default


def test_reasoning_tokens_are_reported_when_streamed(openai, key, cli):
    stream = sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "4"}), chunk({"content": "2"}),
                 chunk({}, "stop"), chunk(None, usage=USAGE))
    openai.reply_raw("POST", "/chat/completions", stream, content_type="text/event-stream")
    result = cli("run", "chat-completion", "--input",
                 json.dumps({"messages": HI, "model": "gpt-6-luna", "stream": True}))
    assert result.code == 0, result.err
    assert result.err == "42\n"
    assert result.json()["usage"]["reasoning_tokens"] == 192
    assert result.json()["content"] == "42"


def test_an_answer_without_details_has_no_reasoning_count(openai, key):
    plain = {**ANSWER, "usage": {k: USAGE[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}}
    openai.reply("POST", "/chat/completions", plain)
    usage = skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6-luna"})["usage"]
    assert "reasoning_tokens" not in usage and usage["total_tokens"] == 239
