"""A person's yes: the confirmation an agent cannot give by itself.

Some changes widen what a stored key (or a budget) may do: sending a vault key to one more
origin (`vault allow-origin`, `setup` for an entry that goes elsewhere), letting a CA bundle
vouch for the servers it goes to (`setup --ca-bundle`), raising a spend cap. An agent that
was misled (an injected instruction in a page, a file, a tool result) can run any command,
with any flag, and pipe anything into it; so `--yes` and a piped `y` must not count.

What counts as a person here:
- someone at this process's terminal: the word to type is written to the controlling
  terminal (/dev/tty) and the answer read from it, never stdin or stdout, so neither a pipe
  nor a program reading the command's output can answer; the word is random each time, so a
  scripted answer cannot be prepared;
- or someone on the dashboard, behind its one-time link and session cookie (its forms are the
  other way to make these changes; that surface confirms with its own form).

Threat model: runaway and misled agents, not a hostile program running as the user, which
can read the vault's key file, attach to a terminal, or edit this code. Where there is no
terminal (an MCP server, CI, a service), the change is refused, exit 2, with one line saying
how a person makes it.

API (for every surface that needs a person's yes; the spend guard reuses it for caps):

    from openai_skill.surfaces.confirm import ask_person, NeedsPersonError

    ask_person(
        "let the vault entry 'openai_api_key' be sent to https://gw.example.com",  # the change
        details=["it may go to: https://api.openai.com"],   # lines shown before asking
        how_else="or use the dashboard: `openai-skill dashboard`",  # said when refused
    )   # returns only after the person typed the word; raises NeedsPersonError otherwise

`NeedsPersonError` is an `InputError` (exit 2, kind "needs_person"), raised before anything
is changed: with no terminal, a wrong word, an empty answer or an interrupted prompt.
Seam for tests: `open_terminal` (returns a text stream to read and write, or raises OSError).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from ..errors import NeedsPersonError

TERMINAL = "/dev/tty"
ATTEMPTS = 1       # a wrong word refuses: a person simply runs the command again
# Short, distinct, easy to type and hard to mistake for one another.
WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper", "kestrel",
         "lantern", "maple", "nectar", "orchid", "pebble", "quartz", "raven", "saffron", "tundra", "umber",
         "violet", "willow", "yarrow", "zephyr", "basalt", "cobalt", "dune", "falcon", "glacier", "heron",
         "indigo", "jasper", "lagoon", "meadow", "nimbus", "opal", "prairie", "ripple", "sierra", "thistle",
         "walnut")


class _Terminal:
    """The controlling terminal as two text streams (a tty cannot be one seekable "r+" file)."""

    def __init__(self):
        # Kept open for the question and its answer; __exit__ closes both.
        self._in = open(TERMINAL, encoding="utf-8", errors="replace")  # noqa: SIM115
        try:
            self._out = open(TERMINAL, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        except BaseException:
            self._in.close()
            raise

    def write(self, text: str) -> int:
        return self._out.write(text)

    def flush(self) -> None:
        self._out.flush()

    def readline(self) -> str:
        return self._in.readline()

    def __enter__(self) -> _Terminal:
        return self

    def __exit__(self, *exc) -> None:
        self._out.close()
        self._in.close()


def open_terminal():
    """The controlling terminal, to write the question to and read the answer from; OSError
    when the process has none (a service, an MCP server, CI, `setsid`)."""
    return _Terminal()


def challenge() -> str:
    """Two random words joined by a dash (~10 bits of choice each): what the person types."""
    return f"{secrets.choice(WORDS)}-{secrets.choice(WORDS)}"


def ask_person(change: str, *, details: Sequence[str] = (), how_else: str = "") -> None:
    """Show `change` (and `details`) on the terminal, ask for a random word back; return when
    typed, raise NeedsPersonError (nothing changed) otherwise. See the module docstring."""
    refusal = (f"{change}: this needs a person to confirm it; nothing was changed. A person does it by "
               f"running the same command in a terminal and typing the word it shows"
               + (f", {how_else}" if how_else else "") + ".")
    try:
        terminal = open_terminal()
    except OSError:
        raise NeedsPersonError(refusal + " (There is no terminal here: no pipe or flag can confirm it.)",
                               reason="no_terminal") from None
    word = challenge()
    try:
        with terminal:
            terminal.write("\n".join(["", f"openai-skill: about to {change}.", *[f"  {line}" for line in details],
                                      f"To confirm, type {word} and press Enter (anything else cancels): "]))
            terminal.flush()
            answer = terminal.readline()
    except (OSError, KeyboardInterrupt, EOFError):
        raise NeedsPersonError(refusal, reason="not_confirmed") from None
    if answer.strip() != word:
        raise NeedsPersonError(f"{change}: not confirmed (the word typed was not {word}); nothing was changed",
                               reason="not_confirmed")


__all__ = ["ask_person", "NeedsPersonError", "challenge", "open_terminal", "WORDS"]
