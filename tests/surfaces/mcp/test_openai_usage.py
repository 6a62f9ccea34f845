"""The MCP tool `openai_usage` through the MCP SDK's own client: after a real chat call through
the same server (a cap set, the fake answering), it reports the call, its cost and what each
cap leaves, as its output schema says; bad arguments are isError naming the field; and no
argument can change a cap (the caps file is byte for byte the same after every call)."""

from __future__ import annotations

import json

import pytest

from support.agent_clients import require_module
from support.ledgers import close_ledgers  # noqa: F401  (autouse: every ledger opened here is closed)
from support.ledgers import open_ledger as _ledger

require_module("mcp")

from contract.spec import load_fixture  # noqa: E402
from support.canary import CANARY_KEY  # noqa: E402
from support.mcp_client import run_session, server_env, texts  # noqa: E402

CHAT = load_fixture("chat-completion.json")


@pytest.fixture
def run(openai, tmp_path):
    stderr = tmp_path / "server-stderr.txt"

    def go(body, env=None):
        return run_session(body, env or server_env(openai.url), tmp_path, stderr)

    yield go
    if stderr.exists():
        assert CANARY_KEY not in stderr.read_text()


def test_an_agent_sees_the_call_it_made_and_what_each_cap_leaves(run, openai):
    from jsonschema import Draft202012Validator
    from openai_skill.manifest import load_manifest

    _ledger().set_caps({"daily": 2.0, "per_call": 0.5})
    openai.reply("POST", "/chat/completions", CHAT)

    async def body(session):
        chat = await session.call_tool("openai_chat_completion", {"messages": [{"role": "user", "content": "Hi"}]})
        return chat, await session.call_tool("openai_usage", {}), await session.call_tool(
            "openai_usage", {"since": "7d", "by": "surface"})

    chat, usage, by_surface = run(body)
    assert not chat.is_error and not usage.is_error and not by_surface.is_error, texts(usage)
    cost = chat.structured_content["cost"]["usd"]
    report = usage.structured_content
    schema = load_manifest().setup_tools["openai_usage"].output_schema
    assert list(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
                .iter_errors(report)) == []
    assert report["by"] == "day" and report["days_in_window"] == 30
    assert report["totals"]["calls"] == 1 and report["totals"]["usd"] == cost
    daily = report["caps"]["set"]["daily"]
    assert daily["spent_usd"] == cost and daily["left_usd"] == round(2.0 - cost, 8)
    assert report["caps"]["set"]["per_call"] == {"usd": 0.5, "period": "one call"}
    assert [(g["key"], g["calls"]) for g in by_surface.structured_content["groups"]] == [("mcp", 1)]
    said = usage.content[0].text
    assert said.startswith("$") and "1 recorded call(s)" in said
    assert "The daily cap is $2.00:" in said and "left." in said and "only the user can change a cap" in said
    assert "The per-call cap is $0.50: no single call may cost more." in said
    assert json.loads(usage.content[1].text) == report


def test_bad_arguments_are_refused_naming_the_field(run):
    async def body(session):
        return [await session.call_tool("openai_usage", arguments) for arguments in
                ({"since": "7x"}, {"since": "0d"}, {"by": "week"}, {"since": 7})]

    results = run(body)
    assert all(r.is_error for r in results)
    errors = [json.loads(r.content[1].text)["error"] for r in results]
    assert [e["field"] for e in errors] == ["since", "since", "by", "since"]
    assert all(e["type"] == "invalid_input" for e in errors)
    assert "0 days is out of range" in errors[1]["message"] and "'week'" in errors[2]["message"]
    assert errors[0]["expected"].startswith("The last N UTC days") and errors[0]["given"] == "7x"   # the schema's words
    assert errors[2]["expected"].startswith("One group per UTC day") and errors[3]["given"] == "7"


def test_no_argument_can_change_a_cap(run):
    ledger = _ledger()
    ledger.set_caps({"daily": 1.0})
    before = ledger.caps_file.read_bytes()
    attempts = ({"daily": 1000}, {"caps": {"daily": 1000}}, {"allow_unpriced": True}, {"since": "7d", "set": "daily=9"},
                {"by": "day", "clear": True})

    async def body(session):
        return [await session.call_tool("openai_usage", arguments) for arguments in attempts]

    results = run(body)
    assert all(r.is_error for r in results)
    assert all("additional" in json.loads(r.content[1].text)["error"]["message"].lower() for r in results)
    assert ledger.caps_file.read_bytes() == before and ledger.stored_caps()["caps"] == {"daily": 1.0}


def test_it_never_writes_a_budget(run):
    """Read-only by construction: the handler's module reaches the ledger only through the
    report's reader, and without a budget the call makes no file at all."""
    import ast
    import inspect

    from openai_skill.surfaces.mcp import openai_usage

    called = {node.func.attr for node in ast.walk(ast.parse(inspect.getsource(openai_usage)))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not called & {"set_caps", "write_caps", "reserve", "settle", "attach", "settle_ref"}

    async def body(session):
        return await session.call_tool("openai_usage", {})

    result = run(body)
    assert not result.is_error and result.structured_content["caps"]["set"] == {}
    assert "No spend cap is set" in result.content[0].text
    assert not _ledger().path.exists() and not _ledger().caps_file.exists()
