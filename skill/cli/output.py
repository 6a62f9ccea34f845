"""Printing results and errors: JSON on stdout, one readable line on stderr."""

from __future__ import annotations

import json
import sys

from ..errors import SkillError
from ..redact import redact


def emit(result) -> None:
    """Print a result as JSON on stdout."""
    sys.stdout.write(redact(json.dumps(result, indent=2, ensure_ascii=False)) + "\n")
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
