"""`openai-skill dashboard`: the vault in a local browser page (needs the mcp extra)."""

from __future__ import annotations

from ...errors import InputError
from .commands import seconds


def cmd_dashboard(args) -> int:
    """Open a local page (127.0.0.1, one-time link) to store, verify, list, rotate and remove keys."""
    try:
        from ..dashboard.run import run_dashboard
    except ImportError as exc:
        raise InputError("the dashboard needs the mcp extra (Starlette and uvicorn): "
                         "pip install 'openai-skill[mcp]'") from exc
    run_dashboard(idle_timeout=args.idle_timeout, open_browser=not args.no_browser)
    return 0


def register(subparsers, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    p = subparsers.add_parser("dashboard", help=cmd_dashboard.__doc__, description=cmd_dashboard.__doc__)
    p.add_argument("--no-browser", action="store_true", help="only print the URL")
    p.add_argument("--idle-timeout", type=seconds, default=15 * 60, metavar="SECONDS",
                   help="stop after this long without a request (default: 900)")
    p.set_defaults(func=cmd_dashboard)
