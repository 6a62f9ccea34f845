"""The MCP server and the lifecycle: a refused model is an isError result naming the
replacement (with a progress token too: once an internal error), warnings reach structured
content and the text a model reads, set-up failures point at `openai-skill doctor`, and the
tools list carries each model default in force for the server's origin, date and settings."""

from datetime import date

import anyio
import pytest

from openai_skill.client import Client
from openai_skill.errors import (APIConnectionError, AuthenticationError, CredentialsError, InputError,
                                 InsecureTransportError, RateLimitError)
from openai_skill.surfaces.exports.tools import tool_definitions
from openai_skill.surfaces.mcp.results import DOCTOR_HINT, error_result, success_result
from openai_skill.surfaces.mcp.server import ToolRunner, defaults_in_force


class Ctx:
    """A tool call's context: a progress token, and a session that takes progress reports."""

    def __init__(self, token=None):
        self.meta = {"progress_token": token} if token else None
        self.reports = []
        self.session = self

    async def report_progress(self, progress, total, message):
        self.reports.append(message)


def call(runner, name, arguments, token=None):
    return anyio.run(runner.call, Ctx(token), name, arguments)


@pytest.mark.parametrize("token", [None, "p1"])
def test_a_retired_model_is_an_error_result_naming_the_replacement(token):
    runner = ToolRunner(Client(key_sources=[]), progress_interval=0.05)
    result = call(runner, "openai_generate_image", {"prompt": "x", "model": "dall-e-3"}, token)
    assert result["isError"] is True
    assert result["content"][0]["text"] == "openai-skill: model: dall-e-3 was shut down on 2026-05-12; use gpt-image-2"
    assert DOCTOR_HINT not in result["content"][0]["text"]  # the input's fault, not the set-up's


@pytest.mark.parametrize("error, hinted", [
    (CredentialsError("no OpenAI API key found"), True),
    (AuthenticationError("HTTP 401: bad key", status=401), True),
    (InsecureTransportError("plain http to a remote host"), True),
    (APIConnectionError("could not connect"), True),
    (InputError("messages: required"), False),
    (RateLimitError("HTTP 429", status=429), False),
])
def test_set_up_failures_point_at_doctor(error, hinted):
    text = error_result(error)["content"][0]["text"]
    assert (DOCTOR_HINT in text) is hinted and "openai-skill doctor" in DOCTOR_HINT


def test_warnings_reach_structured_content_and_the_text():
    result = {"models": [], "count": 0, "request_id": None, "warnings": ["gpt-5-mini shuts down on 2026-12-11"]}
    wire = success_result("list-models", result)
    assert wire["structuredContent"]["warnings"] == result["warnings"]
    assert wire["content"][-1] == {"type": "text", "text": "warning: gpt-5-mini shuts down on 2026-12-11"}


def _defaults(tools):
    return {t["name"]: t["inputSchema"]["properties"]["model"].get("default")
            for t in tools if "model" in t["inputSchema"].get("properties", {})}


def test_the_tools_list_carries_the_defaults_in_force(monkeypatch):
    tools = tool_definitions("mcp")
    on_the_day = ToolRunner(Client(key_sources=[], today=date(2027, 1, 14)))
    assert _defaults(defaults_in_force(tools, on_the_day)) == {
        "openai_chat_completion": "gpt-6-luna", "openai_generate_image": "gpt-image-2",
        "openai_create_embedding": "text-embedding-3-small"}
    monkeypatch.setenv("OPENAI_SKILL_IMAGE_MODEL", "gpt-image-2.6-flare")
    monkeypatch.setenv("OPENAI_SKILL_CHAT_MODEL", "o3-mini")  # retired: the list keeps the skill's default
    mine = ToolRunner(Client(key_sources=[], today=date(2026, 12, 2)))
    assert _defaults(defaults_in_force(tools, mine)) == {
        "openai_chat_completion": "gpt-4o-mini", "openai_generate_image": "gpt-image-2.6-flare",
        "openai_create_embedding": "text-embedding-3-small"}
    assert _defaults(tools)["openai_generate_image"] == "gpt-image-2"  # the published list is not changed
