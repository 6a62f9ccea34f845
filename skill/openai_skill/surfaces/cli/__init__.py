"""The `openai-skill` command line.

Each command group lives in its own module with a `register(subparsers, only=None)` function
(`only`: the one command this call runs, when known, so a module may build just its parser); a
command is a short function whose docstring is its help (`commands.add_command`). Modules
import heavy libraries inside the commands that need them, because agents start this
program once per call.

No Python traceback reaches a user: expected failures are SkillErrors with their own exit
codes; anything else is caught last, reported as one redacted line with EXIT_INTERNAL
(`OPENAI_SKILL_DEBUG=1` re-raises it with the traceback).
"""

from __future__ import annotations

import os
import sys
from functools import partial

from ...errors import EXIT_USAGE, SkillError
from .output import OutputError, emit, fail, write_text

# The modules of this package that register commands, in the order `--help` lists them.
GROUPS = ("actions", "doctor", "vault", "budget", "usage", "exports", "jobs", "mcp", "dashboard")
# Which module registers each command (tests/test_cli_startup.py holds this to the full parser).
# A call names its command up front, so only that module is imported and only its parsers are
# built: building all eighteen commands' parsers (and importing what their options name) was
# a tenth of a cold `openai-skill chat`.
COMMANDS = {
    "run": "actions", "chat": "actions", "image": "actions", "models": "actions", "embed": "actions",
    "actions": "actions", "schema": "actions",
    "doctor": "doctor",
    "setup": "vault", "vault": "vault", "secret-provider": "vault",
    "budget": "budget",
    "usage": "usage",
    "tools": "exports", "skill-md": "exports",
    "cache": "jobs", "batch": "jobs",
    "mcp": "mcp",
    "dashboard": "dashboard",
}
DEBUG_ENV = "OPENAI_SKILL_DEBUG"  # set to 1 to re-raise errors with a traceback
EXIT_INTERNAL = 1        # a failure we did not foresee: a bug to report
EXIT_INTERRUPTED = 130   # Ctrl-C, as shells report SIGINT
EXIT_BROKEN_PIPE = 141   # the reader went away (`| head`), as shells report SIGPIPE


def build_parser(command: str | None = None):
    """The command line's argparse parser: every command, or (`command`) only the commands of
    the module that registers that one (a call that names it parses the same way)."""
    from .parser import build_parser as build  # argparse: imported only when a call needs it

    return build(command)


def command_named(argv: list[str]) -> str | None:
    """The command `argv` runs, when that is certain before parsing: its first argument, or the
    first after `--json` (the one top-level option that has no say in which command runs).
    None otherwise (`--help`, `--version`, an abbreviated option, a typo): the full parser
    answers those, with every command in its help and its error messages."""
    for arg in argv:
        if arg != "--json":
            return arg if arg in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    from .core_dumps import disable_core_dumps

    disable_core_dumps()  # before any key is read
    # Called with no arguments, main() is the program (the console script, `python -m`): the
    # process ends when it returns. Called with arguments, it runs inside someone's process.
    whole_process = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv  # known before parsing, so a usage error honours it too
    debug = os.environ.get(DEBUG_ENV) == "1"
    try:
        _take_over_ctrl_c()
        return _dispatch(argv, whole_process)
    except SkillError as exc:
        if debug:
            raise
        # partial, not a lambda: bind `exc` now (Python unbinds the name when the except block ends)
        return _report(partial(fail, exc, as_json=as_json), exc.exit_code)
    except KeyboardInterrupt:
        return _report(lambda: _interrupted(as_json), EXIT_INTERRUPTED)
    except BrokenPipeError:
        return _reader_gone()
    except OutputError as exc:  # stdout on a full disk: say so on stderr, if that still works
        return _report(partial(_output_failed, exc))
    except Exception as exc:  # the last resort: whatever was not foreseen, still one line
        if debug:
            raise
        return _report(partial(_internal_error, exc, as_json))


def _take_over_ctrl_c() -> None:
    """From here on Ctrl-C is a KeyboardInterrupt that `main` reports (exit 130); until here the
    entry point's handler did the same without one (`_cli_entry`)."""
    import signal

    # Known by a mark, not imported: _cli_entry imports this package.
    if getattr(signal.getsignal(signal.SIGINT), "openai_skill_early_handler", False):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _dispatch(argv: list[str], whole_process: bool = False) -> int:
    command = command_named(argv)
    args = None
    if command is not None and COMMANDS[command] == "actions":
        from .actions import parse_plain  # the calls agents make most: parsed without argparse

        args = parse_plain(argv, command)
        if args is not None:
            return _one_call(args, whole_process)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return args.func(args) or 0


def _one_call(args, whole_process: bool) -> int:
    """Run a plain action command (one request and its answer) with the cyclic garbage collector
    paused. Importing requests and the client leaves some 30,000 objects for the collector to
    track, and the collections that sets off cost ~19 M instructions (some 4 ms) of a cold call
    while finding next to nothing to free in a process that ends with the call (reference
    counting still frees everything else, and the collection Python runs at exit runs as
    always). Inside someone else's process (tests, embedders) the collector is restored
    afterwards; in our own it stays paused to the end, since turning it back on would set off
    at once the collection it was spared.

    In our own process the objects still alive when the call is done are frozen (`gc.freeze`)
    as well: the full collection Python runs at exit walks every tracked object (~40 M
    instructions, some 8 ms of a ~100 ms call, more than the bare-requests floor spends at
    exit, because the client's modules keep more objects alive) to free memory the system is
    about to take back. Reference counting still frees them as the modules are torn down, and
    atexit handlers, buffered output and non-daemon threads are handled as always; what no
    longer happens is a collection of cycles left from the call (nothing of ours needs one:
    the pooled socket and the spend ledger are closed by reference counting or by the OS)."""
    import gc

    if not gc.isenabled():
        return args.func(args) or 0
    gc.disable()
    try:
        return args.func(args) or 0
    finally:
        if whole_process:
            _close_for_exit()
            gc.freeze()
        else:
            gc.enable()


def _close_for_exit() -> None:
    """What the exit collection would have closed, closed now: the default client's spend
    ledger (a SQLite connection sits in a reference cycle; closing it checkpoints its WAL)."""
    client = sys.modules.get("openai_skill.client")
    if client is not None:
        try:
            client.close_default()
        except Exception:  # noqa: S110  as at exit: a close that fails changes nothing the call did
            pass


def _internal_error(exc: BaseException, as_json: bool) -> int:
    from ...redaction import redact_untrusted  # the exception's text may quote anything

    text = " ".join(redact_untrusted(str(exc)).split())[:500] or "(no message)"
    if isinstance(exc, OSError) and exc.strerror:  # the system refused (a full disk, ...): not our bug
        message = f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
        write_text(sys.stderr, f"openai-skill: {message}\n")
    else:
        message = f"unexpected {type(exc).__name__}: {text}"
        write_text(sys.stderr, f"openai-skill: {message} (a bug: please report it; "
                               f"{DEBUG_ENV}=1 shows the traceback)\n")
    if as_json:
        emit({"error": {"type": "internal_error", "error": type(exc).__name__, "message": message}})
    return EXIT_INTERNAL


def _output_failed(exc: OutputError) -> int:
    _silence_stdout()
    write_text(sys.stderr, f"openai-skill: {exc}\n")
    return EXIT_INTERNAL


def _interrupted(as_json: bool) -> int:
    write_text(sys.stderr, "openai-skill: interrupted\n")
    if as_json:
        emit({"error": {"type": "interrupted", "error": "KeyboardInterrupt", "message": "interrupted"}})
    return EXIT_INTERRUPTED


def _report(report, code: int = EXIT_INTERNAL) -> int:
    """Run a reporter; a reader that is gone, or an output that cannot be written, by then
    is no reason for a traceback either (the exit code stays `code`)."""
    try:
        return report()
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:  # the report itself failed (stdout on a full disk): last words on fd 2
        _silence_stdout()
        reason = str(exc) if isinstance(exc, OutputError) else type(exc).__name__
        try:
            os.write(2, f"openai-skill: the error could not be reported ({reason})\n".encode())
        except OSError:
            pass
        return code


def _reader_gone() -> int:
    """stdout's reader closed the pipe (`openai-skill models | head -1`): stop quietly.

    Python would otherwise report the failed flush at exit; pointing stdout at /dev/null
    first is the fix the Python docs give (library/signal, "Note on SIGPIPE")."""
    _silence_stdout()
    return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (tests, embedding): nothing will flush at exit
