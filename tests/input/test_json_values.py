"""`plain_copy`, the quick walk every call's input takes, must never say yes where the full
walk (`json_problems`, which names each problem's path) would find one, and what it returns
must be a copy: what is checked and sent is not the caller's object."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_skill.input.json_values import MAX_DEPTH, json_problems, plain_copy
from openai_skill.input.validation import validate_input
from openai_skill.manifest import load_manifest


class Text(str):
    pass


class Object(dict):
    pass


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(), st.sampled_from(["\ud800", "a\udcffb", Text("t"), (1, 2), b"x", {1, 2}, 1j]))
KEYS = st.one_of(st.text(max_size=5), st.sampled_from(["\ud800", 1, None, (1,), Text("k")]))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=3), inner, max_size=3)
                                                      .map(Object)), max_leaves=12)


def nested(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_a_copy_only_where_the_full_walk_finds_nothing(value):
    copied = plain_copy(value)
    problems, _ = json_problems(value)
    if copied is not None:
        assert problems == []
        assert copied == value
        assert type(copied) is type(value)


@pytest.mark.parametrize("value", [
    {"t": math.nan}, {"t": -math.inf}, ["\ud800"], {"\udcff": 1}, {1: "a"}, {"a": (1, 2)}, {"a": b"x"},
    {"a": {1, 2}}, Object(a=1), {"a": Text("x")}, nested(MAX_DEPTH + 1), {"a": 1j},
])
def test_anything_the_full_walk_must_judge_gets_no_copy(value):
    assert plain_copy(value) is None


@pytest.mark.parametrize("value", [nested(MAX_DEPTH), {"a": [1, 2.5, True, None, "é", {"b": []}]}, [], {}])
def test_plain_json_is_copied_all_the_way_down(value):
    copied = plain_copy(value)
    assert copied == value and copied is not value
    inner, original = copied, value
    while isinstance(original, (list, dict)) and original:
        inner, original = (inner[0], original[0]) if isinstance(original, list) else (inner["a"], original["a"])
        if isinstance(original, (list, dict)):
            assert inner is not original


def test_what_is_checked_is_a_copy_the_caller_cannot_change_afterwards():
    action = load_manifest().action("chat-completion")
    data = {"messages": [{"role": "user", "content": "hi"}]}
    params, given_fields = validate_input(action, data)
    data["messages"][0]["content"] = 5          # invalid now: the checked copy is unaffected
    data["temperature"] = math.nan
    assert params["messages"] == [{"role": "user", "content": "hi"}]
    assert not math.isnan(params.get("temperature", 0))
    assert given_fields == {"messages"}


def test_input_in_types_of_its_own_is_still_accepted_and_copied():
    action = load_manifest().action("chat-completion")
    data = Object(messages=[Object(role=Text("user"), content="hi")])
    params, _ = validate_input(action, data)
    assert params["messages"] == [{"role": "user", "content": "hi"}]
    assert params["messages"] is not data["messages"]


def test_the_full_walk_names_each_problem_by_path_in_order():
    problems, more = json_problems({"b": [1, b"x"], "a": {"c": math.inf}, "d": (1,), "\ud800": 1})
    assert [(p["path"], p["expected"], p["given"]) for p in problems] == [
        ("$", "object keys that are text", "'\\ud800'"),
        ("a.c", "a finite number", "inf"),
        ("b[1]", "a JSON value", "bytes"),
        ("d", "a JSON value", "tuple"),
    ] and more is False


def test_the_full_walk_stops_after_its_limit_and_says_there_were_more():
    from openai_skill.input.problems import MAX_PROBLEMS

    exactly, more = json_problems([math.nan] * MAX_PROBLEMS)
    assert len(exactly) == MAX_PROBLEMS and more is False
    listed, more = json_problems([math.nan] * (MAX_PROBLEMS + 1))
    assert len(listed) == MAX_PROBLEMS and more is True


@pytest.mark.parametrize("wrap", [lambda v: [v], lambda v: {"a": v}])
def test_both_walks_allow_exactly_max_depth_levels(wrap):
    value: object = 1
    for _ in range(MAX_DEPTH):
        value = wrap(value)
    assert json_problems(value) == ([], False) and plain_copy(value) == value
    deeper = wrap(value)
    assert [p["expected"] for p in json_problems(deeper)[0]] == [f"at most {MAX_DEPTH} levels of nesting"]
    assert plain_copy(deeper) is None
