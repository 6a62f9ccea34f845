"""Every action end to end, through `skill.invoke` and the CLI, against a loopback server
that answers as OpenAI does. Results are checked against the action's output schema;
request bodies against the official spec (the `openai` fixture does that on teardown)."""

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import openai_skill as skill
from openai_skill.manifest import load_manifest
from support.lifecycle import serve
from support.openai_data import HI, MODEL_IDS, MODELS


CHAT = {
    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1764000000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there!", "refusal": None,
                                         "annotations": []},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    "service_tier": "default", "system_fingerprint": "fp_1",
}
CHAT_TOOLS = {
    **CHAT,
    "choices": [{"index": 0, "logprobs": None, "finish_reason": "tool_calls",
                 "message": {"role": "assistant", "content": None, "refusal": None, "annotations": [],
                             "tool_calls": [{"id": "call_1", "type": "function",
                                             "function": {"name": "get_weather",
                                                          "arguments": "{\"city\":\"Oslo\"}"}}]}}],
}


def embedding_response(vectors):
    return {"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": 4, "total_tokens": 4}}


def tiny_png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


def check_result(action, result):
    schema = load_manifest().action(action).output_schema
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(result)]
    assert not errors, errors


# --- chat-completion ----------------------------------------------------------------------

def test_chat_through_invoke(openai, key):
    openai.reply("POST", "/chat/completions", CHAT)
    result = skill.invoke("chat-completion", {"messages": HI})
    check_result("chat-completion", result)
    assert result == {"content": "Hi there!", "role": "assistant", "finish_reason": "stop",
                      "model": "gpt-4o-mini-2024-07-18", "id": "chatcmpl-abc123",
                      "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
                      "request_id": "req_200_chat/completions",
                      # prices.yaml's gpt-4o-mini (the model asked for, not the answer's snapshot id):
                      # $0.15 in and $0.60 out per 1M tokens, so (9 x 0.15 + 3 x 0.60) / 1M.
                      "cost": {"usd": 0.00000315, "basis": "usage", "prices_as_of": "2026-12-02",
                               "model": "gpt-4o-mini", "input_tokens": 9, "cached_tokens": 0, "output_tokens": 3}}
    (request,) = openai.requests
    assert request.headers["Authorization"] == f"Bearer {key}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("openai-skill/")
    # temperature 1.0 is the API's own default: not sent
    assert openai.bodies() == [{"messages": HI, "model": "gpt-4o-mini", "max_tokens": 1024}]


def test_chat_through_cli(openai, key, cli):
    openai.reply("POST", "/chat/completions", CHAT)
    result = cli("run", "chat-completion", "--input", json.dumps({"messages": HI, "temperature": "0.5"}))
    assert result.code == 0, result.err
    check_result("chat-completion", result.json())
    assert result.json()["content"] == "Hi there!"
    assert openai.bodies()[0]["temperature"] == 0.5


def test_chat_shortcut_prints_the_text(openai, key, cli):
    openai.reply("POST", "/chat/completions", CHAT)
    result = cli("chat", HI[0]["content"], "--system", "Be brief", "-m", "gpt-4o", "--max-tokens", "20",
                 "--temperature", "0")
    assert (result.code, result.out) == (0, "Hi there!\n")
    assert openai.bodies() == [{"messages": [{"role": "system", "content": "Be brief"}, HI[0]], "model": "gpt-4o",
                                "max_tokens": 20, "temperature": 0.0}]


def test_chat_tool_calls(openai, key):
    openai.reply("POST", "/chat/completions", CHAT_TOOLS)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    result = skill.invoke("chat-completion", {"messages": HI, "tools": tools, "tool_choice": "auto"})
    check_result("chat-completion", result)
    assert result["content"] is None and result["finish_reason"] == "tool_calls"
    assert result["tool_calls"] == [{"id": "call_1", "type": "function",
                                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]
    assert openai.bodies()[0]["tools"] == tools


def test_chat_reasoning_model_request(openai, key):
    openai.reply("POST", "/chat/completions", {**CHAT, "model": "gpt-6.2-sol-2026-10-01"})
    skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6.2-sol", "max_tokens": 300,
                                     "reasoning_effort": "low"})
    assert openai.bodies() == [{"messages": HI, "model": "gpt-6.2-sol", "max_completion_tokens": 300,
                                "reasoning_effort": "low"}]


def test_chat_json_schema_response_format(openai, key):
    openai.reply("POST", "/chat/completions", CHAT)
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True,
                                                  "schema": {"type": "object",
                                                             "properties": {"a": {"type": "string"}}}}}
    skill.invoke("chat-completion", {"messages": HI, "response_format": fmt, "stop": ["END"], "top_p": 0.9})
    assert openai.bodies()[0]["response_format"] == fmt


# --- list-models --------------------------------------------------------------------------

def test_models_through_invoke(openai, key):
    openai.reply("GET", "/models", MODELS)
    result = skill.invoke("list-models")
    check_result("list-models", result)
    assert [m["id"] for m in result["models"]] == MODEL_IDS
    assert result["models"][0] == {"id": "gpt-4o-mini", "owned_by": "system", "created": 1721172741,
                                   "shutdown_date": "2027-01-14"}
    assert result["models"][1]["shutdown_date"] is None  # the API's "none announced", kept
    assert result["count"] == 4 and result["request_id"] == "req_200_models"
    assert openai.requests[0].body == b""


def test_models_through_cli(openai, key, cli):
    openai.reply("GET", "/models", MODELS)
    result = cli("models")
    assert result.code == 0
    check_result("list-models", result.json())
    assert result.json()["count"] == len(MODEL_IDS)


# --- create-embedding ---------------------------------------------------------------------

def test_embedding_single_text(openai, key):
    openai.reply("POST", "/embeddings", embedding_response([[0.1, -0.2, 0.3]]))
    result = skill.invoke("create-embedding", {"input": "hello", "dimensions": 3})
    check_result("create-embedding", result)
    assert result == {"embedding": [0.1, -0.2, 0.3], "model": "text-embedding-3-small", "dimensions": 3,
                      "usage": {"prompt_tokens": 4, "total_tokens": 4}, "request_id": "req_200_embeddings",
                      # text-embedding-3-small at $0.02 per 1M tokens: 4 x 0.02 / 1M.
                      "cost": {"usd": 0.00000008, "basis": "usage", "prices_as_of": "2026-12-02",
                               "model": "text-embedding-3-small", "input_tokens": 4}}
    assert openai.bodies() == [{"input": "hello", "model": "text-embedding-3-small", "dimensions": 3}]


def test_embedding_many_texts_in_input_order(openai, key):
    response = embedding_response([[1.0, 0.0], [0.0, 1.0]])
    response["data"].reverse()  # the API may answer out of order; index says where each goes
    openai.reply("POST", "/embeddings", response)
    result = skill.invoke("create-embedding", {"input": ["a", "b"]})
    check_result("create-embedding", result)
    assert result["embeddings"] == [[1.0, 0.0], [0.0, 1.0]] and "embedding" not in result


def test_embedding_base64_is_decoded_to_floats(api, key):
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.25, 2.0)).decode()
    # The spec does not model base64 embeddings, so this answer skips the contract check.
    api.expect_request("/v1/embeddings", method="POST").respond_with_json(embedding_response([packed]))
    result = skill.invoke("create-embedding", {"input": "hello", "encoding_format": "base64"})
    assert result["embedding"] == [0.5, -1.25, 2.0] and result["dimensions"] == 3


def test_embed_shortcut(openai, key, cli):
    openai.reply("POST", "/embeddings", embedding_response([[0.5], [0.25]]))
    result = cli("embed", "one", "two", "--dimensions", "1")
    assert result.code == 0
    assert result.json()["embeddings"] == [[0.5], [0.25]]
    assert "[0.5]," in result.out  # a vector stays on one line
    assert openai.bodies() == [{"input": ["one", "two"], "model": "text-embedding-3-small", "dimensions": 1}]


# --- generate-image -----------------------------------------------------------------------

def test_image_url_result_notes_expiry(openai, key):
    serve("dall-e-3")  # a server that still serves DALL-E, which answers with URLs
    openai.reply("POST", "/images/generations", {"created": 1764000000, "data": [
        {"url": "https://images.example/abc.png", "revised_prompt": "A lighthouse at dawn, oil painting"}]})
    result = skill.invoke("generate-image", {"prompt": "a lighthouse", "model": "dall-e-3"})
    check_result("generate-image", result)
    assert result["images"] == [{"url": "https://images.example/abc.png",
                                 "revised_prompt": "A lighthouse at dawn, oil painting"}]
    assert result["expires_at"] == 1764000000 + 3600 and "60 minutes" in result["note"]
    assert result["model"] == "dall-e-3"


def test_gpt_image_base64_is_saved_as_a_file(openai, key, tmp_path):
    png = tiny_png()
    openai.reply("POST", "/images/generations", {
        "created": 1764000000, "background": "opaque", "output_format": "png", "quality": "low",
        "size": "1024x1024", "data": [{"b64_json": base64.b64encode(png).decode()}],
        "usage": {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110,
                  "input_tokens_details": {"image_tokens": 0, "text_tokens": 10}}})
    out = tmp_path / "pictures"
    result = skill.invoke("generate-image", {"prompt": "a lighthouse", "model": "gpt-image-2", "quality": "low"},
                          output_dir=out)
    check_result("generate-image", result)
    (image,) = result["images"]
    assert "b64_json" not in image and "b64_json" not in json.dumps(result)
    path = Path(image["path"])
    assert path.parent == out.resolve() and path.suffix == ".png"
    assert path.read_bytes() == png and image["bytes"] == len(png) and image["mime_type"] == "image/png"
    assert openai.bodies() == [{"prompt": "a lighthouse", "model": "gpt-image-2", "quality": "low", "n": 1}]


def test_image_cli_writes_files_into_the_output_folder(openai, key, cli, tmp_path):
    png = tiny_png()
    b64 = base64.b64encode(png).decode()
    openai.reply("POST", "/images/generations", {"created": 1764000000, "data": [{"b64_json": b64}, {"b64_json": b64}]})
    result = cli("image", "two lighthouses", "-m", "gpt-image-2", "-n", "2", "-o", tmp_path / "out")
    assert result.code == 0, result.err
    paths = [Path(image["path"]) for image in result.json()["images"]]
    assert len(set(paths)) == 2 and all(p.read_bytes() == png for p in paths)
    assert len(result.out) < 2000  # paths, not megabytes of base64


def test_image_inline_base64_when_asked(openai, key):
    b64 = base64.b64encode(tiny_png()).decode()
    openai.reply("POST", "/images/generations", {"created": 1764000000, "data": [{"b64_json": b64}]})
    result = skill.invoke("generate-image", {"prompt": "x", "model": "gpt-image-2"}, inline_images=True)
    assert result["images"] == [{"b64_json": b64}]


def test_image_url_download(openai, key, tmp_path):
    png = tiny_png()
    openai.reply_raw("GET", "/cdn/abc.png", png, content_type="image/png")
    url = openai.url_for("/v1/cdn/abc.png")
    openai.reply("POST", "/images/generations", {"created": 1764000000, "data": [{"url": url}]})
    result = skill.invoke("generate-image", {"prompt": "x"}, download_images=True, output_dir=tmp_path)
    (image,) = result["images"]
    assert image["url"] == url and Path(image["path"]).read_bytes() == png
    download = [r for r in openai.requests if r.path == "/v1/cdn/abc.png"][0]
    assert "Authorization" not in download.headers  # the key goes to OpenAI only


# --- introspection ------------------------------------------------------------------------

def test_actions_lists_the_manifest(cli):
    result = cli("actions")
    assert result.code == 0
    for action in load_manifest().actions.values():
        assert action.id in result.out and action.mcp_tool in result.out and action.path in result.out


@pytest.mark.parametrize("action", list(load_manifest().actions))
def test_schema_prints_the_schema_files(cli, action):
    spec = load_manifest().action(action)
    assert cli("schema", action).json() == spec.input_schema
    assert cli("schema", action, "--output").json() == spec.output_schema
