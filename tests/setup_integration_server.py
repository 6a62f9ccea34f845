"""A bare MCP server with only `setup_integration`, for testing the tool before (and apart
from) `openai-skill mcp`: python tests/setup_integration_server.py"""

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from openai_skill.surfaces.dashboard import setup_integration


async def on_list_tools(ctx, params):
    return types.ListToolsResult(tools=[types.Tool(name=setup_integration.NAME, description="store the key",
                                                   input_schema={"type": "object", "properties": {},
                                                                 "additionalProperties": False})])


async def on_call_tool(ctx, params):
    return await setup_integration.call(ctx, params.arguments, request_state=params.request_state,
                                        input_responses=params.input_responses)


async def main():
    server = Server("setup-only", version="0", on_list_tools=on_list_tools, on_call_tool=on_call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
