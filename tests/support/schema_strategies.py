"""Hypothesis strategies drawn from our own input schemas (JSON Schema 2020-12).

hypothesis-jsonschema documents drafts 4-7 and fails on our schemas (it cannot resolve
`#/$defs/...` in a 2020-12 document, and errors on the rest), so this is a small generator
for exactly the keywords our schemas use: type, enum, const, properties/required/
additionalProperties, items/minItems/maxItems, minLength/maxLength, pattern, minimum/
maximum, anyOf/oneOf, allOf with if/then/else (required fields added or removed to satisfy
the branch), not, and local $ref. A value it draws may still miss a rule it only
approximates; the tests filter with jsonschema, the authority.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

MAX_ARRAY = 3        # small arrays keep examples fast; minItems still wins
MAX_TEXT = 24
JSON_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")

# Arbitrary JSON (for schemas that allow anything: tool parameters, json_schema bodies).
json_scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6)
                | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=MAX_TEXT))
any_json = st.recursive(json_scalars,
                        lambda inner: (st.lists(inner, max_size=3)
                                       | st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=8)


_strategies: dict = {}


def from_schema(schema: dict, root: dict | None = None):
    """A strategy for values (meant to be) valid under `schema` (built once per schema)."""
    root = root if root is not None else schema
    key = (id(schema), id(root))
    if key not in _strategies:
        _strategies[key] = (schema, _build(schema, root))  # the schema kept alive: ids stay unique
    return _strategies[key][1]


def _build(schema, root):
    if schema is True or schema == {}:
        return any_json
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return from_schema({**target, **rest} if rest else target, root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            rest = {k: v for k, v in schema.items() if k != key}
            return st.one_of([from_schema({**rest, **branch}, root) for branch in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": one}, root) for one in kind])
    if kind is None:
        kind = "object" if "properties" in schema else None
    if kind == "object":
        return _object(schema, root)
    if kind == "array":
        items = from_schema(schema.get("items", True), root)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=min(schema.get("maxItems", low + MAX_ARRAY), low + MAX_ARRAY))
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", MAX_TEXT)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"]).filter(lambda s: low <= len(s) <= high)
        return st.text(min_size=low, max_size=min(high, max(low, MAX_TEXT)))
    if kind == "integer":
        return st.integers(int(math.ceil(schema.get("minimum", -10**6))), int(schema.get("maximum", 10**6)))
    if kind == "number":
        low, high = schema.get("minimum", -1e6), schema.get("maximum", 1e6)
        return (st.floats(low, high, allow_nan=False, allow_infinity=False)
                | st.integers(int(math.ceil(low)), int(math.floor(high))))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return any_json


def _object(schema: dict, root: dict):
    properties = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    optional = [name for name in properties if name not in required]
    extra = schema.get("additionalProperties", True)

    @st.composite
    def build(draw):
        chosen = required + [name for name in optional if draw(st.booleans())]
        value = {name: draw(from_schema(properties[name], root)) for name in chosen}
        if extra is not False and not properties:
            value.update(draw(st.dictionaries(st.text(max_size=8), any_json, max_size=3)))
        for rule in schema.get("allOf", []) + ([schema] if "if" in schema else []):
            _satisfy(draw, rule, value, properties, root)
        return value

    return build()


def _satisfy(draw, rule: dict, value: dict, properties: dict, root: dict) -> None:
    """Make `value` meet an if/then/else rule by adding or removing fields."""
    if "if" not in rule:
        return
    branch = rule.get("then") if _if_validator(rule["if"]).is_valid(value) else rule.get("else")
    if not branch:
        return
    for name in branch.get("required", []):
        if name not in value and name in properties:
            value[name] = draw(from_schema(properties[name], root))
    if "anyOf" in branch:
        names = [n for option in branch["anyOf"] for n in option.get("required", [])]
        if names and not any(n in value for n in names):
            value[names[0]] = draw(from_schema(properties[names[0]], root))
    for name in branch.get("not", {}).get("required", []):
        value.pop(name, None)


_if_validators: dict = {}


def _if_validator(schema: dict):
    validator = _if_validators.get(id(schema))
    if validator is None:
        from jsonschema import Draft202012Validator

        validator = _if_validators[id(schema)] = Draft202012Validator(schema)
    return validator


def allowed_types(schema: dict, root: dict) -> set[str]:
    """The JSON types a value under `schema` may have."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return allowed_types(target, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return set().union(*(allowed_types(branch, root) for branch in schema[key]))
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if values is not None:
        types = {json_type(v) for v in values}
        return types | ({"number"} if "integer" in types else set())
    kind = schema.get("type")
    if kind is None:
        return set(JSON_TYPES) if "properties" not in schema else {"object"}
    kinds = set(kind if isinstance(kind, list) else [kind])
    if "number" in kinds:
        kinds.add("integer")
    return kinds


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


SAMPLES = {"object": {"a": 1}, "array": [1, "x"], "string": "text", "number": 1.5, "integer": 7,
           "boolean": True, "null": None}
