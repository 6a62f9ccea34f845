"""A person at a terminal, for the tests of what needs one (surfaces/confirm.py)."""

from __future__ import annotations

import re


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
