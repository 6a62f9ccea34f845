"""`openai-skill mcp`: serve the four actions as MCP tools (stdio by default).

The SDK is imported here, inside the command, and nowhere else: the core install and every
other command work without the `mcp` extra.
"""

from __future__ import annotations

import os
import sys

from .commands import add_command, seconds

ENV_TOKEN = "OPENAI_SKILL_MCP_TOKEN"



def cmd_mcp(args) -> int:
    """Run the MCP server: stdio (default), or --transport streamable-http on 127.0.0.1 behind a bearer token."""
    try:
        import anyio
        from ..mcp.server import ToolRunner, build_server
    except ImportError as exc:
        from ...errors import InputError

        raise InputError(f"the MCP server needs the mcp extra: pip install 'openai-skill[mcp]' "
                         f"(missing: {exc.name})") from None
    server = build_server(ToolRunner(progress_interval=args.progress_interval))
    if args.transport == "stdio":
        try:
            anyio.run(_stdio, server)
        except Exception as exc:
            if not _client_gone(exc):
                raise
            raise BrokenPipeError from None   # the client closed stdout: a quiet exit (main: 141)
        return 0
    from ..mcp.http import PATH, new_token, serve_http

    token = os.environ.get(ENV_TOKEN) or new_token()

    def ready(port: int) -> None:
        shown = "from $" + ENV_TOKEN if os.environ.get(ENV_TOKEN) else token
        sys.stderr.write(f"openai-skill mcp: serving http://127.0.0.1:{port}{PATH} "
                         f"(send Authorization: Bearer {shown})\n")
        sys.stderr.flush()

    anyio.run(serve_http, server, args.port, token, ready)
    return 0


def _client_gone(exc: BaseException) -> bool:
    """Whether `exc` (or every error of an exception group: 3.11's, or anyio's backport on
    3.10) says the client's end of a pipe is closed."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, (list, tuple)) and inner:
        return all(_client_gone(one) for one in inner)
    return isinstance(exc, (BrokenPipeError, ConnectionResetError))


async def _stdio(server) -> None:
    from ..mcp.server import serve_stdio

    await serve_stdio(server)


def register(sub, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    p = add_command(sub, cmd_mcp)
    p.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio",
                   help="stdio (default) or streamable-http")
    p.add_argument("--port", type=int, default=8765,
                   help="streamable-http port on 127.0.0.1 (default 8765; 0 picks a free one)")
    p.add_argument("--progress-interval", type=seconds, default=5.0, metavar="SECONDS",
                   help="seconds between keep-alive progress notifications on long calls (default 5)")
