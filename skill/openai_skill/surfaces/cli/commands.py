"""Registering a command: its name comes from the function, its help from the docstring.

`cmd_secret_provider` becomes `secret-provider`; the docstring (one sentence or two) is both
the help in the command list and the command's own `--help` description.

A command's arguments may be declared as data (`arg(...)`, one add_argument call each): argparse
is built from the declarations, and `parse_plain` reads the same ones to parse a plain call
without importing argparse at all (the calls agents make most, once per process).
"""

from __future__ import annotations

import math

COMMAND_PREFIX = "cmd_"
SUPPRESS = "==SUPPRESS=="  # argparse.SUPPRESS, named without importing argparse (a test holds them equal)


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
        import argparse  # only to report the error (its message is argparse's to print)

        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def arg(*names: str, **options) -> tuple:
    """One `add_argument(*names, **options)` call, as data."""
    return names, options


class Later:
    """A value of a declaration worked out when a parser needs it (`Later(func, *args)`): help
    read from skill.yaml costs nothing on a call that never prints help."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __call__(self):
        return self.func(*self.args)


def _resolved(options: dict) -> dict:
    return {key: value() if isinstance(value, Later) else value for key, value in options.items()}


def add_arguments(parser, declared) -> None:
    """Add `arg(...)` declarations to an argparse parser."""
    import argparse

    for names, options in declared:
        options = _resolved(options)
        if options.get("default") == SUPPRESS:  # argparse tells SUPPRESS by identity
            options["default"] = argparse.SUPPRESS
        parser.add_argument(*names, **options)


class Args:
    """The parsed arguments of a plain call: what argparse's Namespace is to a command."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def __contains__(self, name) -> bool:
        return name in self.__dict__

    def __eq__(self, other) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    def __repr__(self) -> str:
        return f"Args({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


# What parse_plain knows of an add_argument call; a declaration with any other option (nargs,
# const, another action, ...) leaves the whole call to argparse.
_PLAIN_OPTIONS = frozenset({"help", "metavar", "type", "choices", "default", "action"})
_INVALID = object()


def parse_plain(argv: list[str], func, declared) -> Args | None:
    """The namespace argparse would give for `argv` (`[--json] COMMAND ARGS...`), when the call
    is plain: every option spelled out in full and a value-taking one followed by its value,
    no other argument starting with "-", each positional given, every value valid. None for
    anything else (help, an abbreviation, `--opt=value`, `--`, an error to report), and
    argparse parses it instead. `declared` are the command's `arg(...)` declarations, parents'
    first, as its parser is built from them; tests/test_cli_startup.py holds the two parsers
    to the same namespace over generated command lines."""
    values: dict = {"json": False, "command": None}  # the top level's defaults
    position = 0
    while position < len(argv) and argv[position] == "--json":
        values["json"] = True
        position += 1
    if position >= len(argv):
        return None
    values["command"] = argv[position]
    options: dict = {}
    positionals: list = []
    for names, spec in declared:
        if isinstance(spec.get("choices"), Later):  # only choices matter here (help never does)
            spec = {**spec, "choices": spec["choices"]()}
        action = spec.get("action", "store")
        if not spec.keys() <= _PLAIN_OPTIONS or action not in ("store", "store_true"):
            return None
        default = spec.get("default", False if action == "store_true" else None)
        if isinstance(default, str) and default != SUPPRESS and "type" in spec:
            return None  # argparse would convert the default: leave that to it
        if names[0].startswith("-"):
            dest = _dest(names)
            options.update(dict.fromkeys(names, (dest, action, spec)))
            if default != SUPPRESS:
                values[dest] = default
        elif len(names) == 1 and action == "store":
            positionals.append((names[0], spec))
        else:
            return None
    given = []
    position += 1
    while position < len(argv):
        token = argv[position]
        position += 1
        if token in options:
            dest, action, spec = options[token]
            if action == "store_true":
                values[dest] = True
                continue
            if position >= len(argv) or argv[position].startswith("-"):
                return None
            value = _value(argv[position], spec)
            position += 1
        elif token.startswith("-"):
            return None
        else:
            given.append(token)
            continue
        if value is _INVALID:
            return None
        values[dest] = value
    if len(given) != len(positionals):
        return None
    for (dest, spec), token in zip(positionals, given, strict=True):
        value = _value(token, spec)
        if value is _INVALID:
            return None
        values[dest] = value
    values["func"] = func
    return Args(**values)


def _dest(names) -> str:
    """argparse's dest for an option: its first long name, else its first short one."""
    long = [name for name in names if name.startswith("--")]
    return (long or names)[0].lstrip("-").replace("-", "_")


def _value(text: str, spec: dict):
    convert = spec.get("type")
    try:
        value = text if convert is None else convert(text)
    except Exception:  # argparse reports it (ArgumentTypeError, ValueError, TypeError)
        return _INVALID
    if "choices" in spec and value not in spec["choices"]:
        return _INVALID
    return value
