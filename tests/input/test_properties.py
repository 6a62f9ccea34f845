"""Property-based tests (Hypothesis) of the input boundary.

1. Any input our own schemas accept gives either our InputError from a model rule or a
   request whose body is valid against the official OpenAI spec (tests/contract).
2. Any input outside them (wrong types, unknown keys, huge or odd strings, deep nesting,
   NaN/Infinity, not an object) gives InputError, every problem with a field path, and not
   one request reaches a loopback server that counts connections.

Profiles: `ci` (default, fast) and `long`; choose with OPENAI_SKILL_HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import openai_skill as skill
from support.canary import CANARY_KEY
from contract.spec import validate_request
from openai_skill.config import Settings
from openai_skill.errors import InputError
from openai_skill.input.model_rules import apply_model_rules
from openai_skill.input.validation import validate_input
from openai_skill.manifest import load_manifest
from openai_skill.transport.request import build_request
from support.misbehaving import RawServer
from support.schema_strategies import SAMPLES, allowed_types, from_schema

PROFILE_ENV = "OPENAI_SKILL_HYPOTHESIS_PROFILE"
_common = dict(deadline=None, database=None, derandomize=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
PROFILE = os.environ.get(PROFILE_ENV, "ci")
# Applied per test (not with load_profile, which would change every other module's tests too).
EXAMPLES = settings(max_examples=1000 if PROFILE == "long" else 40, **_common)
# The long profile runs for minutes: lift pytest-timeout's per-test cap for this module.
pytestmark = pytest.mark.timeout(0 if PROFILE == "long" else 120)

MANIFEST = load_manifest()
ACTIONS = sorted(MANIFEST.actions)


def _validator(action_id):
    return Draft202012Validator(MANIFEST.action(action_id).input_schema)


VALIDATORS = {action_id: _validator(action_id) for action_id in ACTIONS}


# -- 1. inside the schemas ----------------------------------------------------------------------

@pytest.mark.parametrize("action_id", ACTIONS)
def test_schema_valid_input_is_a_model_rule_error_or_a_spec_valid_request(action_id):
    action = MANIFEST.action(action_id)
    rules = MANIFEST.model_rules.get(action_id, [])

    @EXAMPLES
    @given(from_schema(action.input_schema))
    def check(data):
        assume(VALIDATORS[action_id].is_valid(data))
        params, explicit = validate_input(action, data)   # accepted by the schema: must not raise
        try:
            params = apply_model_rules(action.id, params, explicit, rules)
        except InputError as exc:
            assert exc.problems and all(p["path"] in params or p["path"] in data for p in exc.problems), exc.problems
            return
        request = build_request(action, params, Settings())
        validate_request(request.method, action.path, request.body)

    check()


# -- 2. outside the schemas ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def counting():
    """A loopback listener that counts every connection made to it (and answers nothing)."""
    server = RawServer()
    yield server
    server.close()


def deep(levels: int):
    value = "x"
    for _ in range(levels):
        value = [value]
    return value


ODD_VALUES = st.sampled_from([
    float("nan"), float("inf"), -float("inf"), "lone \ud800 surrogate", "\udcff", deep(70),
    {"nested": deep(200)}, [float("nan")], b"bytes", {1, 2},
])


@st.composite
def invalid_inputs(draw, action_id):
    """A valid input broken in one way our schemas (or JSON) do not allow."""
    schema = MANIFEST.action(action_id).input_schema
    data = draw(from_schema(schema))
    properties = schema.get("properties", {})
    how = draw(st.sampled_from(["unknown key", "wrong type", "odd value", "not an object"]
                               if properties else ["unknown key", "not an object"]))
    if how == "not an object":
        return draw(st.sampled_from([[], "text", 1, 1.5, True, [data]]))
    if how == "unknown key":
        name = draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in properties))
        value = draw(st.sampled_from(["x" * 1_000_000, None, 1, "ok"]) | ODD_VALUES)
        return {**data, name: value}
    name = draw(st.sampled_from(sorted(properties)))
    if how == "wrong type":
        wrong = sorted(set(SAMPLES) - allowed_types(properties[name], schema))
        assume(wrong)
        return {**data, name: SAMPLES[draw(st.sampled_from(wrong))]}
    return {**data, name: draw(ODD_VALUES)}


@pytest.mark.parametrize("action_id", ACTIONS)
def test_input_outside_the_schemas_is_an_input_error_with_paths_and_sends_nothing(action_id, counting,
                                                                                    monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)

    @EXAMPLES
    @given(invalid_inputs(action_id))
    def check(data):
        with pytest.raises(InputError) as caught:
            skill.invoke(action_id, data, base_url=counting.url(), max_retries=0, inline_images=True)
        error = caught.value
        assert error.problems, error.message
        assert all(isinstance(p["path"], str) and p["path"] for p in error.problems), error.problems
        assert counting.accepted == 0
        assert CANARY_KEY not in error.message

    check()
    assert counting.accepted == 0


def test_the_counting_server_does_count(counting, monkeypatch):
    """The zero above means something: a valid call does reach it."""
    before = counting.accepted
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    with pytest.raises(skill.SkillError):
        skill.invoke("list-models", {}, base_url=counting.url(), max_retries=0)
    assert counting.accepted == before + 1
    counting.accepted = before


@EXAMPLES
@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.sampled_from(["temperature", "top_p", "max_tokens"]))
def test_non_finite_numbers_never_validate(value, field):
    action = MANIFEST.action("chat-completion")
    with pytest.raises(InputError) as caught:
        validate_input(action, {"messages": [{"role": "user", "content": "hi"}], field: value})
    assert [p["path"] for p in caught.value.problems] == [field]
