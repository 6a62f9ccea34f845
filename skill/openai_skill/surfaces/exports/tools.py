"""Tool definitions for registries, all from skill.yaml and schemas/: one `ToolSpec` per
action, rendered in each ecosystem's own shape.

    openai     {"type": "function", "function": {"name", "description", "parameters", "strict": false}}
    anthropic  {"name", "description", "input_schema"}
    mcp        the `tools/list` entries: {"name", "title", "description", "inputSchema", "outputSchema", "annotations"}
    json       everything we know, neutral: name, action, description, input_schema, output_schema, annotations
               (`action` is null for `setup_integration`, which is not an OpenAI action)

The schemas are the very objects the pipeline validates with (no copy to drift), minus the
`$schema`/`$id` headers that registries do not expect at a tool's top level.
Pure functions; the CLI's `tools` command and `openai_skill.tool_definitions` print/return them.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from ...errors import InputError
from ...manifest import load_manifest

FORMATS = ("openai", "anthropic", "mcp", "json")

# OpenAI function names: ^[a-zA-Z0-9_-]{1,64}$ (the same rule Anthropic applies to tool names).
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Keywords OpenAI's strict mode (Structured Outputs) accepts in a function's parameters.
STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
    "$ref", "$defs", "description", "title", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
})
_HEADER_KEYS = ("$schema", "$id")


@dataclass(frozen=True)
class ToolSpec:
    name: str            # the MCP tool name from skill.yaml (openai_chat_completion, ...)
    action: str | None   # the action id (chat-completion, ...); None for a setup tool (setup_integration)
    title: str
    description: str
    input_schema: dict
    output_schema: dict
    annotations: dict


def tool_specs() -> list[ToolSpec]:
    """One ToolSpec per action, then one per setup tool, in skill.yaml's order."""
    specs = []
    manifest = load_manifest()
    for action in manifest.actions.values():
        specs.append(ToolSpec(
            name=action.mcp_tool,
            action=action.id,
            title=action.id.replace("-", " ").capitalize(),
            description=action.summary,
            input_schema=action.input_schema,
            output_schema=action.output_schema,
            annotations=dict(action.annotations),
        ))
    for tool in manifest.setup_tools.values():
        specs.append(ToolSpec(name=tool.name, action=None, title=tool.title, description=" ".join(tool.summary.split()),
                              input_schema=tool.input_schema, output_schema=tool.output_schema,
                              annotations=dict(tool.annotations)))
    return specs


def published_schema(schema: dict) -> dict:
    """A copy of `schema` without the document headers ($schema, $id) at its top."""
    out = copy.deepcopy(schema)
    for key in _HEADER_KEYS:
        out.pop(key, None)
    return out


def strict_mode_problems(schema: dict, path: str = "") -> list[str]:
    """Why OpenAI's strict mode would refuse `schema` as function parameters ([] when it would not).

    Strict mode needs every object closed (additionalProperties: false) with every property
    required, and only the keywords in STRICT_KEYWORDS.
    """
    problems = []
    if not isinstance(schema, dict):
        return problems
    for key in schema:
        if key not in STRICT_KEYWORDS and key not in _HEADER_KEYS:
            problems.append(f"{path or '/'}: keyword {key!r} is not supported")
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            problems.append(f"{path or '/'}: objects must set additionalProperties: false")
        optional = sorted(set(schema.get("properties", {})) - set(schema.get("required", [])))
        if optional:
            problems.append(f"{path or '/'}: every property must be required (optional: {', '.join(optional)})")
    for name, sub in schema.get("properties", {}).items():
        problems += strict_mode_problems(sub, f"{path}/properties/{name}")
    for key in ("items",):
        if isinstance(schema.get(key), dict):
            problems += strict_mode_problems(schema[key], f"{path}/{key}")
    for key in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(schema.get(key, []) if isinstance(schema.get(key), list) else []):
            problems += strict_mode_problems(sub, f"{path}/{key}/{index}")
    for name, sub in schema.get("$defs", {}).items():
        problems += strict_mode_problems(sub, f"{path}/$defs/{name}")
    return problems


def to_openai(spec: ToolSpec) -> dict:
    """OpenAI function calling (Chat Completions `tools`). `strict` is on only when the schema allows it."""
    parameters = published_schema(spec.input_schema)
    return {"type": "function", "function": {
        "name": spec.name, "description": spec.description, "parameters": parameters,
        "strict": not strict_mode_problems(parameters)}}


def to_anthropic(spec: ToolSpec) -> dict:
    """Anthropic Messages API `tools` entry."""
    return {"name": spec.name, "description": spec.description,
            "input_schema": published_schema(spec.input_schema)}


def to_mcp(spec: ToolSpec) -> dict:
    """An MCP `tools/list` entry (wire names, camelCase)."""
    return {"name": spec.name, "title": spec.title, "description": spec.description,
            "inputSchema": published_schema(spec.input_schema),
            "outputSchema": published_schema(spec.output_schema),
            "annotations": {"title": spec.title, **spec.annotations}}


def to_json(spec: ToolSpec) -> dict:
    """Neutral: everything the manifest says about the tool."""
    return {"name": spec.name, "action": spec.action, "title": spec.title, "description": spec.description,
            "input_schema": published_schema(spec.input_schema),
            "output_schema": published_schema(spec.output_schema), "annotations": dict(spec.annotations)}


RENDERERS = {"openai": to_openai, "anthropic": to_anthropic, "mcp": to_mcp, "json": to_json}


def tool_definitions(format: str = "json") -> list[dict]:
    """Every tool in the `format` ecosystem's shape: openai, anthropic, mcp or json."""
    render = RENDERERS.get(format)
    if render is None:
        raise InputError(f"unknown tool format {format!r}; expected one of: {', '.join(FORMATS)}",
                         field="format", expected=list(FORMATS), given=format)
    return [render(spec) for spec in tool_specs()]
