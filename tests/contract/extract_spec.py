"""Extract from the official OpenAI OpenAPI spec the schemas our four operations need.

    python tests/contract/extract_spec.py            # regenerate tests/contract/openai-spec-subset.json
    python tests/contract/extract_spec.py --check    # exit 1 if the committed file is stale

Reads ../shared/openai/openapi.yaml (relative to the repository root; `--spec PATH` to
override), follows each operation's request, 200 response (and SSE chunk, for chat) and
declared error response to their component schemas, keeps exactly the transitive closure
of those schemas, strips prose, and turns OpenAPI 3.0's `nullable: true` into JSON Schema.
The output is deterministic (sorted keys), so regenerating an unchanged spec gives no diff.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "openai" / "openapi.yaml"
DEFAULT_OUT = Path(__file__).resolve().parent / "openai-spec-subset.json"
SPEC_PATH_NOTE = "../shared/openai/openapi.yaml"
REGENERATE = "python tests/contract/extract_spec.py"
SCHEMA_REF_PREFIX = "#/components/schemas/"
RESPONSE_REF_PREFIX = "#/components/responses/"
JSON = "application/json"
SSE = "text/event-stream"

# (method, path, whether its SSE chunk schema is wanted). Everything else is read from the spec.
OPERATIONS = [
    ("POST", "/chat/completions", True),
    ("POST", "/images/generations", False),
    ("GET", "/models", False),
    ("POST", "/embeddings", False),
    # The Batch API (bulk jobs): upload the request file, create and follow the batch.
    ("POST", "/files", False),
    ("GET", "/files/{file_id}", False),
    ("GET", "/files/{file_id}/content", False),
    ("POST", "/batches", False),
    ("GET", "/batches", False),
    ("GET", "/batches/{batch_id}", False),
    ("POST", "/batches/{batch_id}/cancel", False),
]
MULTIPART = "multipart/form-data"

# Keywords dropped everywhere: prose and examples (annotations only), vendor extensions
# (any key starting with "x-"), and OpenAPI-only keywords a JSON Schema validator ignores.
DROPPED = {"description", "title", "example", "examples", "externalDocs", "discriminator", "xml"}

# Keywords whose value is one schema, a list of schemas, or a name -> schema map.
SCHEMA_VALUED = {"items", "additionalProperties", "not", "if", "then", "else", "contains",
                 "propertyNames", "unevaluatedItems", "unevaluatedProperties"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "dependentSchemas"}
# Keywords kept as they are (their values are data, not schemas).
DATA_VALUED = {"$ref", "type", "enum", "const", "default", "required", "format", "deprecated",
               "readOnly", "writeOnly", "minimum", "maximum", "exclusiveMinimum",
               "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "minItems",
               "maxItems", "uniqueItems", "minProperties", "maxProperties", "dependentRequired"}
KNOWN = SCHEMA_VALUED | SCHEMA_LISTS | SCHEMA_MAPS | DATA_VALUED | {"nullable"}

NOTE = (
    "Subset of the official OpenAI OpenAPI spec: only the component schemas that "
    "POST /chat/completions, POST /images/generations, GET /models, POST /embeddings and "
    "the Files and Batch operations the bulk jobs use (POST /files, GET /files/{file_id}, "
    "GET /files/{file_id}/content, POST and GET /batches, GET /batches/{batch_id}, "
    "POST /batches/{batch_id}/cancel) reference (request body, 200 response, the chat SSE "
    "chunk, and the declared error response), transitively. Changes made to the spec's schemas: prose removed "
    "(description, title, example(s)), vendor extensions (x-*) and the OpenAPI-only "
    "`discriminator` removed; OpenAPI 3.0-style `nullable: true` converted to JSON Schema "
    "2020-12 (a schema with a `type` gets \"null\" added to its type, and null added to its "
    "`enum` if it has one; a schema without `type` is wrapped as "
    "anyOf: [schema, {\"type\": \"null\"}]) because the API accepts nulls there that a "
    "2020-12 validator would otherwise reject. Nothing else is changed. "
    f"Regenerate with `{REGENERATE}` (reads {SPEC_PATH_NOTE} relative to the repository root)."
)


def load_spec(path: Path) -> dict:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=loader)


def convert(schema, where: str):
    """Return `schema` with prose stripped and `nullable` converted, recursively."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise ValueError(f"{where}: expected a schema, got {type(schema).__name__}")
    out = {}
    for key, value in schema.items():
        if key in DROPPED or key.startswith("x-"):
            continue
        if key not in KNOWN:
            raise ValueError(f"{where}: keyword {key!r} is not handled; extend extract_spec.py")
        if key in SCHEMA_VALUED:
            out[key] = convert(value, f"{where}/{key}")
        elif key in SCHEMA_LISTS:
            out[key] = [convert(v, f"{where}/{key}/{i}") for i, v in enumerate(value)]
        elif key in SCHEMA_MAPS:
            out[key] = {name: convert(v, f"{where}/{key}/{name}") for name, v in value.items()}
        elif key != "nullable":
            out[key] = value
    if schema.get("nullable") is True:
        out = _allow_null(out)
    return out


def _allow_null(schema: dict) -> dict:
    kind = schema.get("type")
    if kind is None:
        return {"anyOf": [schema, {"type": "null"}]}
    types = list(kind) if isinstance(kind, list) else [kind]
    out = dict(schema, type=types if "null" in types else [*types, "null"])
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def _schema_name(ref: str) -> str:
    if not ref.startswith(SCHEMA_REF_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r}")
    return ref[len(SCHEMA_REF_PREFIX):]


def _content_schema(spec: dict, response_or_body: dict, media_type: str) -> str | None:
    """The component schema name a request body / response uses for `media_type`, if any."""
    ref = response_or_body.get("$ref")
    if ref:  # a shared response such as #/components/responses/TooManyRequests
        if not ref.startswith(RESPONSE_REF_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r}")
        response_or_body = spec["components"]["responses"][ref[len(RESPONSE_REF_PREFIX):]]
    schema = response_or_body.get("content", {}).get(media_type, {}).get("schema")
    # An inline schema (GET /files/{id}/content answers raw bytes, typed `string`) names none.
    return _schema_name(schema["$ref"]) if schema and "$ref" in schema else None


def _refs(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(_schema_name(value))
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def build_subset(spec: dict, spec_sha256: str) -> dict:
    operations = {}
    roots = []
    for method, path, with_stream in OPERATIONS:
        op = spec["paths"][path][method.lower()]
        entry = {"operationId": op["operationId"]}
        body = op.get("requestBody")
        entry["request"] = _content_schema(spec, body, JSON) if body else None
        if body and entry["request"] is None and MULTIPART in body.get("content", {}):
            # An upload: its form fields are checked as an object (the file part as its name).
            entry["request"] = _content_schema(spec, body, MULTIPART)
            entry["request_media_type"] = MULTIPART
        entry["response"] = _content_schema(spec, op["responses"]["200"], JSON)
        if with_stream:
            entry["stream_chunk"] = _content_schema(spec, op["responses"]["200"], SSE)
        errors = {status: _content_schema(spec, response, JSON)
                  for status, response in op["responses"].items() if not str(status).startswith("2")}
        entry["errors"] = {str(k): v for k, v in sorted(errors.items()) if v}
        operations[f"{method} {path}"] = entry
        roots += [v for k, v in entry.items() if k in ("request", "response", "stream_chunk") and v]
        roots += list(entry["errors"].values())

    source = spec["components"]["schemas"]
    schemas: dict = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in schemas:
            continue
        schemas[name] = convert(source[name], f"{SCHEMA_REF_PREFIX}{name}")
        pending += sorted(_refs(schemas[name]) - schemas.keys())

    info = spec["info"]
    return {
        "info": {
            "title": info["title"],
            "version": info["version"],
            "openapi": spec["openapi"],
            "license": info["license"],
            "source": SPEC_PATH_NOTE,
            "source_sha256": spec_sha256,
            "regenerate": REGENERATE,
            "note": NOTE,
        },
        "operations": operations,
        "components": {"schemas": schemas},
    }


def render(subset: dict) -> str:
    return json.dumps(subset, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def generate(spec_path: Path) -> str:
    """The subset file's exact text for the spec at `spec_path`."""
    digest = hashlib.sha256(Path(spec_path).read_bytes()).hexdigest()
    return render(build_subset(load_spec(spec_path), digest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the OpenAPI YAML to read")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the subset")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if --out differs")
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        parser.error(f"spec not found: {args.spec}")
    text = generate(args.spec)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is out of date; run: {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode())} bytes, "
          f"{len(json.loads(text)['components']['schemas'])} schemas)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
