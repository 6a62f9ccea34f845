"""A quick yes/no: does a value conform to one of our JSON Schemas?

Why this exists: agents start the CLI once per call, and importing jsonschema costs about
50 ms, a third of a whole `openai-skill models` call. Valid input, the common case, is
accepted here without that import; anything this check rejects, or any schema keyword it
does not know, goes to jsonschema, which stays the authority and writes the error report.
Tests hold the two to the same verdict (tests/input/test_fast_check.py).

A schema is compiled into nested closures as it is first used (a reused client checks every
call's input against the same few schemas, and walking the schema's dicts again each time was
most of the check's cost; a property's check and a `$ref`'s target are compiled only when an
input first reaches them, so a cold CLI call does not compile the whole schema for one input).
A keyword this check does not implement compiles to a check that raises Unsupported when it
is reached, exactly where walking the schema would have raised.
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
    kept = _compiled.get(id(schema))
    if kept is None or kept[0] is not schema:
        if len(_compiled) >= MAX_COMPILED:
            _compiled.clear()
        kept = _compiled[id(schema)] = (schema, _Compiler(schema).node(schema))
    return kept[1](value)


# id(schema) -> (schema, its check): the schema is kept with its check, so its id is not reused.
_compiled: dict = {}
MAX_COMPILED = 64   # our schemas are a handful; a caller passing new ones each time cannot grow this


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


def _always(value) -> bool:
    return True


def _never(value) -> bool:
    return False


def _unsupported(name: str):
    def check(value):
        raise Unsupported(name)
    return check


class _Compiler:
    """Compiles the nodes of one root schema; `$ref`s resolve against the root, each target
    compiled once (on first use, so a recursive schema compiles)."""

    def __init__(self, root: dict):
        self.root = root
        self.refs: dict = {}

    def node(self, schema):
        if schema is True:
            return _always
        if schema is False:
            return _never
        checks = []
        for key, arg in schema.items():
            if key in ANNOTATIONS or key in ("then", "else"):
                continue
            make = _KEYWORDS.get(key)
            checks.append(_unsupported(key) if make is None else make(self, arg, schema))
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        every = tuple(checks)

        def check(value):   # a loop, not all(<generator>): no generator made per node and call
            for one in every:  # noqa: SIM110
                if not one(value):
                    return False
            return True
        return check

    def ref(self, arg: str):
        if not arg.startswith("#/"):
            return _unsupported("$ref " + arg)
        compiled = self.refs.get(arg)
        if compiled is None:   # resolved and compiled when first reached, as the walk did
            compiled = self.refs[arg] = _deferred(lambda: self.node(self._resolve(arg)))
        return compiled

    def _resolve(self, arg: str):
        node = self.root
        for part in arg[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


def _deferred(make):
    """A check that builds its real check with `make()` the first time it is asked."""
    compiled = None

    def check(value):
        nonlocal compiled
        if compiled is None:
            compiled = make()
        return compiled(value)
    return check


def _type(compiler, arg, schema):
    names = [arg] if isinstance(arg, str) else list(arg)
    if names and all(name in ("object", "array", "string", "null") for name in names):
        kinds = tuple(_PY_TYPES[name] for name in names if name != "null")   # never a bool: isinstance is the rule
        if "null" not in names:
            return lambda value: isinstance(value, kinds)
        return lambda value: value is None or isinstance(value, kinds)
    return lambda value: any(_is_type(value, name) for name in names)


def _properties(compiler, arg, schema):
    names = tuple(arg)
    # Each property's check is compiled when a value first has that property: a CLI call checks
    # one input, which names a few of a schema's properties (compiling all of a chat schema up
    # front cost a cold call ~0.5 ms).
    compiled: dict = {}

    def check(value):
        if not isinstance(value, dict):
            return True
        for name in names:
            if name in value:
                sub = compiled.get(name)
                if sub is None:
                    sub = compiled[name] = compiler.node(arg[name])
                if not sub(value[name]):
                    return False
        return True
    return check


def _additional(compiler, arg, schema):
    if "patternProperties" in schema:
        refuse = _unsupported("patternProperties")
        return lambda value: not isinstance(value, dict) or refuse(value)
    known = frozenset(schema.get("properties", {}))
    if arg is False:   # no other name at all: a set comparison
        return lambda value: not isinstance(value, dict) or known.issuperset(value)
    sub = compiler.node(arg)
    return lambda value: not isinstance(value, dict) or all(
        sub(item) for name, item in value.items() if name not in known)


def _required(compiler, arg, schema):
    names = frozenset(arg)
    return lambda value: not isinstance(value, dict) or value.keys() >= names


def _items(compiler, arg, schema):
    if "prefixItems" in schema:
        refuse = _unsupported("prefixItems")
        return lambda value: not isinstance(value, list) or refuse(value)
    sub = compiler.node(arg)
    return lambda value: not isinstance(value, list) or all(sub(item) for item in value)


def _if(compiler, arg, schema):
    test, then, other = compiler.node(arg), compiler.node(schema.get("then", True)), compiler.node(
        schema.get("else", True))
    return lambda value: (then if test(value) else other)(value)


def _enum(compiler, arg, schema):
    options = list(arg)
    if all(type(option) is str for option in options):
        texts = frozenset(options)   # JSON equality with text is: the same type, the same text
        return lambda value: type(value) is str and value in texts
    return lambda value: any(_equal(value, option) for option in options)


def _pattern(compiler, arg, schema):
    search = re.compile(arg).search
    return lambda value: not isinstance(value, str) or search(value) is not None


def _each(make):
    """A keyword whose argument is a list of subschemas."""
    return lambda compiler, arg, schema: make(tuple(compiler.node(sub) for sub in arg))


_KEYWORDS = {
    "type": _type,
    "enum": _enum,
    "const": lambda c, arg, s: _enum(c, [arg], s),
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "items": _items,
    "minItems": lambda c, arg, s: lambda value: not isinstance(value, list) or len(value) >= arg,
    "maxItems": lambda c, arg, s: lambda value: not isinstance(value, list) or len(value) <= arg,
    "minLength": lambda c, arg, s: lambda value: not isinstance(value, str) or len(value) >= arg,
    "maxLength": lambda c, arg, s: lambda value: not isinstance(value, str) or len(value) <= arg,
    "pattern": _pattern,
    "minimum": lambda c, arg, s: lambda value: not _number(value) or value >= arg,
    "maximum": lambda c, arg, s: lambda value: not _number(value) or value <= arg,
    "anyOf": _each(lambda subs: lambda value: any(sub(value) for sub in subs)),
    "oneOf": _each(lambda subs: lambda value: sum(sub(value) for sub in subs) == 1),
    "allOf": _each(lambda subs: lambda value: all(sub(value) for sub in subs)),
    "not": lambda c, arg, s: (lambda sub: lambda value: not sub(value))(c.node(arg)),
    "if": _if,
    "$ref": lambda c, arg, s: c.ref(arg),
}
