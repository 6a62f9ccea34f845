"""The contract with the official OpenAI spec: the extracted subset is current and complete,
every fixture is what the spec says OpenAI answers, and the validator really rejects."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from jsonschema import Draft202012Validator

from contract import extract_spec
from contract.spec import (FIXTURES_DIR, SUBSET_FILE, load_fixture, operation,
                           schema_errors, sse_data, subset, validate_error, validate_request,
                           validate_response, validate_stream_chunk)
from support.ci import need_beside_repo

MANIFEST = json.loads((FIXTURES_DIR / "MANIFEST.json").read_text(encoding="utf-8"))
ERROR_FIELDS = {"message", "type", "param", "code"}


def fixtures(check: str) -> list[str]:
    return sorted(name for name, entry in MANIFEST.items() if entry["check"] == check)


def split_operation(entry: dict) -> tuple[str, str]:
    method, path = entry["operation"].split(" ", 1)
    return method, path


# --- the subset file -------------------------------------------------------------------

def test_subset_is_up_to_date_with_the_spec():
    need_beside_repo(extract_spec.DEFAULT_SPEC, "the official OpenAI spec (needed to re-extract the subset)")
    expected = extract_spec.generate(extract_spec.DEFAULT_SPEC)
    assert SUBSET_FILE.read_text(encoding="utf-8") == expected, (
        f"{SUBSET_FILE.name} is stale: run `{extract_spec.REGENERATE}` and commit the result")


def test_subset_records_where_it_came_from():
    info = subset()["info"]
    assert info["title"] == "OpenAI API"
    assert info["version"] == "2.3.0"
    assert info["license"]["name"] == "MIT"
    assert info["source"] == "../shared/openai/openapi.yaml"
    assert info["regenerate"] == "python tests/contract/extract_spec.py"
    assert "nullable" in info["note"]
    assert len(info["source_sha256"]) == 64


def test_subset_operations_name_the_spec_schemas():
    assert subset()["operations"] == {
        "POST /chat/completions": {
            "operationId": "createChatCompletion", "request": "CreateChatCompletionRequest",
            "response": "CreateChatCompletionResponse",
            "stream_chunk": "CreateChatCompletionStreamResponse", "errors": {"429": "ErrorResponse"}},
        "POST /images/generations": {
            "operationId": "createImage", "request": "CreateImageRequest",
            "response": "ImagesResponse", "errors": {}},
        "GET /models": {
            "operationId": "listModels", "request": None, "response": "ListModelsResponse",
            "errors": {}},
        "POST /embeddings": {
            "operationId": "createEmbedding", "request": "CreateEmbeddingRequest",
            "response": "CreateEmbeddingResponse", "errors": {"429": "ErrorResponse"}},
        # The Files and Batch operations the bulk jobs use (issue 11).
        "POST /files": {
            "operationId": "createFile", "request": "CreateFileRequest",
            "request_media_type": "multipart/form-data", "response": "OpenAIFile", "errors": {}},
        "GET /files/{file_id}": {
            "operationId": "retrieveFile", "request": None, "response": "OpenAIFile", "errors": {}},
        "GET /files/{file_id}/content": {
            "operationId": "downloadFile", "request": None, "response": None, "errors": {}},
        "POST /batches": {
            "operationId": "createBatch", "request": "CreateBatchRequest", "response": "Batch", "errors": {}},
        "GET /batches": {
            "operationId": "listBatches", "request": None, "response": "ListBatchesResponse", "errors": {}},
        "GET /batches/{batch_id}": {
            "operationId": "retrieveBatch", "request": None, "response": "Batch", "errors": {}},
        "POST /batches/{batch_id}/cancel": {
            "operationId": "cancelBatch", "request": None, "response": "Batch", "errors": {}},
    }


def _walk_keywords(schema, found: set) -> None:
    """Collect every keyword used in schema positions (property names are not keywords)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key in extract_spec.SCHEMA_MAPS:
                for sub in value.values():
                    _walk_keywords(sub, found)
            elif key in extract_spec.SCHEMA_LISTS:
                for sub in value:
                    _walk_keywords(sub, found)
            elif key in extract_spec.SCHEMA_VALUED:
                _walk_keywords(value, found)


def test_subset_holds_exactly_the_closure_without_prose_or_openapi_keywords():
    schemas = subset()["components"]["schemas"]
    roots = set()
    for entry in subset()["operations"].values():
        roots |= {entry["request"], entry["response"], entry.get("stream_chunk"),
                  *entry["errors"].values()} - {None}
    reachable, pending = set(), list(roots)
    while pending:
        name = pending.pop()
        if name not in reachable:
            reachable.add(name)
            pending += extract_spec._refs(schemas[name])
    assert reachable == set(schemas)

    keywords: set = set()
    for schema in schemas.values():
        _walk_keywords(schema, keywords)
    assert keywords <= extract_spec.KNOWN - {"nullable"}, keywords - extract_spec.KNOWN
    # a property *named* description survives (FunctionObject.description is API data)
    assert "description" in schemas["FunctionObject"]["properties"]


def _not_json_schema(schemas: dict) -> dict[str, list[str]]:
    """Schema name -> every way it breaks the JSON Schema 2020-12 metaschema (only broken ones)."""
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    found = {}
    for name, schema in sorted(schemas.items()):
        problems = sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                          for e in meta.iter_errors(schema))
        if problems:
            found[name] = problems
    return found


def test_every_subset_schema_is_valid_json_schema_2020_12():
    schemas = subset()["components"]["schemas"]
    assert len(schemas) >= 90  # the closure of the eleven operations' schemas (94 when written)
    broken = _not_json_schema(schemas)
    assert broken == {}, f"{len(broken)} of {len(schemas)} subset schemas are not valid JSON Schema 2020-12:\n" + \
        "\n".join(f"  - {name}: {'; '.join(problems)}" for name, problems in broken.items())
    # the check is not blind: a broken schema is reported by name, with each problem
    assert _not_json_schema({"Fine": {"type": "string"}, "Bad": {"type": 5, "required": "x"}}) == {
        "Bad": ["required: 'x' is not of type 'array'", "type: 5 is not valid under any of the given schemas"]}


@pytest.mark.parametrize("given, expected", [
    ({"type": "integer", "nullable": True, "description": "x"}, {"type": ["integer", "null"]}),
    ({"type": "string", "enum": ["a", "b"], "nullable": True},
     {"type": ["string", "null"], "enum": ["a", "b", None]}),
    ({"$ref": "#/components/schemas/X", "nullable": True},
     {"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]}),
    ({"type": "boolean", "nullable": False, "x-stainless-const": True, "example": True},
     {"type": "boolean"}),
    ({"type": "object", "properties": {"title": {"type": "string", "title": "T"}}},
     {"type": "object", "properties": {"title": {"type": "string"}}}),
])
def test_conversion_of_nullable_and_prose(given, expected):
    assert extract_spec.convert(given, "#") == expected


def test_conversion_refuses_keywords_it_does_not_know():
    with pytest.raises(ValueError, match="'patternMagic' is not handled"):
        extract_spec.convert({"type": "object", "patternMagic": 1}, "#/components/schemas/X")


# --- fixtures --------------------------------------------------------------------------

def test_manifest_lists_every_fixture_and_nothing_else():
    on_disk = {p.name for p in FIXTURES_DIR.iterdir()} - {"MANIFEST.json"}
    assert on_disk == set(MANIFEST)


@pytest.mark.parametrize("name", fixtures("response"))
def test_success_fixture_matches_the_spec_response(name):
    validate_response(*split_operation(MANIFEST[name]), load_fixture(name))


@pytest.mark.parametrize("name", fixtures("stream"))
def test_every_stream_chunk_matches_the_spec(name):
    payloads = sse_data(load_fixture(name))
    chunks = [json.loads(p) for p in payloads if p != "[DONE]"]
    assert chunks
    for chunk in chunks:
        if "error" in chunk:
            validate_error(chunk)
        else:
            validate_stream_chunk(chunk)


def test_stream_transcript_shape():
    payloads = sse_data(load_fixture("chat-completion-stream.sse"))
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello! How can I help you today?"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 29
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_error_transcript_ends_with_an_error_event():
    payloads = sse_data(load_fixture("chat-completion-stream-error.sse"))
    assert "[DONE]" not in payloads
    last = json.loads(payloads[-1])
    assert last["error"]["type"] == "server_error"
    assert all("error" not in json.loads(p) for p in payloads[:-1])


def decode_base64_embeddings(data: dict) -> dict:
    """encoding_format base64: each embedding is little-endian float32, base64-encoded."""
    decoded = json.loads(json.dumps(data))
    for item in decoded["data"]:
        raw = base64.b64decode(item["embedding"], validate=True)
        item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return decoded


@pytest.mark.parametrize("name", fixtures("response-after-base64-decode"))
def test_base64_embeddings_match_the_spec_once_decoded(name):
    data = load_fixture(name)
    method, path = split_operation(MANIFEST[name])
    # The spec only models float arrays: the raw base64 answer is (correctly) not valid...
    with pytest.raises(AssertionError, match=r"embedding.*is not of type 'array'"):
        validate_response(method, path, data)
    # ...and once decoded it is, with the same numbers the float fixture carries.
    decoded = decode_base64_embeddings(data)
    validate_response(method, path, decoded)
    floats = load_fixture("embeddings-float-batch.json")
    assert [d["embedding"] for d in decoded["data"]] == [d["embedding"] for d in floats["data"][:2]]


def test_gpt_image_fixture_carries_a_real_png():
    from openai_skill.actions.image_files import decode_b64_image, detect_image_type

    data = load_fixture("images-gpt-image-1-b64.json")
    png = decode_b64_image(data["data"][0]["b64_json"])
    assert detect_image_type(png) == ("png", "image/png")
    assert data["usage"]["total_tokens"] == data["usage"]["input_tokens"] + data["usage"]["output_tokens"]


@pytest.mark.parametrize("name", fixtures("error"))
def test_error_fixture_has_the_openai_envelope(name):
    data = load_fixture(name)
    assert set(data) == {"error"}
    assert set(data["error"]) == ERROR_FIELDS
    assert data["error"]["message"]
    validate_error(data)
    assert name.startswith(f"error-{MANIFEST[name]['status']}-")


def test_the_401_fixture_echoes_a_masked_key():
    assert "sk-abc***wxyz" in load_fixture("error-401-invalid-api-key.json")["error"]["message"]


# --- the validator accepts what the skill sends... ------------------------------------

VALID_REQUESTS = {
    "chat-minimal": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
    "chat-seed-defaults": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "max_tokens": 1024, "temperature": 1.0,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}),
    "chat-reasoning": ("POST", "/chat/completions", {
        "model": "o3-mini", "max_completion_tokens": 1024,
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}]}),
    "chat-tools-round-trip": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                           "required": ["location"]}}}],
        "tool_choice": "auto"}),
    "chat-json-schema-stream": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "strict": True,
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "stream": True, "stream_options": {"include_usage": True},
        "stop": ["\n\n"], "top_p": 0.9, "seed": 7, "user": "agent-1"}),
    "chat-nulls-the-api-accepts": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": None, "n": None, "stop": None, "temperature": None}),
    "image-dall-e-3": ("POST", "/images/generations", {
        "model": "dall-e-3", "prompt": "a fox", "n": 1, "size": "1024x1024",
        "quality": "standard", "style": "vivid", "response_format": "url"}),
    "image-gpt-image-1": ("POST", "/images/generations", {
        "model": "gpt-image-1", "prompt": "a fox", "n": 2, "size": "1536x1024",
        "quality": "high", "output_format": "webp", "output_compression": 80,
        "background": "transparent", "moderation": "low"}),
    "image-gpt-image-2": ("POST", "/images/generations", {
        "model": "gpt-image-2", "prompt": "a fox", "n": 10, "size": "2048x1152", "quality": "medium",
        "output_format": "png", "background": "opaque"}),
    "chat-gpt-6": ("POST", "/chat/completions", {
        "model": "gpt-6.2-astra", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 25000,
        "reasoning_effort": "max", "verbosity": "low", "service_tier": "fast", "safety_identifier": "u-1f2e",
        "prompt_cache_key": "faq"}),
    "chat-gpt-6-luna-tools": ("POST", "/chat/completions", {
        "model": "gpt-6-luna", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 25000,
        "reasoning_effort": "none", "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
    "models": ("GET", "/models", None),
    "embedding-one": ("POST", "/embeddings", {"model": "text-embedding-3-small", "input": "hello"}),
    "embedding-many": ("POST", "/embeddings", {
        "model": "text-embedding-3-large", "input": ["a", "b"], "dimensions": 256,
        "encoding_format": "float"}),
}


@pytest.mark.parametrize("case", sorted(VALID_REQUESTS))
def test_spec_accepts_the_requests_the_skill_sends(case):
    validate_request(*VALID_REQUESTS[case])


ACTION_BY_PATH = {"/chat/completions": "chat-completion", "/images/generations": "generate-image",
                  "/embeddings": "create-embedding"}


def _retired(case: str) -> bool:
    from openai_skill.lifecycle.table import Table
    from openai_skill.manifest import load_manifest
    from support.lifecycle import DATA_DAY

    body = VALID_REQUESTS[case][2]
    found = Table(load_manifest().lifecycle).built_in(body["model"]) if isinstance(body, dict) else None
    return found is not None and found.begun(DATA_DAY)


@pytest.mark.parametrize("case", sorted(c for c in VALID_REQUESTS if _retired(c)))
def test_a_case_naming_a_retired_model_goes_out_with_its_replacement(case):
    """The skill refuses the retired model, naming the replacement; the same request with the
    replacement (less what the replacement refuses: DALL-E's style, quality and URLs) is sent,
    and the spec and today's API both accept it."""
    import openai_skill as skill
    from openai_skill import InputError
    from support.lifecycle import DATA_DAY
    from support.todays_api import refusal

    method, path, body = VALID_REQUESTS[case]
    action = ACTION_BY_PATH[path]
    with pytest.raises(InputError) as info:
        skill.invoke(action, body, dry_run=True)
    replacement = info.value.problems[0]["expected"].split(" or ")[0]
    assert replacement in info.value.message
    mapped, dropped = {**body, "model": replacement}, set()
    for _attempt in range(3):
        try:
            sent = skill.invoke(action, mapped, dry_run=True)["request"]["body"]
            break
        except InputError as exc:
            dropped |= {p["path"] for p in exc.problems}
            mapped = {k: v for k, v in mapped.items() if k not in dropped}
    assert "model" not in dropped and sent["model"] == replacement
    validate_request(method, path, sent)
    assert refusal(method, path, sent, DATA_DAY) is None


def test_operation_accepts_the_v1_prefix_and_refuses_unknown_paths():
    embeddings = {"operationId": "createEmbedding", "request": "CreateEmbeddingRequest",
                  "response": "CreateEmbeddingResponse", "errors": {"429": "ErrorResponse"}}
    assert operation("post", "/v1/embeddings") == embeddings
    assert operation("POST", "/embeddings") == embeddings
    with pytest.raises(LookupError, match="POST /completions is not one of"):
        operation("POST", "/completions")


# --- ...and really rejects what is wrong (so the contract cannot pass everything) ------

INVALID_REQUESTS = {
    "chat-without-messages": ("POST", "/chat/completions", {"model": "gpt-4o-mini"},
                              "'messages' is a required property"),
    "chat-without-model": ("POST", "/chat/completions", {"messages": [{"role": "user", "content": "x"}]},
                           "'model' is a required property"),
    "chat-temperature-as-string": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "temperature": "0.7"},
        r"\$\.temperature: .*'0\.7'"),
    "chat-temperature-out-of-range": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
        r"\$\.temperature"),
    "chat-bad-role": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]},
        r"\$\.messages\[0\]"),
    "chat-tool-message-without-id": ("POST", "/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "tool", "content": "x"}]},
        r"\$\.messages\[0\]"),
    "embedding-unknown-field": ("POST", "/embeddings", {
        "model": "text-embedding-3-small", "input": "x", "temprature": 1},
        r"Additional properties are not allowed \('temprature' was unexpected\)"),
    "embedding-empty-list": ("POST", "/embeddings", {"model": "text-embedding-3-small", "input": []},
                             r"\$\.input"),
    "embedding-dimensions-zero": ("POST", "/embeddings", {
        "model": "text-embedding-3-small", "input": "x", "dimensions": 0}, r"\$\.dimensions"),
    "image-without-prompt": ("POST", "/images/generations", {"model": "dall-e-3"},
                             "'prompt' is a required property"),
    "image-bad-style": ("POST", "/images/generations", {"prompt": "x", "style": "cubist"},
                        r"\$\.style"),
    "models-with-body": ("GET", "/models", {"limit": 5}, "takes no request body"),
}


@pytest.mark.parametrize("case", sorted(INVALID_REQUESTS))
def test_spec_rejects_bad_requests_naming_the_field(case):
    method, path, body, message = INVALID_REQUESTS[case]
    with pytest.raises(AssertionError, match=message):
        validate_request(method, path, body)


@pytest.mark.parametrize("fixture, mutate, message", [
    ("chat-completion.json", lambda d: d.pop("choices"), "'choices' is a required property"),
    ("chat-completion.json", lambda d: d["choices"][0].update(finish_reason="done"),
     r"\$\.choices\[0\]\.finish_reason: 'done' is not one of"),
    ("models-list.json", lambda d: d["data"][0].pop("owned_by"), r"\$\.data\[0\]: 'owned_by'"),
    ("embeddings-float.json", lambda d: d["data"][0].update(embedding=["x"]),
     r"\$\.data\[0\]\.embedding\[0\]"),
    ("images-dall-e-3-url.json", lambda d: d.pop("created"), "'created' is a required property"),
])
def test_spec_rejects_broken_responses(fixture, mutate, message):
    data = load_fixture(fixture)
    mutate(data)
    with pytest.raises(AssertionError, match=message):
        validate_response(*split_operation(MANIFEST[fixture]), data)


def test_spec_rejects_a_broken_stream_chunk_and_error_body():
    chunk = json.loads(sse_data(load_fixture("chat-completion-stream.sse"))[0])
    chunk["object"] = "chat.completion"
    with pytest.raises(AssertionError, match=r"\$\.object: 'chat.completion' is not one of"):
        validate_stream_chunk(chunk)
    with pytest.raises(AssertionError, match="'type' is a required property"):
        validate_error({"error": {"message": "x", "param": None, "code": None}})


def test_error_listing_reports_every_problem():
    problems = schema_errors("CreateEmbeddingRequest", {"input": 5, "dimensions": "x", "extra": 1})
    assert len(problems) == 4, problems  # model missing, input, dimensions, extra
    assert any(p.startswith("$.dimensions: 'x' is not of type 'integer'") for p in problems)
