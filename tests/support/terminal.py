"""A person at a terminal, for the tests of what needs one (surfaces/confirm.py): a fake one for
in-process runs (`FakeTerminal`, the `person` fixture), and a real pseudo-terminal for the
installed command (`run_on_a_terminal`)."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path


class FakeTerminal:
    """A person at a terminal: reads what the prompt shows, answers with the word it asks for
    (or with `answer`, when the test wants a wrong one)."""

    def __init__(self, answer: str | None = None):
        self.answer = answer
        self.shown = ""
        self.asked = 0

    def write(self, text: str) -> int:
        self.shown += text
        return len(text)

    def flush(self) -> None:
        pass

    def readline(self) -> str:
        self.asked += 1
        word = re.findall(r"type (\S+) and press Enter", self.shown)[-1]
        return (self.answer if self.answer is not None else word) + "\n"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _exe() -> str:
    beside = Path(sys.executable).parent / "openai-skill"
    return str(beside) if beside.exists() else (shutil.which("openai-skill") or "openai-skill")


def run_on_a_terminal(args: list[str], answer, stdin: bytes = b"y\n", timeout: float = 60):
    """Run `openai-skill ARGS` with a pseudo-terminal as its controlling terminal (stdin, stdout
    and stderr stay pipes, as under an agent). `answer(prompt)` returns what the person types.
    Returns (exit code, stdout, stderr, everything the terminal showed)."""
    import pty

    master, slave = pty.openpty()
    slave_name = os.ttyname(slave)

    def take_the_terminal():  # in the child: a session of its own, with the pty as its terminal
        import fcntl
        import termios

        os.setsid()
        fd = os.open(slave_name, os.O_RDWR)
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
        os.close(fd)

    proc = subprocess.Popen([_exe(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=take_the_terminal, env=dict(os.environ))
    # Our end of the slave stays open until the child is done: with no slave open, reading the
    # master fails (EIO) in the moments before the child opens /dev/tty itself.
    proc.stdin.write(stdin)
    proc.stdin.close()
    shown, answered = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            shown += os.read(master, 4096)
            if not answered and b"press Enter" in shown:
                os.write(master, answer(shown.decode()).encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    proc.wait(timeout=timeout)     # its output is a few lines: the pipes never fill
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    os.close(master)
    os.close(slave)
    return proc.returncode, out.decode(), err.decode(), shown.decode()
