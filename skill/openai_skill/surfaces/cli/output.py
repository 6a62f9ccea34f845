"""Printing results and errors: JSON on stdout, a short readable message on stderr.

Results are masked value by value (`redact_value`): only the secrets we hold are masked, so
model output, paths and ids print exactly as they came.
"""

from __future__ import annotations

import json
import re
import sys

from ...errors import SkillError
from ...redaction import StreamRedactor, redact, redact_value

# An indented array of plain numbers (an embedding): one line instead of one per number.
# Compiled on the first `emit` (re keeps it), not at import: `chat` never needs it.
_NUMBER_ARRAY = (r"\[\s*\n\s*(-?[0-9][-+0-9.eE]*(?:,\s*\n\s*-?[0-9][-+0-9.eE]*)*)\s*\n\s*\]")
# Input with thousands of problems must not print thousands of lines: the first few go to
# stderr, all that were collected go in the `--json` error object.
MAX_PROBLEM_LINES = 10


def emit(result) -> None:
    """Print a result as indented JSON on stdout, number arrays kept on one line."""
    try:
        text = json.dumps(redact_value(result), indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN/Infinity: Python's JSON parser let them in from an answer
        from ...errors import UnexpectedResponseError

        raise UnexpectedResponseError("the answer contains NaN or Infinity, which JSON cannot "
                                      "carry; nothing was printed") from None
    text = re.sub(_NUMBER_ARRAY, lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]", text)
    write_text(sys.stdout, text + "\n", redacted=True)


class OutputError(Exception):
    """stdout or stderr cannot be written (a full disk, a closed descriptor): not a bug of
    ours, and no reason for a traceback. A reader that went away is BrokenPipeError instead."""


def write_text(stream, text: str, *, redacted: bool = False) -> None:
    """Write `text` (held secrets masked, nothing else changed) and flush, so an agent reading
    a pipe sees it at once. Lone surrogates (which a terminal cannot encode) are replaced."""
    if not redacted:
        text = redact(text)
    try:
        try:
            stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(stream, "encoding", None) or "utf-8"
            stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        name = "stdout" if stream is sys.stdout else "stderr" if stream is sys.stderr else "the output"
        raise OutputError(f"cannot write to {name} ({exc.strerror or type(exc).__name__})") from None


class _TextWriter:
    """A callback for streamed text: held secrets masked even when split across pieces.
    Call `.finish()` at the end to print what was held back."""

    def __init__(self, stream):
        self.stream = stream
        self.redactor = StreamRedactor()

    def __call__(self, piece: str) -> None:
        write_text(self.stream, self.redactor.feed(piece), redacted=True)

    def finish(self) -> None:
        write_text(self.stream, self.redactor.flush(), redacted=True)


def text_writer(stream) -> _TextWriter:
    """The streamed-text callback for `stream` (see _TextWriter)."""
    return _TextWriter(stream)


def error_message(exc: SkillError) -> str:
    """The message, then (for input with several problems) one indented line per problem,
    at most MAX_PROBLEM_LINES of them."""
    lines = [f"openai-skill: {exc.message}"]
    problems = getattr(exc, "problems", None) or []
    if len(problems) > 1:
        lines += [f"  - {p['message']}" for p in problems[:MAX_PROBLEM_LINES]]
        if len(problems) > MAX_PROBLEM_LINES:
            lines.append(f"  ... {len(problems) - MAX_PROBLEM_LINES} more (--json lists them)")
    return "\n".join(lines) + "\n"


def fail(exc: SkillError, as_json: bool = False) -> int:
    """Report an expected failure on stderr (and the error object on stdout with --json)."""
    write_text(sys.stderr, error_message(exc))
    if as_json:
        emit({"error": exc.to_dict()})
    return exc.exit_code
