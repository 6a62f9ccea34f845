"""The MCP floor: the same SDK's low-level `Server` over stdio, with a tool that does nothing
and one that only makes the bare HTTP call.

    python benchmarks/mcp_noop_server.py      # speaks MCP on stdin/stdout, like `openai-skill mcp`

Built the way `openai_skill.surfaces.mcp.server` builds ours (tools as validated dicts, the
result validated from a dict), so a `tools/call` of `noop` costs what the SDK itself costs:
the JSON-RPC framing, its models and the stdio streams, on both sides. `bare_http` adds only
what no chat tool can skip: the same chat request to OPENAI_BASE_URL on a reused
`requests.Session` (the floor of the in-process benchmark), made inline and its reply text
returned. mcp_latency.py times our tool against both over the same client.
"""

from __future__ import annotations

import os

import anyio
import mcp_types as types
import requests
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

TOOLS = [{"name": "noop", "title": "No-op", "description": "Answers at once, doing nothing.",
          "inputSchema": {"type": "object", "additionalProperties": True}},
         {"name": "bare_http", "title": "Bare HTTP", "description": "The chat request on a bare requests.Session.",
          "inputSchema": {"type": "object", "additionalProperties": True}}]
RESULT = {"content": [{"type": "text", "text": "ok"}], "isError": False}


def build() -> Server:
    tools = types.ListToolsResult(tools=[types.Tool.model_validate(tool) for tool in TOOLS])
    session = requests.Session()
    url = os.environ.get("OPENAI_BASE_URL", "") + "/chat/completions"
    headers = {"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")}

    def bare_http(arguments: dict) -> dict:
        r = session.post(url, json=arguments, headers=headers, timeout=(5, 600))
        r.raise_for_status()
        reply = r.json()["choices"][0]["message"]["content"]
        return {"content": [{"type": "text", "text": reply}], "isError": False}

    async def on_list_tools(ctx, params) -> types.ListToolsResult:
        return tools

    async def on_call_tool(ctx, params) -> types.CallToolResult:
        if params.name == "bare_http":
            return types.CallToolResult.model_validate(bare_http(params.arguments or {}))
        return types.CallToolResult.model_validate(RESULT)

    return Server("noop", version="1", on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def main() -> None:
    server = build()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
