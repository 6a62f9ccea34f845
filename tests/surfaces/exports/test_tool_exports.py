"""Tool definitions for registries: each format in its ecosystem's exact shape, checked
against that ecosystem's own rules, and built from the very schemas the pipeline enforces."""

import json
import re

import pytest

import openai_skill
from support.agent_clients import require_module
from support.skill_files import published_tools, without_the_default_model
from openai_skill.errors import InputError
from openai_skill.manifest import load_manifest
from openai_skill.surfaces.exports.tools import FORMATS, strict_mode_problems, tool_definitions

OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SEED_TOOLS = ["openai_chat_completion", "openai_generate_image", "openai_list_models", "openai_create_embedding"]
SETUP_TOOLS = ["setup_integration", "openai_usage"]  # skill.yaml's setup_tools: listed beside the four, not actions
SOURCES = published_tools()  # skill.yaml and schemas/ as their files hold them (support/skill_files.py)


def _name(tool: dict) -> str:
    return tool.get("name") or tool["function"]["name"]


def _input_schema(tool: dict) -> dict:
    return tool.get("input_schema") or tool.get("inputSchema") or tool["function"]["parameters"]


def _actions():
    return list(load_manifest().actions.values())


def test_the_python_api_and_the_cli_give_the_same_definitions(cli):
    for fmt in FORMATS:
        result = cli("tools", "--format", fmt)
        assert result.code == 0, result.err
        printed = json.loads(result.out)
        # what both give is the schema files' content, tool by tool...
        assert [_name(t) for t in printed] == SEED_TOOLS + SETUP_TOOLS, fmt
        # (the model default in force added: support/skill_files.without_the_default_model)
        assert [without_the_default_model(_name(t), _input_schema(t)) for t in printed] == [
            s["input"] for s in SOURCES.values()], fmt
        # ...and the two give it alike
        assert printed == openai_skill.tool_definitions(fmt)
    assert "tool_definitions" in openai_skill.__all__


def test_openai_function_shape_and_name_rules():
    tools = tool_definitions("openai")
    assert [t["function"]["name"] for t in tools] == SEED_TOOLS + SETUP_TOOLS
    for tool in tools:
        assert set(tool) == {"type", "function"} and tool["type"] == "function"
        function = tool["function"]
        assert set(function) == {"name", "description", "parameters", "strict"}
        assert OPENAI_NAME.match(function["name"])
        assert 0 < len(function["description"]) <= 1024
        assert function["parameters"]["type"] == "object"
        assert "$schema" not in function["parameters"] and "$id" not in function["parameters"]
        # the published parameters are the schema file, minus only the document header
        assert without_the_default_model(function["name"], function["parameters"]) == SOURCES[function["name"]]["input"]


def test_openai_strict_mode_is_claimed_only_where_the_schema_allows_it():
    tools = {t["function"]["name"]: t["function"] for t in tool_definitions("openai")}
    chat = tools["openai_chat_completion"]
    # chat has optional fields with defaults (model, max_tokens, ...): strict mode would make them required
    problems = strict_mode_problems(chat["parameters"])
    assert chat["strict"] is False
    assert any("every property must be required" in p and "model" in p for p in problems)
    # Every published schema carries `examples`, a keyword strict mode refuses: none may claim it.
    assert {name: f["strict"] for name, f in tools.items()} == dict.fromkeys(SEED_TOOLS + SETUP_TOOLS, False)
    assert all("examples" in f["parameters"] for f in tools.values())


def test_strict_mode_checker_knows_the_rules():
    compliant = {"type": "object", "additionalProperties": False, "required": ["q", "n"],
                 "properties": {"q": {"type": "string"}, "n": {"type": "integer", "minimum": 1}}}
    assert strict_mode_problems(compliant) == []
    open_object = {**compliant, "additionalProperties": True}
    assert strict_mode_problems(open_object) == ["/: objects must set additionalProperties: false"]
    optional = {**compliant, "required": ["q"]}
    assert strict_mode_problems(optional) == ["/: every property must be required (optional: n)"]
    nested = {**compliant, "properties": {**compliant["properties"], "q": {"type": "string", "default": "x"}}}
    assert strict_mode_problems(nested) == ["/properties/q: keyword 'default' is not supported"]


def test_anthropic_shape():
    tools = tool_definitions("anthropic")
    assert [t["name"] for t in tools] == SEED_TOOLS + SETUP_TOOLS
    for tool in tools:
        assert set(tool) == {"name", "description", "input_schema"}
        assert OPENAI_NAME.match(tool["name"])  # Anthropic's rule for tool names is the same pattern
        assert tool["input_schema"]["type"] == "object"
        assert without_the_default_model(tool["name"], tool["input_schema"]) == SOURCES[tool["name"]]["input"]
        assert tool["description"] == SOURCES[tool["name"]]["summary"]


def test_mcp_shape_is_what_the_mcp_sdk_accepts():
    mcp_types = require_module("mcp_types")
    from mcp.shared.tool_name_validation import validate_tool_name

    tools = tool_definitions("mcp")
    assert [t["name"] for t in tools] == SEED_TOOLS + SETUP_TOOLS
    for tool in tools:
        parsed = mcp_types.Tool.model_validate(tool)
        assert parsed.model_dump(by_alias=True, exclude_none=True) == tool
        assert validate_tool_name(tool["name"]).is_valid
        assert without_the_default_model(tool["name"], tool["inputSchema"]) == SOURCES[tool["name"]]["input"]
        assert tool["outputSchema"] == SOURCES[tool["name"]]["output"]
        assert tool["outputSchema"]["type"] == "object"  # MCP requires an object at the top
        # annotations come from skill.yaml, as written there
        assert {k: tool["annotations"][k] for k in SOURCES[tool["name"]]["annotations"]} == \
            SOURCES[tool["name"]]["annotations"]
    models = next(t for t in tools if t["name"] == "openai_list_models")
    assert models["annotations"]["readOnlyHint"] is True and models["annotations"]["idempotentHint"] is True


def test_json_format_carries_everything():
    tools = tool_definitions("json")
    assert [(t["name"], t["action"]) for t in tools] == [(a.mcp_tool, a.id) for a in _actions()] + [
        ("setup_integration", None), ("openai_usage", None)]
    assert all(set(t) == {"name", "action", "title", "description", "input_schema", "output_schema", "annotations"}
               for t in tools)


def test_published_examples_are_valid_inputs():
    for action in _actions():
        for example in action.input_schema.get("examples", []):
            result = openai_skill.invoke(action.id, example, dry_run=True)
            assert result["dry_run"] is True and result["action"] == action.id


def test_unknown_format_is_our_error_naming_the_formats(cli):
    with pytest.raises(InputError) as err:
        tool_definitions("langchain")
    assert err.value.details["expected"] == list(FORMATS) and "langchain" in err.value.message
    result = cli("tools", "--format", "langchain")
    assert result.code == 2 and "invalid choice: 'langchain'" in result.err


def test_setup_integration_is_listed_everywhere_but_is_no_action(cli):
    tool = load_manifest().setup_tools["setup_integration"]
    for fmt in FORMATS:
        names = [t.get("name") or t["function"]["name"] for t in tool_definitions(fmt)]
        assert names[-2:] == ["setup_integration", "openai_usage"]
    mcp_entry = tool_definitions("mcp")[-2]
    assert mcp_entry["annotations"]["openWorldHint"] is False and mcp_entry["annotations"]["readOnlyHint"] is False
    assert mcp_entry["inputSchema"] == {k: v for k, v in tool.input_schema.items() if k not in ("$schema", "$id")}
    assert mcp_entry["inputSchema"]["properties"] == {} and mcp_entry["inputSchema"]["additionalProperties"] is False
    assert "never pass" in mcp_entry["description"]
    from openai_skill.surfaces.exports.skill_md import render

    assert "the tool `setup_integration`: Store the user's OpenAI API key" in render()
    # not an action: run, invoke and batch do not know it
    assert "setup_integration" not in load_manifest().actions
    for name in ("setup_integration", "setup-integration"):
        with pytest.raises(InputError):
            openai_skill.invoke(name, {}, dry_run=True)
        result = cli("run", name, "--input", "{}", "--dry-run")
        assert result.code == 2, result.out


def test_openai_usage_is_listed_everywhere_read_only_and_no_action(cli):
    tool = load_manifest().setup_tools["openai_usage"]
    for fmt in FORMATS:
        names = [t.get("name") or t["function"]["name"] for t in tool_definitions(fmt)]
        assert names[-1] == "openai_usage"
    mcp_entry = tool_definitions("mcp")[-1]
    assert mcp_entry["annotations"]["readOnlyHint"] is True and mcp_entry["annotations"]["destructiveHint"] is False
    assert mcp_entry["annotations"]["openWorldHint"] is False
    assert set(mcp_entry["inputSchema"]["properties"]) == {"since", "by"}     # nothing that could set a cap
    assert mcp_entry["inputSchema"]["additionalProperties"] is False
    assert mcp_entry["outputSchema"] == {k: v for k, v in tool.output_schema.items() if k not in ("$schema", "$id")}
    from openai_skill.surfaces.exports.skill_md import render

    assert "the tool `openai_usage`: See what the OpenAI calls cost" in render()
    assert "openai_usage" not in load_manifest().actions
    for name in ("openai_usage", "openai-usage"):
        with pytest.raises(InputError):
            openai_skill.invoke(name, {}, dry_run=True)
        assert cli("run", name, "--input", "{}", "--dry-run").code == 2
