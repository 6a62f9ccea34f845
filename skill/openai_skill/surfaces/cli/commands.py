"""Registering a command: its name comes from the function, its help from the docstring.

`cmd_secret_provider` becomes `secret-provider`; the docstring (one sentence or two) is both
the help in the command list and the command's own `--help` description.
"""

from __future__ import annotations

import argparse
import math

COMMAND_PREFIX = "cmd_"


def add_command(subparsers, func, *, name: str | None = None, parents=()):
    """Add `func` as a command and return its parser (for its arguments)."""
    doc = " ".join((func.__doc__ or "").split())
    name = name or func.__name__.removeprefix(COMMAND_PREFIX).replace("_", "-")
    parser = subparsers.add_parser(name, help=doc, description=doc,
                                   parents=list(parents))
    parser.set_defaults(func=func)
    return parser


def seconds(text: str) -> float:
    """argparse type for a duration: a finite number of seconds above 0 (not nan, not inf)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value
