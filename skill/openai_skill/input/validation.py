"""Checking an action's input against its JSON Schema, before anything is sent.

Every problem is reported at once, each with its JSON path, what was expected and what was
given; schema defaults are then filled in, and the caller learns which fields were given
explicitly (model rules treat an explicit value and a default differently).
"""

from __future__ import annotations

import copy
import json

from ..errors import InputError
from .json_values import json_problems, plain_copy
from .problems import MAX_PROBLEMS, problem as _problem, raise_problems

_FRIENDLY_PATTERNS = {"\\S": "text that is not blank"}
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


def validate_input(action, data) -> tuple[dict, frozenset]:
    """Return (`data` with defaults filled in, the set of top-level fields given explicitly)."""
    if data is None:
        data = {}
    filled = plain_copy(data)
    if filled is None:
        problems, more = json_problems(data)  # NaN, lone surrogates, deep nesting: before any schema
        raise_problems(action.id, problems, more=more)
        filled = copy.deepcopy(data)   # plain JSON in types of its own (a dict subclass, a tuple)
    if not isinstance(data, dict):
        raise InputError(
            f"input: expected a JSON object, got {_json_type(data)} {_show(data)}",
            problems=[_problem("$", "object", _show(data), f"input: expected a JSON object, got {_json_type(data)}")],
        )
    # The copy is what is checked and what is sent: a caller's thread changing `data` now
    # changes neither.
    if not _quick_yes(action.input_schema, filled):
        problems, more = _problems(action, filled)
        raise_problems(action.id, problems, more=more)
    given = frozenset(filled)
    for name, prop in action.input_schema.get("properties", {}).items():
        if name not in filled and "default" in prop:
            filled[name] = copy.deepcopy(prop["default"])
    return filled, given


def _problems(action, data) -> tuple[list[dict], bool]:
    """The schema's problems with `data`, one per field, and whether there were more than
    MAX_PROBLEMS. Lazily: input with 200,000 bad items stops after MAX_PROBLEMS + 1 fields."""
    by_path: dict = {}
    for error in _validator(action.id, action.input_schema).iter_errors(data):
        for found in _describe(error):
            # One problem per field: the schema's if/then rules restate a type error the
            # field's own rule already reported ("expected string or array", thrice).
            by_path.setdefault(found["path"], found)
        if len(by_path) > MAX_PROBLEMS:
            break
    problems = sorted(by_path.values(), key=lambda p: p["path"])
    return problems, len(problems) > MAX_PROBLEMS


def _quick_yes(schema: dict, data) -> bool:
    """Valid input is accepted without importing jsonschema (see schema_check)."""
    from .fast_check import Unsupported, conforms

    try:
        return conforms(schema, data)
    except Unsupported:
        return False


_validators: dict = {}  # action id -> compiled jsonschema validator


def _validator(action_id: str, schema: dict):
    """jsonschema's validator for this action, made once (imported only when input is invalid)."""
    validator = _validators.get(action_id)
    if validator is None or validator.schema is not schema:
        from jsonschema import Draft202012Validator

        validator = _validators[action_id] = Draft202012Validator(schema)
    return validator


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


def _describe(error) -> list[dict]:
    """The problems behind one schema error: JSON path, expectation and given value, as a
    readable message. For anyOf/oneOf, when the value has the type of exactly one branch,
    the problems are that branch's (`input[1]: expected a non-empty string`)."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        by_branch: dict = {}
        for sub in error.context:
            by_branch.setdefault(sub.schema_path[0], []).append(sub)
        typed = [subs for subs in by_branch.values() if not any(s.validator == "type" for s in subs)]
        if len(typed) == 1:
            return [p for sub in typed[0] for p in _describe(sub)]
    return [_describe_one(error)]


def _describe_one(error) -> dict:
    path = _path(error.absolute_path)
    kind, schema, value = error.validator, error.validator_value, error.instance
    given = f"{_json_type(value)} {_show(value)}"
    if kind == "required":
        missing = [name for name in schema if not isinstance(value, dict) or name not in value]
        field = missing[0] if missing else "?"
        path = f"{path}.{field}" if path != "$" else field
        return _problem(path, "a value (required)", "nothing", f"{path}: required field is missing")
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in value if k not in allowed]
        name = extra[0] if extra else "?"
        where = f"{path}.{name}" if path != "$" else name
        import difflib  # only for an unknown field's hint

        hint = difflib.get_close_matches(name, allowed, n=1)
        expected = "one of: " + ", ".join(allowed) if allowed else "no fields"
        msg = f"{where}: unknown field" + (f" (did you mean {hint[0]!r}?)" if hint else f"; expected {expected}")
        return _problem(where, expected, repr(name), msg)
    expected = _expected(kind, schema, error)
    return _problem(path, expected, given, f"{path}: expected {expected}, got {given}")


def _expected(kind, schema, error) -> str:
    if kind == "type":
        return " or ".join(schema) if isinstance(schema, list) else str(schema)
    if kind == "enum":
        return "one of " + ", ".join(json.dumps(v) for v in schema)
    if kind == "const":
        return json.dumps(schema)
    if kind == "minimum":
        return f"a number >= {schema}"
    if kind == "maximum":
        return f"a number <= {schema}"
    if kind == "minItems":
        return f"at least {schema} item" + ("s" if schema != 1 else "")
    if kind == "maxItems":
        return f"at most {schema} items"
    if kind == "minLength":
        return "a non-empty string" if schema == 1 else f"a string of at least {schema} characters"
    if kind == "maxLength":
        return f"a string of at most {schema} characters"
    if kind == "pattern":
        title = error.schema.get("title")
        return title or _FRIENDLY_PATTERNS.get(schema, f"a string matching /{schema}/")
    if kind in ("anyOf", "oneOf"):
        branches = []
        for sub in schema:
            if "type" in sub:
                kind_ = sub["type"]
                label = " or ".join(kind_) if isinstance(kind_, list) else kind_
                if "minimum" in sub and "maximum" in sub:
                    label += f" {sub['minimum']}-{sub['maximum']}"
                branches.append(sub.get("title", label))
            elif "enum" in sub:
                branches.append("one of " + ", ".join(json.dumps(v) for v in sub["enum"]))
            else:
                branches.append("an object of the documented shape")
        return " or ".join(dict.fromkeys(branches))
    if kind == "not":
        return "not this value"
    return f"a value valid under {kind!r} {json.dumps(schema)[:80]}"


def _json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
