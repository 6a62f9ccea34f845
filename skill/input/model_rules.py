"""Applying the model rules declared in skill.yaml (`model_rules`) to checked parameters.

The rules are data; this module only knows the six steps they may use, applied in a fixed
order (see skill.yaml). Problems are collected, not raised one by one, so a caller sees
every field a model objects to in one error.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from ..errors import InputError

STEPS = ("coerce", "exclusive", "rename", "omit_defaults", "unsupported", "only")


def matching_rules(rules: list[dict], model: str | None) -> list[dict]:
    """The rules whose `models` globs match this model id, in declared order."""
    if not model:
        return []
    return [rule for rule in rules if any(fnmatchcase(model, glob) for glob in rule["models"])]


def apply_model_rules(action_id: str, params: dict, explicit: frozenset, rules: list[dict]) -> dict:
    """Return the parameters as the model accepts them, or raise InputError naming each field."""
    params = dict(params)
    explicit = set(explicit)
    model = params.get("model")
    problems: list[dict] = []
    for rule in matching_rules(rules, model):
        for field, kind in rule.get("coerce", {}).items():
            if kind == "number" and isinstance(params.get(field), str):
                params[field] = _to_number(params[field])
        for first, second in rule.get("exclusive", []):
            if first in explicit and second in explicit:
                problems.append(_problem(second, f"either {first} or {second}, not both",
                                         params[second], f"give {first} or {second}, not both"))
            elif first in explicit:
                _drop_default(params, explicit, second)
            elif second in explicit:
                _drop_default(params, explicit, first)
        for old, new in rule.get("rename", {}).items():
            if old in params and new not in params:
                params[new] = params.pop(old)
                if old in explicit:
                    explicit.discard(old)
                    explicit.add(new)
            elif old in params:
                params.pop(old)
        for field in rule.get("omit_defaults", []):
            _drop_default(params, explicit, field)
        for field in rule.get("unsupported", []):
            if field in params:
                problems.append(_problem(field, f"no {field} with model {model!r}", params[field],
                                         f"{model} does not accept {field}; leave it out"))
        for field, allowed in rule.get("only", {}).items():
            if field in params and params[field] not in allowed:
                shown = ", ".join(json.dumps(v) for v in allowed)
                problems.append(_problem(field, f"one of {shown} for model {model!r}", params[field],
                                         f"{model} takes {field} {shown}"))
    if problems:
        head = problems[0]["message"] if len(problems) == 1 else f"{len(problems)} problems with model {model!r}"
        raise InputError(f"{action_id}: {head}", problems=problems)
    return params


def _drop_default(params: dict, explicit: set, field: str) -> None:
    if field in params and field not in explicit:
        del params[field]


def _to_number(text: str):
    value = float(text)
    return int(value) if value.is_integer() else value


def _problem(field: str, expected: str, given, detail: str) -> dict:
    given_text = json.dumps(given, ensure_ascii=False)
    return {"path": field, "expected": expected, "given": given_text,
            "message": f"{field}: {detail} (got {given_text})"}
