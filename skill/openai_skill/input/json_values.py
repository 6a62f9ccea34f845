"""Checking that an input is plain JSON before any schema sees it.

Python callers can pass what JSON cannot carry, and some JSON parsers accept what the
standard does not: NaN and Infinity (`{"temperature": NaN}` would be sent as is), lone
surrogates (from undecodable bytes; they cannot be encoded as UTF-8), keys that are not
strings, sets, bytes, objects, and nesting deep enough to exhaust Python's recursion limit.
One iterative walk finds them all, with the path of each, so no later step ever sees them.
"""

from __future__ import annotations

import math

from .problems import MAX_PROBLEMS, problem

# Far deeper than any of our schemas nests (a message's content parts: 4 levels), far
# shallower than the interpreter's recursion limit.
MAX_DEPTH = 64


def plain_copy(value, depth: int = 0):
    """A copy of `value` when it is certainly plain JSON in the built-in types (dict, list,
    str, int, float, bool, None, no deeper than MAX_DEPTH), else None: then `json_problems`
    walks it with the path of each node, and the caller copies what passes. The common case
    pays one walk that builds no paths and copies as it goes (no `copy.deepcopy` memo)."""
    if depth > MAX_DEPTH:
        return None
    kind = type(value)
    if kind is str:
        return value if _valid_text(value) else None
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if type(key) is not str or not _valid_text(key):
                return None
            inner = plain_copy(item, depth + 1)
            if inner is None and item is not None:
                return None
            copied[key] = inner
        return copied
    if kind is list:
        items = []
        for item in value:
            inner = plain_copy(item, depth + 1)
            if inner is None and item is not None:
                return None
            items.append(inner)
        return items
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int or kind is bool:
        return value
    return None   # None itself (the caller tells it from a refusal), or a type the walk judges


def json_problems(value) -> tuple[list[dict], bool]:
    """The problems that make `value` not plain JSON, and whether there were more than listed."""
    problems: list[dict] = []
    stack = [("$", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        found = _problem_with(path, item, depth)
        if found:
            problems.append(found)
            if len(problems) > MAX_PROBLEMS:
                return problems[:MAX_PROBLEMS], True
            continue
        if isinstance(item, dict):
            for key in reversed(list(item)):
                if not isinstance(key, str) or _has_surrogate(key):
                    problems.append(problem(path, "object keys that are text", repr(key)[:60],
                                            f"{path}: an object key is not valid text ({repr(key)[:60]})"))
                    continue
                stack.append((_join(path, key), item[key], depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]" if path != "$" else f"[{i}]", sub, depth + 1)
                         for i, sub in reversed(list(enumerate(item))))
    problems.sort(key=lambda p: p["path"])
    return problems, False


def _problem_with(path: str, item, depth: int) -> dict | None:
    if depth > MAX_DEPTH:
        return problem(path, f"at most {MAX_DEPTH} levels of nesting", "deeper nesting",
                       f"{path}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(item, float) and not math.isfinite(item):
        return problem(path, "a finite number", repr(item),
                       f"{path}: expected a finite number, got {item!r} (not valid JSON)")
    if isinstance(item, str):
        if _has_surrogate(item):
            return problem(path, "valid Unicode text", "text with a lone surrogate",
                           f"{path}: the text is not valid Unicode (a lone surrogate, e.g. from "
                           "bytes that are not UTF-8)")
        return None
    if item is None or isinstance(item, (bool, int, float, dict, list)):
        return None
    name = type(item).__name__
    return problem(path, "a JSON value", name, f"{path}: expected a JSON value, got a Python {name}")


def _valid_text(text: str) -> bool:
    """No lone surrogate (ASCII, the usual case, is checked without encoding)."""
    return text.isascii() or not _has_surrogate(text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _join(path: str, key: str) -> str:
    return key if path == "$" else f"{path}.{key}"
