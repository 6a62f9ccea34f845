"""Driving `openai-skill mcp` with the MCP SDK's own client (stdio_client + ClientSession)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import anyio

from support.canary import CANARY_KEY


def openai_skill_exe() -> str:
    beside = Path(sys.executable).parent / "openai-skill"  # the venv's, even when not activated
    return str(beside) if beside.exists() else shutil.which("openai-skill")


def server_env(base_url: str | None = None, key: str | None = CANARY_KEY, **extra) -> dict:
    """The server's environment: the SDK's client passes only HOME, PATH and a few more, plus this."""
    env = {"HOME": os.environ["HOME"], "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
           "OPENAI_SKILL_MAX_RETRIES": "0"}
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    if key:
        env["OPENAI_API_KEY"] = key
    env.update(extra)
    return env


def run_session(body, env: dict, cwd, stderr_path, args=("mcp",)):
    """Start the server, initialize, run `await body(session)`, return its value."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=openai_skill_exe(), args=list(args), env=env, cwd=str(cwd))

    async def main():
        with open(stderr_path, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await body(session)

    return anyio.run(main)


def texts(result) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")
