"""Local web pages for the vault: `openai-skill dashboard` and the one-key page behind the
MCP tool `setup_integration`. Both run on 127.0.0.1 behind `guard.Guard`; they need the
`mcp` extra (Starlette and uvicorn come with the MCP SDK): `pip install 'openai-skill[mcp]'`.
"""
