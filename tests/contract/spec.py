"""Check request bodies, responses and stream chunks against the official OpenAI spec.

The schemas come from openai-spec-subset.json (made by extract_spec.py from the spec,
v2.3.0). Each check raises AssertionError listing every problem with its JSON path:

    from contract.spec import validate_request, validate_response, validate_stream_chunk
    validate_request("POST", "/chat/completions", body)   # "/v1/chat/completions" works too
    validate_response("GET", "/models", data)
    validate_stream_chunk(chunk)                          # one parsed `data:` of a chat stream

Fixtures (realistic OpenAI answers) live in fixtures/; MANIFEST.json there says what each
file is, its HTTP status and how it is checked. `load_fixture(name)` reads one.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
SUBSET_FILE = HERE / "openai-spec-subset.json"
FIXTURES_DIR = HERE / "fixtures"
SUBSET_URI = "urn:openai-spec-subset"  # the subset's "#/components/schemas/..." refs resolve in it
API_PREFIX = "/v1"
MAX_LINE = 300  # error lines quote the offending value; keep a base64 image from flooding them

__all__ = ["validate_request", "validate_response", "validate_stream_chunk", "validate_error",
           "schema_errors", "operation", "load_fixture", "sse_data", "SUBSET_FILE", "FIXTURES_DIR"]


@lru_cache(maxsize=1)
def subset() -> dict:
    return json.loads(SUBSET_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resource = Resource.from_contents(subset(), default_specification=DRAFT202012)
    return Registry().with_resource(SUBSET_URI, resource)


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    if schema_name not in subset()["components"]["schemas"]:
        raise LookupError(f"schema {schema_name!r} is not in {SUBSET_FILE.name}")
    root = {"$ref": f"{SUBSET_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(root, registry=_registry())


def operation(method: str, path: str) -> dict:
    """The subset's entry for an operation: request/response/stream_chunk/errors schema names."""
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX):]
    key = f"{method.upper()} {path}"
    operations = subset()["operations"]
    if key not in operations:
        raise LookupError(f"{key} is not one of the contract's operations: {', '.join(sorted(operations))}")
    return operations[key]


def schema_errors(schema_name: str, instance) -> list[str]:
    """Every violation of `schema_name` by `instance`, one readable line each (empty if valid)."""
    lines = []
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(map(str, e.path)))
    for error in errors:
        line = f"{_where(error)}: {error.message}"
        if error.context:  # anyOf/oneOf: say which branch came closest and why it failed
            closest = best_match(error.context)
            line += f" (closest: {_where(closest)}: {closest.message})"
        lines.append(line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…")
    return lines


def _check(schema_name: str, instance, what: str) -> None:
    problems = schema_errors(schema_name, instance)
    if problems:
        listing = "\n  - ".join(problems)
        raise AssertionError(f"{what} does not match the OpenAI spec's {schema_name} "
                             f"({len(problems)} problem(s)):\n  - {listing}")


def _where(error) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def validate_request(method: str, path: str, body) -> None:
    """Assert `body` (the parsed JSON request body, None for GET) is valid for the operation."""
    name = operation(method, path)["request"]
    if name is None:
        if body not in (None, b"", ""):
            raise AssertionError(f"{method.upper()} {path} takes no request body, got {body!r:.200}")
        return
    _check(name, body, f"request body of {method.upper()} {path}")


def validate_response(method: str, path: str, data) -> None:
    """Assert `data` (a parsed 200 JSON body) is valid for the operation's response schema."""
    _check(operation(method, path)["response"], data, f"response of {method.upper()} {path}")


def validate_stream_chunk(data) -> None:
    """Assert `data` (one parsed `data:` payload of a chat completion stream) is a valid chunk."""
    name = operation("POST", "/chat/completions")["stream_chunk"]
    _check(name, data, "chat completion stream chunk")


def validate_error(data) -> None:
    """Assert `data` is OpenAI's error envelope {"error": {message, type, param, code}}."""
    _check("ErrorResponse", data, "error body")


def load_fixture(name: str):
    """A fixture by file name: parsed JSON for .json files, the raw text for .sse transcripts."""
    text = (FIXTURES_DIR / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of an SSE transcript, in order (events are separated by blank lines;
    multi-line data is joined with newlines, as the SSE spec says)."""
    payloads, current = [], []
    for line in text.splitlines():
        if not line:
            if current:
                payloads.append("\n".join(current))
                current = []
        elif line.startswith("data:"):
            value = line[len("data:"):]
            current.append(value[1:] if value.startswith(" ") else value)
    if current:
        payloads.append("\n".join(current))
    return payloads
