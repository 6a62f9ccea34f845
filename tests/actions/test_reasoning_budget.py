"""A reasoning model that spends the whole budget thinking: the result keeps the empty text,
`finish_reason: length` and `reasoning_tokens`, and the user is told in one line what happened
and how to raise the budget (CLI: stderr; Python and MCP: `warnings`). Other results carry none."""

import json

import pytest
from jsonschema import Draft202012Validator

import openai_skill as skill
from openai_skill.actions.chat import warnings
from openai_skill.manifest import load_manifest
from openai_skill.surfaces.mcp.results import success_result
from support.openai_data import HI

BUDGET = 25000
SPENT = {"id": "chatcmpl-len", "object": "chat.completion", "created": 1764000000, "model": "gpt-6.2-sol-2026-10-01",
         "choices": [{"index": 0, "finish_reason": "length", "logprobs": None,
                      "message": {"role": "assistant", "content": "", "refusal": None}}],
         "usage": {"prompt_tokens": 20, "completion_tokens": BUDGET, "total_tokens": BUDGET + 20,
                   "completion_tokens_details": {"reasoning_tokens": BUDGET}}}
LINE = (f"reasoning used the whole budget of {BUDGET} tokens ({BUDGET} reasoning tokens) and left no answer; "
        "raise it with --max-tokens (max_tokens) or lower --reasoning-effort")
OUTPUT = Draft202012Validator(load_manifest().action("chat-completion").output_schema)


def test_the_result_keeps_what_came_and_says_why(openai, key):
    openai.reply("POST", "/chat/completions", SPENT)
    result = skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6.2-sol"})
    assert (result["content"], result["finish_reason"], result["usage"]["reasoning_tokens"]) == ("", "length", BUDGET)
    assert result["warnings"] == [LINE]
    OUTPUT.validate(result)  # `warnings` is declared
    assert openai.bodies()[0]["max_completion_tokens"] == BUDGET


def test_the_cli_prints_the_empty_answer_and_one_stderr_line(openai, key, cli):
    openai.reply("POST", "/chat/completions", SPENT)
    result = cli("chat", "prove it", "-m", "gpt-6.2-sol")
    assert result.code == 0 and result.out == "\n"
    assert result.err == f"openai-skill: warning: {LINE}\n"


def test_mcp_results_carry_it_as_structured_content_and_text():
    result = {"content": "", "role": "assistant", "finish_reason": "length", "model": "m", "id": "c",
              "usage": {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10, "reasoning_tokens": 9},
              "request_id": "r", "warnings": [LINE]}
    wire = success_result("chat-completion", result)
    assert wire["structuredContent"]["warnings"] == [LINE]
    assert {"type": "text", "text": f"warning: {LINE}"} in wire["content"]
    OUTPUT.validate(wire["structuredContent"])


@pytest.mark.parametrize("result", [
    {"finish_reason": "stop", "content": "", "usage": {"reasoning_tokens": 10}},             # ended on its own
    {"finish_reason": "length", "content": "partial", "usage": {"reasoning_tokens": 10}},    # some text came
    {"finish_reason": "length", "content": "", "usage": {"reasoning_tokens": 0}},           # not reasoning
    {"finish_reason": "length", "content": None, "usage": None},
    {"finish_reason": "length", "content": None, "tool_calls": [{"id": "1"}], "usage": {"reasoning_tokens": 5}},
])
def test_nothing_to_say_otherwise(result):
    assert warnings(result, {"max_completion_tokens": 10}) == []


def test_an_ordinary_result_has_no_warnings_key(openai, key):
    openai.reply("POST", "/chat/completions", {**SPENT, "choices": [{**SPENT["choices"][0], "finish_reason": "stop",
                                                                      "message": {"role": "assistant", "content": "42",
                                                                                  "refusal": None}}]})
    result = skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6.2-sol"})
    assert "warnings" not in result and json.dumps(result)
