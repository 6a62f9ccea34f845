"""One shape for an input problem, and one way to raise them all together.

A problem is {"path", "expected", "given", "message"}: the JSON path of the field, what was
expected, what was given, and a readable line. Schema validation, the JSON-value check and
the model rules all build them here, so every input error reads the same.
"""

from __future__ import annotations

from ..errors import InputError

# However broken an input is, an error lists at most this many problems (200,000 bad
# messages once printed 200,001 lines); the message says when there were more.
MAX_PROBLEMS = 50


def problem(path: str, expected: str, given: str, message: str) -> dict:
    return {"path": path, "expected": expected, "given": given, "message": message}


def raise_problems(action_id: str, problems: list[dict], *, what: str = "in the input",
                   more: bool = False) -> None:
    """Raise one InputError carrying `problems` (capped at MAX_PROBLEMS); do nothing if none.

    `more` says the caller stopped collecting early, so the real count is higher."""
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    more = more or len(problems) > MAX_PROBLEMS
    if len(shown) == 1 and not more:
        head = shown[0]["message"]
    elif more:
        head = f"more than {len(shown)} problems {what}; the first {len(shown)} are listed"
    else:
        head = f"{len(shown)} problems {what}"
    raise InputError(f"{action_id}: {head}", problems=shown)
