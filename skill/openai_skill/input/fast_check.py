"""A quick yes/no: does a value conform to one of our JSON Schemas?

Why this exists: agents start the CLI once per call, and importing jsonschema costs about
50 ms, a third of a whole `openai-skill models` call. Valid input, the common case, is
accepted here without that import; anything this check rejects, or any schema keyword it
does not know, goes to jsonschema, which stays the authority and writes the error report.
Tests hold the two to the same verdict (tests/input/test_fast_check.py).
"""

from __future__ import annotations

import re

# Keywords that never change the verdict.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default",
                         "examples", "deprecated", "readOnly", "writeOnly"})


class Unsupported(Exception):
    """The schema uses a keyword this check does not implement: ask jsonschema."""


def conforms(schema: dict, value) -> bool:
    """True if `value` is valid under `schema` (draft 2020-12); raises Unsupported if unsure."""
    return _check(schema, value, schema)


def _check(schema, value, root) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    for key, arg in schema.items():
        if key in ANNOTATIONS or key in ("then", "else"):
            continue
        keyword = _KEYWORDS.get(key)
        if keyword is None:
            raise Unsupported(key)
        if not keyword(arg, value, schema, root):
            return False
    return True


def _is_type(value, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "null":
        return value is None
    return isinstance(value, _PY_TYPES[name]) and not (name != "boolean" and isinstance(value, bool))


_PY_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _equal(a, b) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) in (int, float) and type(b) in (int, float) and a == b or (
        type(a) is type(b) and a == b)


def _number(value) -> bool:
    return _is_type(value, "number")


def _type(arg, value, schema, root):
    return any(_is_type(value, name) for name in ([arg] if isinstance(arg, str) else arg))


def _properties(arg, value, schema, root):
    return not isinstance(value, dict) or all(
        _check(sub, value[name], root) for name, sub in arg.items() if name in value)


def _additional(arg, value, schema, root):
    if not isinstance(value, dict):
        return True
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = schema.get("properties", {})
    return all(_check(arg, item, root) for name, item in value.items() if name not in known)


def _required(arg, value, schema, root):
    return not isinstance(value, dict) or all(name in value for name in arg)


def _items(arg, value, schema, root):
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    return not isinstance(value, list) or all(_check(arg, item, root) for item in value)


def _if(arg, value, schema, root):
    branch = schema.get("then" if _check(arg, value, root) else "else", True)
    return _check(branch, value, root)


def _ref(arg, value, schema, root):
    if not arg.startswith("#/"):
        raise Unsupported("$ref " + arg)
    target = root
    for part in arg[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return _check(target, value, root)


_patterns: dict = {}


def _pattern(arg, value, schema, root):
    if not isinstance(value, str):
        return True
    compiled = _patterns.get(arg) or _patterns.setdefault(arg, re.compile(arg))
    return compiled.search(value) is not None


_KEYWORDS = {
    "type": _type,
    "enum": lambda arg, value, s, r: any(_equal(value, option) for option in arg),
    "const": lambda arg, value, s, r: _equal(value, arg),
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "items": _items,
    "minItems": lambda arg, value, s, r: not isinstance(value, list) or len(value) >= arg,
    "maxItems": lambda arg, value, s, r: not isinstance(value, list) or len(value) <= arg,
    "minLength": lambda arg, value, s, r: not isinstance(value, str) or len(value) >= arg,
    "maxLength": lambda arg, value, s, r: not isinstance(value, str) or len(value) <= arg,
    "pattern": _pattern,
    "minimum": lambda arg, value, s, r: not _number(value) or value >= arg,
    "maximum": lambda arg, value, s, r: not _number(value) or value <= arg,
    "anyOf": lambda arg, value, s, r: any(_check(sub, value, r) for sub in arg),
    "oneOf": lambda arg, value, s, r: sum(_check(sub, value, r) for sub in arg) == 1,
    "allOf": lambda arg, value, s, r: all(_check(sub, value, r) for sub in arg),
    "not": lambda arg, value, s, r: not _check(arg, value, r),
    "if": _if,
    "$ref": _ref,
}
