"""Commands that publish the skill to agents: `tools` (tool definitions for OpenAI,
Anthropic, MCP or neutral JSON) and `skill-md` (the SKILL.md that OpenClaw loads), both
generated from skill.yaml and the schemas."""

from __future__ import annotations

import sys
from pathlib import Path

from .commands import add_command
from .output import emit


def cmd_tools(args) -> int:
    """Print the tool definitions for a registry: --format openai|anthropic|mcp|json."""
    from ..exports.tools import tool_definitions

    emit(tool_definitions(args.format))
    return 0


def cmd_skill_md(args) -> int:
    """Print SKILL.md as generated from skill.yaml and the schemas (--write FILE to save it,
    --check FILE to compare)."""
    from ...errors import InputError
    from ..exports.skill_md import render

    text = render()
    if args.check:
        path = Path(args.check)
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            raise InputError(f"{path} is not what `openai-skill skill-md` generates; "
                             f"run `openai-skill skill-md --write {path}`")
        sys.stdout.write(f"{path} is up to date\n")
    elif args.write:
        Path(args.write).write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {args.write}\n")
    else:
        sys.stdout.write(text)
    return 0


def register(sub, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    from ..exports.tools import FORMATS

    p = add_command(sub, cmd_tools)
    p.add_argument("--format", choices=FORMATS, default="json", help="the registry's shape (default json)")

    p = add_command(sub, cmd_skill_md)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", metavar="FILE", nargs="?", const="SKILL.md",
                      help="write it to FILE (default ./SKILL.md)")
    mode.add_argument("--check", metavar="FILE", nargs="?", const="SKILL.md",
                      help="exit 2 if FILE (default ./SKILL.md) differs from what would be generated")
