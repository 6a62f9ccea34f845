"""The MCP server's pure parts: result shaping, the HTTP guard, the server-lifetime key, and
the lean start (what `initialize` must not wait for)."""

import base64
import json
import subprocess
import sys

import pytest

from support.canary import CANARY_KEY
from openai_skill.errors import APIError, CredentialsError, InputError
from openai_skill.secrets.store import VaultStore
from openai_skill.surfaces.mcp.http import check_request
from openai_skill.surfaces.mcp.server import ToolRunner
from openai_skill.surfaces.mcp.results import (EMBEDDING_TEXT_MAX_NUMBERS, INLINE_IMAGES_MAX_BYTES,
                                               error_result, success_result)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def test_chat_result_reads_as_text_and_carries_the_json():
    result = {"content": "Hello!", "role": "assistant", "finish_reason": "stop", "model": "m", "id": "c",
              "usage": {}, "request_id": "req_1"}
    out = success_result("chat-completion", result)
    assert out == {"content": [{"type": "text", "text": "Hello!"}], "structuredContent": result, "isError": False}


def test_small_images_inline_and_path_large_ones_link_only(tmp_path):
    small, large = tmp_path / "a.png", tmp_path / "b.png"
    small.write_bytes(PNG)
    large.write_bytes(PNG + b"\x00" * INLINE_IMAGES_MAX_BYTES)
    result = {"images": [{"path": str(small), "bytes": small.stat().st_size, "mime_type": "image/png"},
                         {"path": str(large), "bytes": large.stat().st_size, "mime_type": "image/png"}],
              "created": 1, "model": "gpt-image-1", "request_id": "r"}
    content = success_result("generate-image", result)["content"]
    assert [c["type"] for c in content] == ["text", "image", "text", "resource_link", "text"]
    assert json.loads(content[0]["text"]) == result
    assert base64.b64decode(content[1]["data"]) == PNG and content[1]["mimeType"] == "image/png"
    assert content[2]["text"] == f"image 1 saved to {small}"
    assert content[3]["uri"] == large.as_uri() and content[3]["size"] == large.stat().st_size
    assert "too large to inline" in content[4]["text"] and str(large) in content[4]["text"]


def test_the_inline_budget_is_per_result_not_per_image(tmp_path):
    half = INLINE_IMAGES_MAX_BYTES // 2 + 1
    paths = []
    for name in "abc":
        path = tmp_path / f"{name}.png"
        path.write_bytes(PNG + b"\x00" * (half - len(PNG)))
        paths.append(path)
    result = {"images": [{"path": str(p), "bytes": half, "mime_type": "image/png"} for p in paths],
              "created": 1, "model": "m", "request_id": None}
    kinds = [c["type"] for c in success_result("generate-image", result)["content"] if c["type"] != "text"]
    assert kinds == ["image", "resource_link", "resource_link"]


def test_large_embeddings_get_a_summary_small_ones_the_numbers():
    small = {"embedding": [0.5, -0.25], "model": "e", "dimensions": 2, "usage": {"prompt_tokens": 1, "total_tokens": 1},
             "request_id": "r"}
    assert json.loads(success_result("create-embedding", small)["content"][0]["text"]) == small
    vector = [0.125] * (EMBEDDING_TEXT_MAX_NUMBERS + 1)
    large = {**small, "embedding": vector, "dimensions": len(vector)}
    out = success_result("create-embedding", large)
    summary = out["content"][0]["text"]
    assert out["structuredContent"]["embedding"] == vector
    assert summary.startswith(f"1 embedding vector(s) of {len(vector)} dimensions from e")
    assert "[0.125, 0.125, 0.125, 0.125, ...]" in summary and len(summary) < 500


def test_errors_are_is_error_results_with_the_cli_line_and_no_key():
    exc = APIError(f"Incorrect API key provided: {CANARY_KEY}", status=401, request_id="req_x")
    out = error_result(exc)
    assert out["isError"] is True
    assert out["content"][0]["text"].startswith("openai-skill: Incorrect API key provided:")
    assert json.loads(out["content"][1]["text"])["error"]["request_id"] == "req_x"
    assert CANARY_KEY not in json.dumps(out)
    problems = InputError("2 problems", problems=[{"message": "a: bad"}, {"message": "b: bad"}])
    assert error_result(problems)["content"][0]["text"] == "openai-skill: 2 problems\n  - a: bad\n  - b: bad"


@pytest.mark.parametrize("headers, expected", [
    ({"host": "127.0.0.1:8765", "authorization": "Bearer t0ken"}, None),
    ({"host": "localhost:8765", "origin": "http://localhost:8765", "authorization": "bearer t0ken"}, None),
    ({"host": "evil.example:8765", "authorization": "Bearer t0ken"}, 421),
    ({"host": "127.0.0.1:9999", "authorization": "Bearer t0ken"}, 421),
    ({"authorization": "Bearer t0ken"}, 421),
    ({"host": "127.0.0.1:8765", "origin": "http://evil.example", "authorization": "Bearer t0ken"}, 403),
    ({"host": "127.0.0.1:8765", "origin": "null", "authorization": "Bearer t0ken"}, 403),
    ({"host": "127.0.0.1:8765"}, 401),
    ({"host": "127.0.0.1:8765", "authorization": "Bearer wrong"}, 401),
    ({"host": "127.0.0.1:8765", "authorization": "Basic t0ken"}, 401),
])
def test_http_guard(headers, expected):
    refused = check_request(headers, 8765, "t0ken")
    assert (refused and refused[0]) == expected


def _vault_source(client):
    return next(source for source in client.keys.sources if source.name == "the vault")


def test_the_server_client_reads_the_vault_once_and_again_after_another_process_writes():
    VaultStore().put("openai_api_key", CANARY_KEY)
    client = ToolRunner().client
    url = client.base_url + "/models"
    assert [client.key_for(url).reveal() for _ in range(3)] == [CANARY_KEY] * 3
    assert _vault_source(client).opens == 1
    newer = CANARY_KEY.replace("CANARY0", "CANARY1")
    VaultStore().put("openai_api_key", newer)  # as `openai-skill setup` in another process would
    assert client.key_for(url).reveal() == newer and client.key_for(url).reveal() == newer
    assert _vault_source(client).opens == 2


def test_the_server_client_checks_the_request_origin_against_the_vault_entry():
    # The binding is judged for each request's own URL, not the environment's base URL.
    VaultStore().put("openai_api_key", CANARY_KEY)
    client = ToolRunner().client
    assert client.key_for("https://api.openai.com/v1/models").reveal() == CANARY_KEY
    with pytest.raises(CredentialsError, match="may be sent only to https://api.openai.com"):
        client.key_for("https://elsewhere.example/v1/models")


def test_the_server_client_prefers_the_environment(monkeypatch):
    VaultStore().put("openai_api_key", CANARY_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY.replace("CANARY0", "CANARY2"))
    client = ToolRunner().client
    assert client.key_for(client.base_url).reveal() == CANARY_KEY.replace("CANARY0", "CANARY2")
    assert _vault_source(client).opens == 0


def test_server_start_imports_neither_requests_nor_jsonschema_nor_the_vault():
    # (cryptography itself is loaded by the SDK; our vault modules are not, until a call needs a key)
    code = ("import sys; import openai_skill.surfaces.mcp.server as s; s.build_server(); "
            "print(sorted(m for m in ('requests', 'jsonschema', 'openai_skill.secrets.store', "
            "'openai_skill.secrets.vault_format', 'openai_skill.pipeline') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_core_and_other_commands_never_import_the_sdk():
    code = ("import sys; from openai_skill.surfaces.cli import build_parser; import openai_skill; "
            "build_parser(); openai_skill.tool_definitions('mcp'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'anyio')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_the_mcp_extra_the_command_says_how_to_get_it():
    code = ("import sys; sys.modules['mcp'] = None; sys.modules['mcp_types'] = None; "
            "from openai_skill.surfaces.cli import main; sys.exit(main(['mcp']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("openai-skill: the MCP server needs the mcp extra: pip install 'openai-skill[mcp]'")
    assert "Traceback" not in proc.stderr
