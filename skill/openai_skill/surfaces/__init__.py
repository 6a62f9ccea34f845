"""The ways agents reach the skill: the CLI, the MCP server, tool exports, the dashboard."""
