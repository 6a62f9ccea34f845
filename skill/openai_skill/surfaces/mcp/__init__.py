"""`openai-skill mcp`: the skill as an MCP server (stdio, or streamable HTTP on 127.0.0.1).

Needs the `mcp` extra (`pip install 'openai-skill[mcp]'`). Nothing here is imported by the
core or by other commands: the SDK loads only when `openai-skill mcp` runs.
"""
