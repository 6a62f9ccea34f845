"""The argparse parser of `openai-skill`: the top level, then each command module's commands.

Imported only when a call needs argparse (help, an error to report, a command or a spelling
`commands.parse_plain` leaves to it): importing argparse and building parsers was a tenth of
a cold `openai-skill chat`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..._version import __version__
from ...errors import InputError
from . import COMMANDS, GROUPS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # an InputError like any other: one line on stderr, exit 2, --json
        from ...redaction import redact_untrusted  # argparse echoes stray arguments: maybe a pasted key

        self.print_usage(sys.stderr)
        raise InputError(redact_untrusted(message))


DESCRIPTION = ("OpenAI for agents: chat-completion, generate-image, list-models and create-embedding, "
               "each input checked against its JSON Schema before anything is sent.")
EPILOG = """key: OPENAI_API_KEY, or store it once, encrypted, with `openai-skill setup`.
something off? `openai-skill doctor` checks the key, the base URL, the API and the models.
exit codes: 0 ok, 2 invalid input or usage, 3 missing or rejected credentials,
            4 API error (quota, permission, unexpected answer), 5 network or timeout,
            6 images generated but not all saved (the result keeps the rest),
            7 refused by a spend cap before sending (`openai-skill budget show`),
            1 internal error (a bug; OPENAI_SKILL_DEBUG=1 shows the traceback)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command, or (`command`) only the commands of the module that registers that one."""
    parser = _Parser(prog="openai-skill", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"openai-skill {__version__}")
    parser.add_argument("--json", action="store_true",
                        help="on failure, print the error object as JSON on stdout")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for group in GROUPS if command is None else (COMMANDS[command],):
        importlib.import_module(f"{__package__}.{group}").register(sub, only=command)
    return parser
