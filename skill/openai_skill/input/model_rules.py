"""Applying the model rules declared in skill.yaml (`model_rules`) to checked parameters.

The rules are data; this module only knows the six steps they may use, applied in the fixed
order STEPS (see skill.yaml). Problems are collected, not raised one by one, so a caller sees
every field a model objects to in one error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from fnmatch import fnmatchcase

from .problems import problem, raise_problems


def matching_rules(rules: list[dict], model: str | None) -> list[dict]:
    """The rules whose `models` globs match this model id, in declared order."""
    if not model or not isinstance(model, str):
        return []
    return [rule for rule in rules if any(fnmatchcase(model, glob) for glob in rule["models"])]


@dataclass
class _State:
    """What the steps read and change: the parameters, which were given explicitly, problems."""

    params: dict
    explicit: set
    model: str | None  # None: no model given (no rule matches)
    problems: list = field(default_factory=list)

    def drop_default(self, name: str) -> None:
        if name in self.params and name not in self.explicit:
            del self.params[name]

    def refuse(self, name: str, expected: str, detail: str) -> None:
        given = json.dumps(self.params[name], ensure_ascii=False)
        self.problems.append(problem(name, expected, given, f"{name}: {detail} (got {given})"))


def _coerce(state: _State, kinds: dict) -> None:
    for name, kind in kinds.items():
        if kind == "number" and isinstance(state.params.get(name), str):
            number = _to_number(state.params[name])
            if number is None:
                state.refuse(name, "a number", "expected a number")
            else:
                state.params[name] = number


def _exclusive(state: _State, pairs: list) -> None:
    for first, second in pairs:
        if first in state.explicit and second in state.explicit:
            state.refuse(second, f"either {first} or {second}, not both", f"give {first} or {second}, not both")
        elif first in state.explicit:
            state.drop_default(second)
        elif second in state.explicit:
            state.drop_default(first)


def _rename(state: _State, names: dict) -> None:
    for old, new in names.items():
        if old in state.params and new not in state.params:
            state.params[new] = state.params.pop(old)
            if old in state.explicit:
                state.explicit.discard(old)
                state.explicit.add(new)
        elif old in state.params:
            state.params.pop(old)


def _omit_defaults(state: _State, names: list) -> None:
    for name in names:
        state.drop_default(name)


def _unsupported(state: _State, names: list) -> None:
    for name in names:
        if name in state.params:
            state.refuse(name, f"no {name} with model {state.model!r}",
                        f"{state.model} does not accept {name}; leave it out")


def _only(state: _State, allowed_by_name: dict) -> None:
    for name, allowed in allowed_by_name.items():
        if name in state.params and state.params[name] not in allowed:
            shown = ", ".join(json.dumps(v) for v in allowed)
            state.refuse(name, f"one of {shown} for model {state.model!r}", f"{state.model} takes {name} {shown}")


# The one place the order lives: a rule's steps run in this order, whatever order skill.yaml
# writes its keys in.
STEPS: dict[str, Callable[[_State, Any], None]] = {
    "coerce": _coerce, "exclusive": _exclusive, "rename": _rename,
    "omit_defaults": _omit_defaults, "unsupported": _unsupported, "only": _only}


def apply_model_rules(action_id: str, params: dict, explicit: frozenset, rules: list[dict]) -> dict:
    """Return the parameters as the model accepts them, or raise InputError naming each field."""
    state = _State(dict(params), set(explicit), params.get("model"))
    for rule in matching_rules(rules, state.model):
        for step, apply in STEPS.items():
            if step in rule:
                apply(state, rule[step])
    raise_problems(action_id, state.problems, what=f"with model {state.model!r}")
    return state.params


def _to_number(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value
