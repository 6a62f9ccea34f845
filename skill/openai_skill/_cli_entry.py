"""The `openai-skill` command's entry point: Ctrl-C is handled before anything heavy loads.

The CLI imports argparse, its command modules and (per command) much more; a Ctrl-C during
those first tens of milliseconds used to print a Python traceback and exit -2. This module
imports nothing but the standard library's `os`, `signal` and `sys`, makes SIGINT end the
process at once with the CLI's own line and exit code 130, and only then imports the CLI,
whose `main` installs the normal handler (KeyboardInterrupt, reported the same way) first.
"""

import os
import signal
import sys

EXIT_INTERRUPTED = 130   # as shells report SIGINT; the CLI's own code for it


def interrupted_early(signum, frame):
    """SIGINT before the CLI's own handling is in place: its line and code, nothing else."""
    try:
        os.write(2, b"openai-skill: interrupted\n")
    finally:
        os._exit(EXIT_INTERRUPTED)


setattr(interrupted_early, "openai_skill_early_handler", True)  # noqa: B010  (how the CLI's main knows it; a plain
# attribute assignment on a function is not typed)


def main() -> int:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:   # not ignored by a parent
        signal.signal(signal.SIGINT, interrupted_early)
    from .surfaces.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
