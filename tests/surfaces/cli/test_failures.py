"""Expected failures through the CLI: the documented exit code, one clear line on stderr,
the error object on stdout with --json, no traceback, and never the key."""

import json
import socket

import pytest

import openai_skill as skill
from support.canary import CANARY_KEY
from support import openai_data
from support.fake_openai import Answer

HI = json.dumps({"messages": openai_data.HI})


def error_body(message, type_, code=None, param=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def run_chat(cli, *extra):
    return cli("--json", "run", "chat-completion", "--input", HI, "--max-retries", "0", *extra)


def assert_clean(result, code):
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert CANARY_KEY not in result.out + result.err
    return result.json()["error"]


def test_missing_key_exit_3_names_both_fixes(api, cli):
    result = cli("--json", "models")
    error = assert_clean(result, 3)
    assert "OPENAI_API_KEY" in result.err and "openai-skill setup" in result.err
    assert error["type"] == "credentials"
    assert len(api.log) == 0


def test_rejected_key_exit_3_redacts_the_echo(openai, key, cli):
    echo = f"Incorrect API key provided: {key[:8]}***{key[-4:]}. You can find your API key at https://platform.openai.com/account/api-keys."
    openai.reply("POST", "/chat/completions", error_body(echo, "invalid_request_error", "invalid_api_key"),
                 status=401)
    result = run_chat(cli)
    error = assert_clean(result, 3)
    assert error["type"] == "authentication" and error["status"] == 401
    assert error["request_id"] == "req_401_chat/completions" and error["code"] == "invalid_api_key"
    assert key[:8] not in result.out + result.err and "[REDACTED]" in result.err


@pytest.mark.parametrize("status, body, kind", [
    (400, error_body("Unsupported parameter: 'max_tokens' is not supported with this model. "
                     "Use 'max_completion_tokens' instead.",
                     "invalid_request_error", "unsupported_parameter", "max_tokens"), "bad_request"),
    (403, error_body("Your organization must be verified to use the model 'gpt-image-1'.", "invalid_request_error"),
     "permission_denied"),
    (404, error_body("The model 'gpt-9' does not exist or you do not have access to it.", "invalid_request_error",
                     "model_not_found", "model"), "not_found"),
    (429, error_body("You exceeded your current quota, please check your plan and billing details.",
                     "insufficient_quota", "insufficient_quota"), "quota_exceeded"),
    (500, error_body("The server had an error while processing your request.", "server_error"), "server_error"),
])
def test_api_errors_exit_4_with_openai_details(openai, key, cli, status, body, kind):
    openai.reply("POST", "/chat/completions", body, status=status)
    error = assert_clean(run_chat(cli), 4)
    assert error["type"] == kind and error["status"] == status
    assert body["error"]["message"] in error["message"]
    assert error["request_id"] == f"req_{status}_chat/completions"


def test_quota_exhausted_is_never_retried(openai, key, cli):
    openai.reply("POST", "/chat/completions", error_body("You exceeded your current quota.", "insufficient_quota",
                                                         "insufficient_quota"), status=429)
    result = cli("run", "chat-completion", "--input", HI, "--max-retries", "2")
    assert result.code == 4 and len(openai.requests) == 1


def test_rate_limit_with_retry_after_then_success(openai, key):
    openai.reply("POST", "/chat/completions", error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
                 status=429, headers={"retry-after-ms": "20"}, once=True)
    openai.reply("POST", "/chat/completions", {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
    assert skill.invoke("chat-completion", json.loads(HI))["content"] == "ok"
    assert len(openai.requests) == 2


def test_server_error_is_retried_then_reported(openai, key, cli):
    openai.reply("POST", "/chat/completions", error_body("boom", "server_error"), status=500,
                 headers={"retry-after-ms": "5"})
    result = cli("run", "chat-completion", "--input", HI, "--max-retries", "2")
    assert result.code == 4 and len(openai.requests) == 3


@pytest.mark.parametrize("body, content_type", [
    ("<html><body>502 Bad Gateway</body></html>", "text/html"),
    ("not json at all", "application/json"),
    ('{"id": "chatcmpl-1", "choices": [', "application/json"),
    ('{"unexpected": true}', "application/json"),
])
def test_unexpected_answers_exit_4(openai, key, cli, body, content_type):
    openai.reply_raw("POST", "/chat/completions", body, status=200, content_type=content_type)
    error = assert_clean(run_chat(cli), 4)
    assert error["type"] == "unexpected_response"


def test_connection_refused_exit_5(key, cli, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    error = assert_clean(run_chat(cli), 5)
    assert error["type"] == "connection"


def test_read_timeout_exit_5(openai, key, cli):
    import threading

    release = threading.Event()

    def slow(request):
        release.wait(60)    # far past the 0.2 s read timeout (released when the test is done)
        return Answer(body=b"{}")

    openai.reply_with("POST", "/chat/completions", slow)
    result = run_chat(cli, "--timeout", "0.2")
    release.set()  # the fake's thread ends now, not 5 s later
    error = assert_clean(result, 5)
    assert error["type"] == "timeout"


def test_plain_http_to_a_remote_host_is_refused_before_connecting(key, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://api.example.invalid/v1")
    result = run_chat(cli)
    error = assert_clean(result, 2)
    assert error["type"] == "insecure_transport" and "https" in result.err


def test_debug_switch_reraises(key, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_DEBUG", "1")
    with pytest.raises(skill.CredentialsError):
        monkeypatch.delenv("OPENAI_API_KEY")
        cli("models")
