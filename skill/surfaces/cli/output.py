"""Printing results and errors: JSON on stdout, one readable line on stderr."""

from __future__ import annotations

import json
import re
import sys

from ...errors import SkillError
from ...redaction import redact


# An indented array of plain numbers (an embedding): one line instead of one per number.
_NUMBER_ARRAY = re.compile(r"\[\s*\n\s*(-?[0-9][-+0-9.eE]*(?:,\s*\n\s*-?[0-9][-+0-9.eE]*)*)\s*\n\s*\]")


def emit(result) -> None:
    """Print a result as indented JSON on stdout, number arrays kept on one line."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    text = _NUMBER_ARRAY.sub(lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]", text)
    sys.stdout.write(redact(text) + "\n")
    sys.stdout.flush()


def fail(exc: SkillError, as_json: bool = False) -> int:
    """Report an expected failure: one line on stderr (and the error object on stdout with --json)."""
    line = f"openai-skill: {exc.message}"
    problems = getattr(exc, "problems", None)
    if problems and len(problems) > 1:
        line += "".join(f"\n  - {p['message']}" for p in problems)
    sys.stderr.write(line + "\n")
    if as_json:
        emit({"error": exc.to_dict()})
    return exc.exit_code
