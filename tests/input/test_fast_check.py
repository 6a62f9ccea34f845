"""The quick schema check must give jsonschema's verdict on every input: it lets valid input
skip the jsonschema import, so a wrong "yes" would let invalid input reach the network."""

import copy
import itertools

import pytest
from jsonschema import Draft202012Validator

from openai_skill.manifest import load_manifest
from openai_skill.input.fast_check import Unsupported, conforms
from support.openai_data import HI

MANIFEST = load_manifest()

VALID = {
    "chat-completion": [
        {"messages": HI},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "t"},
                      {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]},
                      {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
                      {"role": "tool", "content": "42", "tool_call_id": "c"}],
         "model": "o3", "max_completion_tokens": 5, "temperature": "1.0", "top_p": 0.5, "stop": ["a", "b"],
         "stream": True, "reasoning_effort": "low",
         "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {}, "strict": None}},
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {}, "strict": True}}],
         "tool_choice": {"type": "function", "function": {"name": "f"}}},
        {"messages": HI, "response_format": {"type": "json_object"}, "tool_choice": "auto", "stop": "END"},
    ],
    "generate-image": [
        {"prompt": "x"},
        {"prompt": "x", "model": "gpt-image-1", "size": "auto", "quality": "high", "n": 4, "output_format": "webp",
         "output_compression": 50, "background": "transparent", "moderation": "low"},
        {"prompt": "x", "style": "natural", "response_format": "b64_json", "size": "1024x1792"},
    ],
    "list-models": [{}],
    "create-embedding": [{"input": "x"},
                         {"input": ["a", "b"], "model": "m", "dimensions": 8, "encoding_format": "base64"}],
}

ODD_VALUES = [None, True, False, 0, 1, -1, 1.0, 2.5, 3, 5000, "", " ", "x", "1.5", "2.01", "user", "tool", "vivid",
              "auto", "1024x1024", "json_schema", [], ["x"], [None], [{}], {}, {"type": "text"},
              {"role": "user", "content": "x"}, {"type": "function", "function": {"name": "f"}}]


def mutations(value):
    """The value with each of its members (recursively) replaced by each odd value, removed, or joined by an extra."""
    yield value
    if isinstance(value, dict):
        for key in value:
            for odd in ODD_VALUES:
                yield {**value, key: odd}
            yield {k: v for k, v in value.items() if k != key}
            for inner in itertools.islice(mutations(value[key]), 1, 60):
                yield {**value, key: inner}
        yield {**value, "unexpected_field": 1}
    elif isinstance(value, list):
        for index in range(len(value)):
            for inner in itertools.islice(mutations(value[index]), 1, 60):
                yield value[:index] + [inner] + value[index + 1:]
        yield []
        yield value + value


@pytest.mark.parametrize("action", list(MANIFEST.actions))
def test_same_verdict_as_jsonschema(action):
    schema = MANIFEST.actions[action].input_schema
    reference = Draft202012Validator(schema)
    checked = agreed_invalid = 0
    for base in VALID[action]:
        for candidate in itertools.chain(mutations(base), ({**base, k: v} for k in schema["properties"]
                                                           for v in ODD_VALUES)):
            candidate = copy.deepcopy(candidate)
            expected = reference.is_valid(candidate)
            assert conforms(schema, candidate) == expected, candidate
            checked += 1
            agreed_invalid += not expected
    # The corpus really probes both verdicts.
    assert agreed_invalid >= 1 and checked - agreed_invalid >= len(VALID[action])
    assert checked >= {"list-models": 2}.get(action, 300)


@pytest.mark.parametrize("action", list(MANIFEST.actions))
def test_every_schema_keyword_is_known(action):
    """A new keyword in a schema must be implemented here (or it would always fall back)."""
    for schema in (MANIFEST.actions[action].input_schema,):
        for base in VALID[action]:
            conforms(schema, base)  # raises Unsupported otherwise


def test_unknown_keyword_is_not_guessed():
    with pytest.raises(Unsupported):
        conforms({"uniqueItems": True}, [1, 1])


@pytest.mark.parametrize("schema, value", [
    ({"$ref": "other.json#/a"}, 1), ({"items": {}, "prefixItems": [{}]}, [1]),
    ({"patternProperties": {"^a": {}}, "additionalProperties": False}, {"a": 1}),
])
def test_what_is_not_implemented_goes_to_jsonschema(schema, value):
    with pytest.raises(Unsupported):
        conforms(schema, value)


def test_a_boolean_schema_is_its_own_verdict():
    assert conforms(True, {"a": 1}) is True and conforms(False, 1) is False


def test_an_unknown_keyword_is_asked_about_only_where_the_walk_reaches_it():
    schema = {"type": "object", "properties": {"a": {"uniqueItems": True}}}
    assert conforms(schema, {"b": 1}) is True          # never reached: the verdict stands
    assert conforms(schema, []) is False               # refused before it
    with pytest.raises(Unsupported):
        conforms(schema, {"a": [1]})


def test_a_recursive_schema_compiles_and_checks_every_level():
    schema = {"$defs": {"tree": {"type": "object", "properties": {"kids": {"type": "array",
              "items": {"$ref": "#/$defs/tree"}}}, "additionalProperties": False}}, "$ref": "#/$defs/tree"}
    assert conforms(schema, {"kids": [{"kids": []}, {"kids": [{}]}]}) is True
    assert conforms(schema, {"kids": [{"kids": [{"x": 1}]}]}) is False


def test_each_schema_is_judged_by_its_own_check():
    schema = {"type": "string"}
    assert conforms(schema, "x") is True
    other = {"type": "integer"}
    assert conforms(other, "x") is False and conforms(schema, "x") is True


@pytest.mark.parametrize("schema, value, verdict", [
    ({"type": "integer"}, True, False), ({"type": "integer"}, 2.0, True), ({"type": "number"}, False, False),
    ({"enum": [1]}, True, False), ({"const": 1}, 1.0, True), ({"const": [1, {"a": True}]}, [1, {"a": True}], True),
    ({"const": False}, 0, False), ({"pattern": "\\S"}, "  ", False), ({"pattern": "b"}, "abc", True),
    # the shapes the compiler specializes: a list of types, no other property, required, a text const
    ({"type": ["string", "null"]}, None, True), ({"type": ["string", "null"]}, False, False),
    ({"type": ["array", "object"]}, [], True), ({"type": ["array", "object"]}, "x", False),
    ({"type": "string"}, True, False), ({"type": "object"}, [], False),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}, False),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1}, True),
    ({"additionalProperties": False}, [1], True),
    ({"required": ["a", "b"]}, {"a": 1}, False), ({"required": ["a", "b"]}, {"b": 1, "a": 2}, True),
    ({"required": ["a"]}, "a", True),
    ({"const": "x"}, "x", True), ({"const": "1"}, 1, False), ({"enum": ["a", "b"]}, "c", False),
    ({"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}, [1, 2], True),
    ({"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}, [1, "2"], False),
    ({"type": ["integer", "null"]}, None, True), ({"type": ["integer", "null"]}, 1, True),
    ({"type": ["integer", "null"]}, "1", False),
    ({"additionalProperties": {"type": "integer"}}, {"a": 1}, True),
    ({"additionalProperties": {"type": "integer"}}, {"a": "1"}, False),
    ({"additionalProperties": True}, {"a": 1}, True),
    ({"properties": {"a": False}}, {"a": 1}, False), ({"properties": {"a": False}}, {"b": 1}, True),
    ({"maxItems": 2}, [1, 2], True), ({"maxItems": 2}, [1, 2, 3], False),
    ({"minItems": 2}, [1, 2], True), ({"minItems": 2}, [1], False),
    ({"maxLength": 2}, "ab", True), ({"maxLength": 2}, "abc", False),
    ({"minLength": 2}, "ab", True), ({"minLength": 2}, "a", False),
    ({"minimum": 1}, 1, True), ({"minimum": 1}, 0.5, False), ({"maximum": 1}, 1, True), ({"maximum": 1}, 2, False),
])
def test_json_semantics(schema, value, verdict):
    assert conforms(schema, value) is verdict
    assert Draft202012Validator(schema).is_valid(value) is verdict
