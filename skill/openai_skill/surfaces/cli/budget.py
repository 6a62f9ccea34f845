"""`openai-skill budget set|show|clear`: the spend caps the guard checks before every paid call.

Lowering a cap (or setting one where none was) needs nothing: it can only refuse more.
Raising one, clearing one, or allowing calls whose price is unknown lifts a limit, so it needs
a person: the word shown on the controlling terminal and typed back there (`surfaces.confirm`,
as for `vault allow-origin`), which no pipe, flag or agent reading the output can supply;
without a terminal the lift is refused (exit 2, nothing changed). No MCP tool or tool export
reaches these commands.

Threat model: caps stop runaway and misled agents, not a hostile program running as the user.
"""

from __future__ import annotations

import sys

from ...errors import InputError
from ...spend import Guard
from ..confirm import ask_person
from ...spend.caps import CAP_LABELS, CAPS, ENV_CAPS, parse_usd, usd
from .commands import add_command
from .output import emit

HOW_ELSE = "or lower a cap instead, which needs no one"


def _usd_arg(flag: str):
    def parse(text: str) -> float:
        return parse_usd(text, flag)
    return parse


def cmd_set(args) -> int:
    """Set spend caps in USD (per call, per UTC day, per UTC month); raising one needs a person at a terminal."""
    wanted = {name: getattr(args, name) for name in CAPS if getattr(args, name) is not None}
    if not wanted and args.unpriced is None:
        raise InputError("budget set: give at least one of --per-call, --daily, --monthly, --allow-unpriced, "
                         "--deny-unpriced (amounts in USD, e.g. --daily 5)")
    ledger = Guard().ledger
    stored = ledger.stored_caps()
    lifts = [f"raise the {CAP_LABELS[name]} cap from {usd(stored['caps'][name])} to {usd(value)}"
             for name, value in wanted.items() if name in stored["caps"] and value > stored["caps"][name]]
    if args.unpriced and not stored["allow_unpriced"]:
        lifts.append("allow calls whose price is unknown while caps are set")
    if lifts:
        ask_person("change the spend caps", details=lifts, how_else=HOW_ELSE)
    ledger.set_caps(wanted, allow_unpriced=args.unpriced)
    emit(ledger.summary())
    return 0


def cmd_show(args) -> int:
    """Show the spend caps, what is spent and left this UTC day and month, and unsettled calls."""
    emit(Guard().ledger.summary())
    return 0


def cmd_clear(args) -> int:
    """Remove spend caps (all, or those named); removing a cap lifts it, so it needs a person at a terminal."""
    names = [name for name in CAPS if getattr(args, name)] or list(CAPS)
    ledger = Guard().ledger
    stored = ledger.stored_caps()
    present = [name for name in names if name in stored["caps"]]
    unpriced = stored["allow_unpriced"] and not any(getattr(args, name) for name in CAPS)
    if present:
        ask_person("remove spend caps",
                   details=[f"remove the {CAP_LABELS[n]} cap of {usd(stored['caps'][n])}" for n in present],
                   how_else=HOW_ELSE)
    # Clearing everything also withdraws the unpriced allowance: that direction needs no one.
    ledger.set_caps({name: None for name in present}, allow_unpriced=False if unpriced else None)
    emit(ledger.summary())
    return 0


def _help(parser):
    def show(args) -> int:
        parser.print_help(sys.stderr)
        return 2
    return show


def register(subparsers, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    b = subparsers.add_parser("budget", help="spend caps checked before every paid call",
                              description="Spend caps checked before every paid call (exit 7 when one refuses). "
                                          "Lowering needs nothing; raising, clearing or allowing unpriced calls "
                                          "needs a person at a terminal.")
    b.set_defaults(func=_help(b))
    sub = b.add_subparsers(dest="budget_command", metavar="SUBCOMMAND")
    p = add_command(sub, cmd_set)
    for name, flag in (("per_call", "--per-call"), ("daily", "--daily"), ("monthly", "--monthly")):
        p.add_argument(flag, dest=name, type=_usd_arg(flag), metavar="USD",
                       help=f"the {CAP_LABELS[name]} cap in USD (the environment's {ENV_CAPS[name]} can only "
                            "lower it)")
    unpriced = p.add_mutually_exclusive_group()
    unpriced.add_argument("--allow-unpriced", dest="unpriced", action="store_const", const=True, default=None,
                          help="let calls whose price is unknown run while caps are set (needs a person)")
    unpriced.add_argument("--deny-unpriced", dest="unpriced", action="store_const", const=False,
                          help="refuse calls whose price is unknown while caps are set (the default)")
    add_command(sub, cmd_show)
    p = add_command(sub, cmd_clear)
    for name, flag in (("per_call", "--per-call"), ("daily", "--daily"), ("monthly", "--monthly")):
        p.add_argument(flag, dest=name, action="store_true", help=f"remove only the {CAP_LABELS[name]} cap")
