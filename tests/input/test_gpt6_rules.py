"""Today's chat rules (skill.yaml `model_rules`), each on the body that would be sent and, where
a request goes out, against a loopback server that answers as today's API does: GPT-6 refuses
max_tokens and a sampling temperature, reasoning_effort has per-model ranges, gpt-6-luna calls
tools only with reasoning_effort none, Responses-only models never reach Chat Completions."""

import json

import pytest

import openai_skill as skill
from openai_skill import InputError
from support.openai_data import HI

GATEWAY = "http://127.0.0.1:9/v1"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
GPT6 = ["gpt-6-luna", "gpt-6.1-terra", "gpt-6.2-sol", "gpt-6.2-astra"]


def body(base_url=None, **extra):
    options = {"base_url": base_url} if base_url else {}
    return skill.invoke("chat-completion", {"messages": HI, **extra}, dry_run=True, **options)["request"]["body"]


def problems(**extra) -> dict:
    with pytest.raises(InputError) as info:
        body(**extra)
    return {p["path"]: p["message"] for p in info.value.problems}


@pytest.mark.parametrize("model", GPT6)
@pytest.mark.parametrize("base_url", [None, GATEWAY])
def test_gpt6_budget_travels_as_max_completion_tokens_on_any_origin(model, base_url):
    sent = body(base_url, model=model)
    assert sent["max_completion_tokens"] == 25000 and "max_tokens" not in sent and "temperature" not in sent
    assert body(base_url, model=model, max_tokens=300)["max_completion_tokens"] == 300


def test_the_schema_default_temperature_is_never_sent():
    for model in ("gpt-4o-mini", "my-finetune", *GPT6):
        assert "temperature" not in body(model=model) and "temperature" not in body(GATEWAY, model=model)
    assert body(model="gpt-4o-mini", temperature=1.0)["temperature"] == 1.0  # an explicit 1.0 travels


@pytest.mark.parametrize("model", GPT6)
def test_gpt6_temperature_needs_reasoning_effort_none(model):
    message = problems(model=model, temperature=0.2)["temperature"]
    assert message == (f'temperature: {model} honours temperature only with reasoning_effort "none"; '
                       'add reasoning_effort: "none" or leave temperature out (got 0.2)')
    if model in ("gpt-6-luna", "gpt-6.1-terra"):
        sent = body(model=model, temperature=0.2, reasoning_effort="none")
        assert sent["temperature"] == 0.2 and sent["reasoning_effort"] == "none"


@pytest.mark.parametrize("model, allowed", [
    ("gpt-6.2-sol", ["low", "medium", "high", "xhigh", "max"]),
    ("gpt-6.2-astra", ["low", "medium", "high", "xhigh", "max"]),
    ("gpt-6-luna", ["none", "minimal", "low", "medium", "high", "xhigh", "max"]),
    ("gpt-6.1-terra", ["none", "minimal", "low", "medium", "high", "xhigh", "max"]),
])
def test_reasoning_effort_ranges_per_model(model, allowed):
    for effort in ["none", "minimal", "low", "medium", "high", "xhigh", "max"]:
        if effort in allowed:
            assert body(model=model, reasoning_effort=effort)["reasoning_effort"] == effort
        else:
            assert "low" in problems(model=model, reasoning_effort=effort)["reasoning_effort"]


def test_reasoning_effort_max_is_a_value_and_anything_else_is_not():
    assert body(model="gpt-6.2-astra", reasoning_effort="max")["reasoning_effort"] == "max"
    assert "one of" in problems(model="gpt-6.2-astra", reasoning_effort="maximum")["reasoning_effort"]


def test_gpt6_luna_with_tools_gets_reasoning_effort_none():
    sent = body(model="gpt-6-luna", tools=TOOLS)
    assert sent["reasoning_effort"] == "none" and sent["tools"] == TOOLS
    assert body(model="gpt-6-luna", tools=TOOLS, reasoning_effort="none")["reasoning_effort"] == "none"
    message = problems(model="gpt-6-luna", tools=TOOLS, reasoning_effort="high")["reasoning_effort"]
    assert "gpt-6-luna takes tools only with reasoning_effort \"none\"" in message and '"high"' in message
    assert "reasoning_effort" not in body(model="gpt-6.2-sol", tools=TOOLS)  # only luna
    assert "reasoning_effort" not in body(model="gpt-6-luna")                # only with tools


def test_the_other_gpt6_fields_are_accepted_and_sent():
    sent = body(model="gpt-6.2-sol", verbosity="low", service_tier="fast", safety_identifier="user-hash-1",
                prompt_cache_key="faq-v2")
    assert {k: sent[k] for k in ("verbosity", "service_tier", "safety_identifier", "prompt_cache_key")} == {
        "verbosity": "low", "service_tier": "fast", "safety_identifier": "user-hash-1", "prompt_cache_key": "faq-v2"}
    found = {}
    with pytest.raises(InputError) as info:
        body(verbosity="loud", safety_identifier="x" * 65)
    found = {p["path"] for p in info.value.problems}
    assert found == {"verbosity", "safety_identifier"}


@pytest.mark.parametrize("model", ["o3-deep-research", "o4-mini-deep-research-2025-06-26", "computer-use-preview",
                                   "gpt-5.5-pro", "gpt-5.6-codex", "gpt-6-codex-mini"])
def test_responses_only_models_are_refused_before_the_wire(model, api, key, cli):
    message = problems(model=model)["model"]
    assert message.startswith(f"model: {model} is served only by OpenAI's Responses API (/v1/responses)")
    result = cli("chat", "hi", "-m", model)
    assert result.code == 2 and "Responses API" in result.err and len(result.err.strip().splitlines()) == 1
    assert len(api.log) == 0


def test_a_retired_responses_only_model_names_its_replacement_first():
    assert problems(model="o1-pro")["model"] == "model: o1-pro was shut down on 2026-10-23; use gpt-5.6-sol"


def test_the_cli_has_reasoning_effort_and_verbosity(cli):
    result = cli("chat", "hi", "-m", "gpt-6.2-sol", "--reasoning-effort", "max", "--verbosity", "high", "--dry-run")
    assert result.code == 0, result.err
    sent = result.json()["request"]["body"]
    assert (sent["reasoning_effort"], sent["verbosity"]) == ("max", "high")
    assert cli("chat", "hi", "--reasoning-effort", "maximal").code == 2


def test_bodies_sent_to_a_server_answering_as_today_are_accepted(openai, key):
    # the `openai` fixture checks every body against the spec subset and today's API rules
    # (support/todays_api.py): GPT-6 refuses max_tokens, a temperature without effort none, ...
    reply = {"id": "chatcmpl-6", "object": "chat.completion", "created": 1764000000, "model": "gpt-6-luna",
             "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                          "message": {"role": "assistant", "content": "ok", "refusal": None}}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    openai.reply("POST", "/chat/completions", reply)
    for extra in ({"model": "gpt-6-luna"}, {"model": "gpt-6-luna", "tools": TOOLS},
                  {"model": "gpt-6.1-terra", "temperature": 0.3, "reasoning_effort": "none"},
                  {"model": "gpt-6.2-astra", "reasoning_effort": "max", "max_tokens": 64}):
        assert skill.invoke("chat-completion", {"messages": HI, **extra})["content"] == "ok"
    sent = openai.bodies()
    assert all("max_tokens" not in b for b in sent) and sent[1]["reasoning_effort"] == "none"
    json.dumps(sent)
