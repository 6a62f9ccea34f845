"""Transport failures that used to escape as tracebacks or leak a signed URL's query, and
stream answers that are malformed or end in a quota error: each becomes our own error."""

from __future__ import annotations

import json
import socket

import pytest
from werkzeug import Response

import openai_skill
from openai_skill.config import Settings
from openai_skill.errors import (APIConnectionError, QuotaExceededError,
                                 UnexpectedResponseError)
from openai_skill.transport.download import download

from support.canary import CANARY_KEY
from support.misbehaving import RawServer, self_signed_context

HI = {"messages": [{"role": "user", "content": "hi"}]}
CHUNK = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
         "model": "gpt-4o-mini"}


@pytest.fixture
def tls_server(tmp_path):
    server = RawServer(lambda conn, head, stop: None, tls=self_signed_context(tmp_path))
    yield server
    server.close()


def test_a_self_signed_api_server_is_a_connection_error_not_a_traceback(tls_server):
    with pytest.raises(APIConnectionError) as caught:
        openai_skill.invoke("list-models", {}, api_key=CANARY_KEY,
                            base_url=tls_server.url(scheme="https"))
    message = caught.value.message
    assert message.startswith(f"TLS failed with 127.0.0.1:{tls_server.port}: ")
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert tls_server.accepted == 1  # a TLS failure is not retried
    assert CANARY_KEY not in message


def test_the_cli_reports_a_tls_failure_with_exit_5(tls_server, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", tls_server.url(scheme="https"))
    result = cli("models", "--json")
    assert result.code == 5
    assert result.json()["error"]["error"] == "APIConnectionError"
    assert "Traceback" not in result.err


def test_a_tls_failure_on_a_signed_image_url_does_not_print_its_query(tls_server):
    settings = Settings.from_env(base_url=tls_server.url(scheme="https"), max_retries=0)
    with pytest.raises(APIConnectionError) as caught:
        download(tls_server.url("/img.png?sig=s3cr3t-token&se=2030", scheme="https"), settings)
    assert "s3cr3t" not in str(caught.value) and "sig=" not in str(caught.value)


def test_a_refused_download_connection_does_not_print_the_query():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.from_env(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(APIConnectionError) as caught:
        download(f"http://127.0.0.1:{port}/img.png?sig=s3cr3t-token", settings)
    assert "s3cr3t" not in caught.value.message and "sig=" not in caught.value.message
    assert f"127.0.0.1:{port}" in caught.value.message


def stream_of(*events) -> Response:
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return Response(text, content_type="text/event-stream")


def test_a_mid_stream_insufficient_quota_is_a_quota_error_and_not_retried(api):
    quota = {"error": {"message": "You exceeded your current quota, please check your plan and "
                                  "billing details.", "type": "insufficient_quota",
                       "param": None, "code": "insufficient_quota"}}
    first = {**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"},
                                   "finish_reason": None}]}
    api.expect_request("/v1/chat/completions").respond_with_response(stream_of(first, quota))
    seen = []
    with pytest.raises(QuotaExceededError) as caught:
        openai_skill.invoke("chat-completion", {**HI, "stream": True}, api_key=CANARY_KEY,
                            on_text=seen.append)
    assert seen == ["Hel"]
    assert caught.value.code == "insufficient_quota"
    assert "You exceeded your current quota" in caught.value.message
    assert len(api.log) == 1


@pytest.mark.parametrize("choices, where", [
    (5, "choices is int"),
    ("abc", "choices is str"),
    ([5], "choices[0] is int"),
    ([{"index": "0", "delta": {"content": "x"}}], "choices[0].index is str"),
    ([{"index": 0, "delta": "text"}], "choices[0].delta is str"),
    ([{"index": 0, "delta": {"content": 5}}], "delta.content is int"),
    ([{"index": 0, "delta": {"content": ["a"]}}], "delta.content is list"),
    ([{"index": 0, "delta": {"role": 1}}], "delta.role is int"),
    ([{"index": 0, "delta": {"tool_calls": {"a": 1}}}], "delta.tool_calls is dict"),
    ([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": "f"}]}}],
     "tool_calls[0].function is str"),
    ([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 3}}]}}],
     "function.arguments is int"),
    ([{"index": 0, "delta": {"function_call": {"name": []}}}], "function_call.name is list"),
    ([{"index": 0, "delta": {}, "logprobs": {"content": 7}}], "logprobs.content is int"),
    ([{"index": 0, "delta": {}, "finish_reason": 1}], "finish_reason is int"),
])
def test_a_malformed_stream_chunk_is_an_unexpected_response(api, choices, where):
    api.expect_request("/v1/chat/completions").respond_with_response(
        stream_of({**CHUNK, "choices": choices}))
    with pytest.raises(UnexpectedResponseError) as caught:
        openai_skill.invoke("chat-completion", {**HI, "stream": True}, api_key=CANARY_KEY,
                            on_text=lambda piece: None)
    assert where in caught.value.message


def test_a_well_formed_stream_still_folds(api):
    parts = [{**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": c},
                                    "finish_reason": None}]} for c in ("Hel", "lo")]
    done = {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    api.expect_request("/v1/chat/completions").respond_with_response(stream_of(*parts, done))
    result = openai_skill.invoke("chat-completion", {**HI, "stream": True}, api_key=CANARY_KEY)
    assert (result["content"], result["finish_reason"]) == ("Hello", "stop")
