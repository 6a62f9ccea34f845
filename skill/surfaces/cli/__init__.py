"""The `openai-skill` command line.

Each command group lives in its own module with a `register(subparsers)` function; a
command is a short function whose docstring is its help. Modules import heavy libraries
inside the commands that need them, because agents start this program once per call.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..._version import __version__
from ...errors import EXIT_USAGE, SkillError
from . import actions, exports, jobs, mcp, vault
from .output import fail

GROUPS = (actions, vault, exports, jobs, mcp)
DEBUG_ENV = "OPENAI_SKILL_DEBUG"  # set to 1 to re-raise errors with a traceback


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit 2, as every other input error
        from ...redaction import redact  # argparse echoes stray arguments, which may be a pasted key

        self.print_usage(sys.stderr)
        sys.stderr.write(f"openai-skill: error: {redact(message)}\n")
        raise SystemExit(EXIT_USAGE)


DESCRIPTION = ("OpenAI for agents: chat-completion, generate-image, list-models and create-embedding, "
               "each input checked against its JSON Schema before anything is sent.")
EPILOG = """key: OPENAI_API_KEY, or store it once, encrypted, with `openai-skill setup`.
exit codes: 0 ok, 2 invalid input or usage, 3 missing or rejected credentials,
            4 API error (quota, permission, unexpected answer), 5 network or timeout."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="openai-skill", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"openai-skill {__version__}")
    parser.add_argument("--json", action="store_true",
                        help="on failure, print the error object as JSON on stdout")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args) or 0
    except SkillError as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        return fail(exc, as_json=args.json)
    except KeyboardInterrupt:
        sys.stderr.write("openai-skill: interrupted\n")
        return 130
