"""Applying the model rules declared in skill.yaml (`model_rules`) to checked parameters.

The rules are data; this module only knows the steps they may use, applied in the fixed
order STEPS (see skill.yaml). Problems are collected, not raised one by one, so a caller sees
every field a model objects to in one error (a model refused outright is one line instead).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from ..lifecycle.table import glob_matches
from .problems import problem, raise_problems


def matching_rules(rules: list[dict], model: str | None, origin: str | None = None) -> list[dict]:
    """The rules whose `models` globs match this model id (and whose `origins`, if any,
    include the request's origin), in declared order."""
    if not model or not isinstance(model, str):
        return []
    key = (id(rules), model, origin)
    found = _matched.get(key)
    if found is None or found[0] is not rules:
        found = (rules, [rule for rule in rules if any(glob_matches(model, glob) for glob in rule["models"])
                         and ("origins" not in rule or origin in rule["origins"])])
        if len(_matched) < MAX_REMEMBERED:
            _matched[key] = found
    return found[1]


# (rules, model, origin) -> the rules that apply: the same few models are asked about again and
# again (every chunk of a bulk job), and matching ~40 globs each time showed in the profile.
_matched: dict = {}
MAX_REMEMBERED = 1024


class _State:
    """What the steps read and change: the parameters, which were given explicitly, problems."""

    __slots__ = ("params", "explicit", "model", "problems")

    def __init__(self, params: dict, explicit: set, model: str | None):  # model None: none given
        self.params, self.explicit, self.model = params, explicit, model
        self.problems: list = []

    def drop_default(self, name: str) -> None:
        if name in self.params and name not in self.explicit:
            del self.params[name]

    def refuse(self, name: str, expected: str, detail: str) -> None:
        """Record a problem with `name`; rules run from general to specific, so a later rule's
        objection replaces an earlier one's for the same field (`-m o3-mini --temperature 0.2`
        hears "does not accept temperature", not that and "takes temperature 1")."""
        given = json.dumps(self.params[name], ensure_ascii=False)
        self.problems = [p for p in self.problems if p.get("path") != name]
        self.problems.append(problem(name, expected, given, f"{name}: {detail} (got {given})"))


def _refuse(state: _State, reason: str) -> None:
    message = f"model: {state.model} {' '.join(str(reason).split())}"
    raise InputError(message, problems=[problem("model", "another model", json.dumps(state.model), message)],
                     field="model")


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


def _defaults(state: _State, values: dict) -> None:
    for name, value in values.items():
        if name in state.params and name not in state.explicit:
            state.params[name] = value


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


def _implies(state: _State, links: dict) -> None:
    for name, wanted in links.items():
        if name not in state.params:
            continue
        for other, value in wanted.items():
            if other not in state.params:
                state.params[other] = value  # chosen for the user: not explicit
            elif state.params[other] != value:
                state.refuse(other, f"{json.dumps(value)} with {name} for model {state.model!r}",
                             f"{state.model} takes {name} only with {other} {json.dumps(value)}; "
                             f"leave {other} out or set it to {json.dumps(value)}")


def _requires(state: _State, links: dict) -> None:
    for name, wanted in links.items():
        if name not in state.explicit:
            continue
        for other, value in wanted.items():
            if state.params.get(other) != value:
                state.refuse(name, f"{other} {json.dumps(value)} with {name} for model {state.model!r}",
                             f"{state.model} honours {name} only with {other} {json.dumps(value)}; "
                             f"add {other}: {json.dumps(value)} or leave {name} out")


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


def _image_size(state: _State, limits_by_name: dict) -> None:
    for name, limits in limits_by_name.items():
        value = state.params.get(name)
        if value is None or value in limits.get("also", ()):
            continue
        broken = size_problem(value, limits)
        if broken:
            state.refuse(name, f"WIDTHxHEIGHT with {broken} for model {state.model!r}",
                         f"{state.model} takes {' or '.join([*limits.get('also', []), 'WIDTHxHEIGHT'])}"
                         f" with {broken}")


def size_problem(value, limits: dict) -> str | None:
    """The first limit a "WIDTHxHEIGHT" size breaks, said as the rule, or None."""
    width_text, _, height_text = str(value).partition("x")
    if not (width_text.isdigit() and height_text.isdigit() and int(width_text) > 0 and int(height_text) > 0):
        return "whole numbers of pixels"
    width, height = int(width_text), int(height_text)
    long, short = max(width, height), min(width, height)
    step = limits.get("multiple_of")
    if step and (width % step or height % step):
        return f"both edges divisible by {step}"
    if "max_edge" in limits and long > limits["max_edge"]:
        return f"the long edge at most {limits['max_edge']}"
    if "max_ratio" in limits and long > limits["max_ratio"] * short:
        return f"the long edge at most {limits['max_ratio']} x the short one"
    if "min_pixels" in limits and width * height < limits["min_pixels"]:
        return f"at least {limits['min_pixels']:,} pixels (W x H)"
    if "max_pixels" in limits and width * height > limits["max_pixels"]:
        return f"at most {limits['max_pixels']:,} pixels (W x H)"
    return None


# The one place the order lives: a rule's steps run in this order, whatever order skill.yaml
# writes its keys in.
STEPS: dict[str, Callable[[_State, Any], None]] = {
    "refuse": _refuse, "coerce": _coerce, "exclusive": _exclusive, "defaults": _defaults,
    "rename": _rename, "omit_defaults": _omit_defaults, "implies": _implies, "requires": _requires,
    "unsupported": _unsupported, "only": _only, "image_size": _image_size}


def apply_model_rules(action_id: str, params: dict, explicit: frozenset, rules: list[dict],
                      origin: str | None = None) -> dict:
    """Return the parameters as the model accepts them, or raise InputError naming each field.
    `origin` is where the request goes: rules with `origins` apply only there."""
    state = _State(dict(params), set(explicit), params.get("model"))
    for rule in matching_rules(rules, state.model, origin):
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
