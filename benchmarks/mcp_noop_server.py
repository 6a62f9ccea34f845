"""The MCP floor: the same SDK's low-level `Server` over stdio, with one tool that does nothing.

    python benchmarks/mcp_noop_server.py      # speaks MCP on stdin/stdout, like `openai-skill mcp`

Built the way `openai_skill.surfaces.mcp.server` builds ours (tools as validated dicts, the
result validated from a dict), so a `tools/call` here costs what the SDK itself costs: the
JSON-RPC framing, its models and the stdio streams, on both sides. mcp_latency.py times our
tool against this one over the same client.
"""

from __future__ import annotations

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

TOOL = {"name": "noop", "title": "No-op", "description": "Answers at once, doing nothing.",
        "inputSchema": {"type": "object", "additionalProperties": True}}
RESULT = {"content": [{"type": "text", "text": "ok"}], "isError": False}


def build() -> Server:
    tools = types.ListToolsResult(tools=[types.Tool.model_validate(TOOL)])

    async def on_list_tools(ctx, params) -> types.ListToolsResult:
        return tools

    async def on_call_tool(ctx, params) -> types.CallToolResult:
        return types.CallToolResult.model_validate(RESULT)

    return Server("noop", version="1", on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def main() -> None:
    server = build()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
