"""The HTTP layer against a real server on 127.0.0.1 (pytest-httpserver): headers, retries,
timeouts, the deadline, error mapping, redaction, streaming and downloads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from openai_skill.transport import call as call_module, deadline, http as client, session
from openai_skill.transport.request import ApiRequest
from openai_skill.config import Settings
from openai_skill.errors import (APIConnectionError, APIError, APITimeoutError, AuthenticationError,
                          BadRequestError, CredentialsError, InsecureTransportError,
                          NotFoundError, QuotaExceededError, RateLimitError, ServerError,
                          UnexpectedResponseError)
from openai_skill.actions.chat import accumulate
from openai_skill.transport.download import download
from openai_skill.transport import body as body_module

from support.canary import CANARY_KEY
from support.openai_data import MODELS, sse
from openai_skill.secret import Secret

SECRET = Secret(CANARY_KEY, "the test")  # what a key source hands the transport

CHAT_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
QUOTA = {"error": {"message": "You exceeded your current quota, please check your plan and "
                              "billing details.", "type": "insufficient_quota", "param": None,
                   "code": "insufficient_quota"}}
HTML_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")


@pytest.fixture
def slept(monkeypatch):
    """Record the waits instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(call_module, "_sleep", waits.append)
    return waits


def settings(**overrides) -> Settings:
    return Settings.from_env(**overrides)


def get(path="/models", **kw) -> ApiRequest:
    return ApiRequest("GET", settings().base_url + path, **kw)


def post(path="/chat/completions", body=None, **kw) -> ApiRequest:
    return ApiRequest("POST", settings().base_url + path, body=body or CHAT_BODY, **kw)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_key(error: Exception):
    for text in (str(error), repr(error), json.dumps(getattr(error, "to_dict", dict)())):
        assert CANARY_KEY not in text
        assert "CANARY" not in text


# --- a successful call --------------------------------------------------------------------


def test_send_sends_bearer_key_org_project_and_json_and_returns_the_object(api, slept):
    api.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {"id": "chatcmpl-1", "object": "chat.completion"}, headers={"x-request-id": "req_123"})
    request = post(headers={"OpenAI-Organization": "org-1", "OpenAI-Project": "proj_1",
                            "User-Agent": "openai-skill/test"})

    response = client.send(request, SECRET, settings())

    assert response == client.ApiResponse(200, response.headers,
                                           {"id": "chatcmpl-1", "object": "chat.completion"},
                                           "req_123")
    assert response.headers["x-request-id"] == "req_123"
    (sent, _), = api.log
    assert sent.headers["Authorization"] == f"Bearer {CANARY_KEY}"
    assert sent.headers["OpenAI-Organization"] == "org-1"
    assert sent.headers["OpenAI-Project"] == "proj_1"
    assert sent.headers["User-Agent"] == "openai-skill/test"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.get_json() == CHAT_BODY
    assert slept == []


def test_get_has_no_body_and_the_default_user_agent(api):
    api.expect_request("/v1/models", method="GET").respond_with_json(MODELS)
    assert client.send(get(), SECRET, settings()).data == MODELS
    (sent, _), = api.log
    assert sent.data == b""
    assert sent.headers["User-Agent"].startswith("openai-skill/")
    assert "Content-Type" not in sent.headers


def test_a_netrc_entry_does_not_replace_the_bearer_key(api, isolated):
    netrc = isolated / "home" / ".netrc"
    netrc.write_text("machine localhost login someone password hunter22\n"
                     "machine 127.0.0.1 login someone password hunter22\n")
    netrc.chmod(0o600)
    api.expect_request("/v1/models").respond_with_json(MODELS)
    client.send(get(), SECRET, settings())
    assert api.log[0][0].headers["Authorization"] == f"Bearer {CANARY_KEY}"


def test_one_session_is_reused_across_calls(api):
    api.expect_request("/v1/models").respond_with_json(MODELS)
    client.send(get(), SECRET, settings())
    first = session.session_for(api.url_for("/"))
    client.send(get(), SECRET, settings())
    assert session.session_for(api.url_for("/")) is first
    assert len(api.log) == 2


def test_importing_the_client_does_not_import_requests():
    code = "import sys, openai_skill.transport.http; sys.exit('requests' in sys.modules)"
    # The installed package, run from elsewhere: neither the checkout nor tests/ on the path.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert subprocess.run([sys.executable, "-c", code], env=env, cwd=Path.home()).returncode == 0


# --- retries ------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_once_after_that_wait(api, slept):
    api.expect_oneshot_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "Rate limit reached", "type": "requests",
                   "code": "rate_limit_exceeded", "param": None}},
        status=429, headers={"Retry-After": "3"})
    api.expect_request("/v1/chat/completions").respond_with_json({"id": "ok"})

    assert client.send(post(), SECRET, settings()).data == {"id": "ok"}
    assert len(api.log) == 2
    assert slept == [3.0]


def test_retry_after_ms_wins(api, slept):
    api.expect_oneshot_request("/v1/models").respond_with_data(
        "", status=503, headers={"retry-after-ms": "250", "retry-after": "9"})
    api.expect_request("/v1/models").respond_with_json(MODELS)
    client.send(get(), SECRET, settings())
    assert slept == [0.25]


def test_429_insufficient_quota_is_not_retried(api, slept):
    api.expect_request("/v1/chat/completions").respond_with_json(
        QUOTA, status=429, headers={"x-request-id": "req_quota", "Retry-After": "1"})

    with pytest.raises(QuotaExceededError) as caught:
        client.send(post(), SECRET, settings())

    error = caught.value
    assert len(api.log) == 1 and slept == []
    assert isinstance(error, RateLimitError)
    assert (error.status, error.request_id, error.code, error.api_type) == (
        429, "req_quota", "insufficient_quota", "insufficient_quota")
    assert "You exceeded your current quota" in error.message
    assert "HTTP 429" in error.message


def test_500_is_retried_then_raised_after_max_retries_plus_one_attempts(api, slept):
    api.expect_request("/v1/models").respond_with_json(
        {"error": {"message": "The server had an error", "type": "server_error",
                   "param": None, "code": None}}, status=500, headers={"x-request-id": "req_5"})

    with pytest.raises(ServerError) as caught:
        client.send(get(), SECRET, settings())

    assert len(api.log) == 3
    assert len(slept) == 2
    assert 0.375 <= slept[0] <= 0.5 and 0.75 <= slept[1] <= 1.0
    assert caught.value.status == 500 and caught.value.request_id == "req_5"
    assert caught.value.message == "HTTP 500 from " + api.host + f":{api.port}: " \
                                   "The server had an error"


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_max_retries_is_the_number_of_extra_attempts(api, slept, retries):
    api.expect_request("/v1/models").respond_with_data("busy", status=503)
    with pytest.raises(ServerError):
        client.send(get(), SECRET, settings(max_retries=retries))
    assert len(api.log) == retries + 1
    assert len(slept) == retries


def test_max_retries_from_the_environment(api, slept, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_MAX_RETRIES", "0")
    api.expect_request("/v1/models").respond_with_data("busy", status=503)
    with pytest.raises(ServerError):
        client.send(get(), SECRET, Settings.from_env())
    assert len(api.log) == 1


def test_x_should_retry_false_stops_a_retryable_status(api, slept):
    api.expect_request("/v1/models").respond_with_data(
        "busy", status=503, headers={"x-should-retry": "false"})
    with pytest.raises(ServerError):
        client.send(get(), SECRET, settings())
    assert len(api.log) == 1


@pytest.mark.parametrize("status, error_class", [
    (400, BadRequestError), (422, BadRequestError), (404, NotFoundError),
])
def test_other_4xx_are_not_retried_and_carry_type_code_param(api, slept, status, error_class):
    api.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                              "model. Use 'max_completion_tokens' instead.",
                   "type": "invalid_request_error", "param": "max_tokens",
                   "code": "unsupported_parameter"}}, status=status)
    with pytest.raises(error_class) as caught:
        client.send(post(), SECRET, settings())
    assert len(api.log) == 1 and slept == []
    error = caught.value
    assert (error.status, error.api_type, error.param, error.code) == (
        status, "invalid_request_error", "max_tokens", "unsupported_parameter")
    assert "Use 'max_completion_tokens' instead." in error.message


def broken_body(prefix: bytes, content_type="application/json"):
    """A handler whose body breaks off before the announced length (the connection drops)."""
    def body():
        yield prefix
        raise ConnectionAbortedError("simulated drop")  # werkzeug closes the connection
    return lambda request: Response(body(), content_type=content_type,
                                    headers={"Content-Length": str(len(prefix) + 100)})


def test_a_connection_broken_mid_body_is_retried(api, slept):
    api.expect_oneshot_request("/v1/models").respond_with_handler(broken_body(b'{"object": '))
    api.expect_request("/v1/models").respond_with_json(MODELS)
    assert client.send(get(), SECRET, settings()).data == MODELS
    assert len(api.log) == 2 and len(slept) == 1


def test_a_connection_broken_mid_body_every_time_is_a_connection_error(api, slept):
    api.expect_request("/v1/models").respond_with_handler(broken_body(b'{"object": '))
    with pytest.raises(APIConnectionError, match="broke mid-response"):
        client.send(get(), SECRET, settings(max_retries=1))
    assert len(api.log) == 2


# --- timeouts, connections, the deadline --------------------------------------------------


@pytest.fixture
def slow_api(monkeypatch):
    """A threaded loopback server of its own, for handlers that stall: the shared `api` server
    handles one request at a time, so a stalled handler would delay (and leak requests into)
    the tests after it. Yields (server, slow) where slow(seconds) makes a stalling handler that
    is released when the test ends."""
    release = threading.Event()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url_for("/v1"))

    def slow(seconds, payload=MODELS):
        def handler(request):
            release.wait(seconds)
            return Response(json.dumps(payload), content_type="application/json")
        return handler

    yield server, slow
    release.set()
    server.clear()
    server.stop()


def test_read_timeout_raises_api_timeout_error(slow_api, slept):
    api, slow = slow_api
    api.expect_request("/v1/models").respond_with_handler(slow(60))
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        client.send(get(), SECRET, settings(read_timeout=0.15, max_retries=0))
    # The server stalls for 60 s: ending well before that proves the timeout fired, with a
    # margin a slow CI machine cannot eat (the message pins which timeout it was).
    assert time.monotonic() - started < 20
    assert "0.15 s read timeout" in caught.value.message
    assert caught.value.exit_code == 5


def test_a_read_timeout_is_retried(slow_api, slept):
    api, slow = slow_api
    api.expect_oneshot_request("/v1/models").respond_with_handler(slow(0.5))
    api.expect_request("/v1/models").respond_with_json(MODELS)
    response = client.send(get(), SECRET, settings(read_timeout=0.15, max_retries=1))
    assert response.data == MODELS and len(slept) == 1


def test_connection_refused_is_retried_then_raises_api_connection_error(slept):
    url = f"http://127.0.0.1:{closed_port()}/v1/models"
    with pytest.raises(APIConnectionError) as caught:
        client.send(ApiRequest("GET", url), SECRET, settings())
    assert len(slept) == 2
    message = caught.value.message
    assert message.startswith(f"could not connect to 127.0.0.1:{url.split(':')[2].split('/')[0]}")
    assert "Connection refused" in message
    assert "object at 0x" not in message and "Max retries" not in message


def test_deadline_refuses_a_wait_that_would_pass_it(api, slept):
    api.expect_request("/v1/models").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "5"})
    with pytest.raises(APITimeoutError) as caught:
        client.send(get(), SECRET, settings(deadline=1.0))
    assert len(api.log) == 1 and slept == []
    assert "1 s deadline" in caught.value.message
    assert isinstance(caught.value.__cause__, RateLimitError)


def test_deadline_bounds_a_slow_answer_below_the_read_timeout(slow_api, slept):
    api, slow = slow_api
    api.expect_request("/v1/models").respond_with_handler(slow(60))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        client.send(get(), SECRET, settings(deadline=0.2, read_timeout=30))
    assert time.monotonic() - started < 20  # neither the 60 s stall nor the 30 s read timeout


def test_deadline_counts_the_waits_between_attempts(api, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(deadline, "_clock", lambda: now[0])
    monkeypatch.setattr(call_module, "_sleep", lambda s: now.__setitem__(0, now[0] + s))
    api.expect_request("/v1/models").respond_with_data(
        "busy", status=503, headers={"Retry-After": "2"})
    with pytest.raises(APITimeoutError):
        client.send(get(), SECRET, settings(deadline=5, max_retries=10))
    assert len(api.log) == 3   # waits at 0 s and 2 s fit in 5 s; the third one (to 6 s) does not


# --- what came back -----------------------------------------------------------------------


def test_html_502_becomes_a_clean_server_error(api, slept):
    api.expect_request("/v1/models").respond_with_data(
        HTML_502, status=502, content_type="text/html", headers={"x-request-id": "req_gw"})
    with pytest.raises(ServerError) as caught:
        client.send(get(), SECRET, settings(max_retries=0))
    error = caught.value
    assert error.message == (f"HTTP 502 from {api.host}:{api.port}: the body is not JSON "
                             "(text/html): 502 Bad Gateway 502 Bad Gateway nginx")
    assert error.status == 502 and error.request_id == "req_gw"


def test_a_long_non_json_error_body_is_truncated(api):
    api.expect_request("/v1/models").respond_with_data("x" * 100_000, status=418)
    with pytest.raises(APIError) as caught:
        client.send(get(), SECRET, settings())
    assert type(caught.value) is APIError and len(caught.value.message) < 300


@pytest.mark.parametrize("body, content_type, words", [
    ("<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>", "text/html",
     "non-JSON body (text/html): Sign in"),
    ("\x00\x01garbage\xff", "application/octet-stream", "non-JSON body"),
    ('{"object": "list", "data": [{"id": "gpt-4o', "application/json",
     "truncated or invalid JSON"),
    ('[{"id": "gpt-4o"}]', "application/json", "expected a JSON object, got JSON list"),
    ("", "application/json", "expected a JSON object, got an empty body"),
])
def test_2xx_that_is_not_a_json_object_is_an_unexpected_response(api, slept, body,
                                                                  content_type, words):
    api.expect_request("/v1/models").respond_with_data(
        body, status=200, content_type=content_type, headers={"x-request-id": "req_odd"})
    with pytest.raises(UnexpectedResponseError) as caught:
        client.send(get(), SECRET, settings())
    assert words in caught.value.message
    assert caught.value.status == 200 and caught.value.request_id == "req_odd"
    assert len(api.log) == 1 and slept == []
    assert caught.value.exit_code == 4


def test_a_redirect_is_not_followed_with_the_key(api):
    api.expect_request("/v1/models").respond_with_data(
        "", status=307, headers={"Location": "https://elsewhere.example/v1/models?x=1"})
    with pytest.raises(UnexpectedResponseError) as caught:
        client.send(get(), SECRET, settings())
    assert "redirected to https://elsewhere.example/v1/models" in caught.value.message
    assert len(api.log) == 1


def test_a_401_echoing_the_key_is_redacted(api):
    echoed = f"Incorrect API key provided: {CANARY_KEY[:8]}***{CANARY_KEY[-4:]}. Full: {CANARY_KEY}"
    api.expect_request("/v1/models").respond_with_json(
        {"error": {"message": echoed, "type": "invalid_request_error", "param": None,
                   "code": "invalid_api_key"}}, status=401, headers={"x-request-id": "req_401"})
    with pytest.raises(AuthenticationError) as caught:
        client.send(get(), SECRET, settings())
    assert_no_key(caught.value)
    assert "Incorrect API key provided: [REDACTED]" in caught.value.message
    assert caught.value.exit_code == 3 and caught.value.code == "invalid_api_key"


def test_a_gateway_page_echoing_a_key_is_redacted(api):
    api.expect_request("/v1/models").respond_with_data(
        f"<html><body>bad header Authorization: Bearer {CANARY_KEY}</body></html>",
        status=400, content_type="text/html")
    with pytest.raises(BadRequestError) as caught:
        client.send(get(), SECRET, settings())
    assert_no_key(caught.value)


def test_a_key_with_a_newline_inside_is_refused_before_sending(api):
    from openai_skill.client import Client

    broken = CANARY_KEY[:12] + "\n" + CANARY_KEY[12:]
    with pytest.raises(CredentialsError) as caught:
        Client(api_key=broken, base_url=api.url_for("/v1")).invoke("list-models", {})
    assert_no_key(caught.value)
    assert broken not in str(caught.value) and CANARY_KEY[12:] not in str(caught.value)
    assert api.log == []


def test_plain_http_off_loopback_is_refused_before_any_connection(monkeypatch):
    def no_network(self, url):
        raise AssertionError("a connection was attempted")
    monkeypatch.setattr(session.Sessions, "for_url", no_network)
    with pytest.raises(InsecureTransportError):
        ApiRequest("GET", "http://api.example.com/v1/models")
    with pytest.raises(InsecureTransportError):
        download("http://images.example.com/a.png", settings())


# --- streaming ----------------------------------------------------------------------------

CHUNK = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
         "model": "gpt-4o-mini"}
USAGE = {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}


def delta(content=None, finish=None, role=None):
    d = {k: v for k, v in (("role", role), ("content", content)) if v is not None}
    return {**CHUNK, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def event_stream(text, **headers):
    return Response(text, content_type="text/event-stream", headers=headers)


def test_stream_yields_chunks_until_done_and_accumulates_with_usage(api, slept):
    events = [delta("", role="assistant"), delta("Hel"), delta("lo"), delta(finish="stop"),
              {**CHUNK, "choices": [], "usage": USAGE}]
    api.expect_request("/v1/chat/completions", method="POST").respond_with_response(
        event_stream(": keep-alive\n\n" + sse(*events), **{"x-request-id": "req_s"}))

    response = client.stream(post(body={**CHAT_BODY, "stream": True}), SECRET, settings())
    chunks = list(response)

    assert response.request_id == "req_s"
    assert chunks == events
    result = accumulate(chunks)
    assert result["choices"][0]["message"]["content"] == "Hello"
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"] == USAGE
    sent = api.log[0][0]
    assert sent.headers["Accept"] == "text/event-stream"
    assert sent.headers["Authorization"] == f"Bearer {CANARY_KEY}"


def test_stream_arrives_in_pieces(api):
    def handler(request):
        text = sse(delta("a"), delta("b"))
        return Response((text[i:i + 7] for i in range(0, len(text), 7)),
                        content_type="text/event-stream")
    api.expect_request("/v1/chat/completions").respond_with_handler(handler)
    with client.stream(post(), SECRET, settings()) as response:
        assert [c["choices"][0]["delta"]["content"] for c in response] == ["a", "b"]


def test_stream_yields_each_event_as_it_arrives(api):
    """The text must reach the caller while the server is still sending (the `api` server
    answers HTTP/1.0 without chunking, the harder case)."""
    go_on = threading.Event()
    released_by_the_reader = []

    def handler(request):
        def body():
            yield sse(delta("first"), done=False)
            # The second event is sent only once the caller has the first: had the client
            # buffered the whole body, this wait would time out (False) instead.
            released_by_the_reader.append(go_on.wait(30))
            yield sse(delta("second"))
        return Response(body(), content_type="text/event-stream")

    api.expect_request("/v1/chat/completions").respond_with_handler(handler)
    received = []
    for chunk in client.stream(post(), SECRET, settings()):
        received.append(chunk["choices"][0]["delta"]["content"])
        go_on.set()
    assert received == ["first", "second"]
    assert released_by_the_reader == [True]


def test_mid_stream_error_is_raised_after_the_chunks_before_it(api):
    error = {"error": {"message": "The server had an error while processing your request.",
                       "type": "server_error", "param": None, "code": None}}
    api.expect_request("/v1/chat/completions").respond_with_response(
        event_stream(sse(delta("par"), error), **{"x-request-id": "req_mid"}))
    received = []
    with pytest.raises(ServerError) as caught:
        for chunk in client.stream(post(), SECRET, settings()):
            received.append(chunk)
    assert received == [delta("par")]
    assert caught.value.request_id == "req_mid"
    assert caught.value.api_type == "server_error"
    assert "The server had an error" in caught.value.message


def test_stream_is_retried_before_it_starts(api, slept):
    api.expect_oneshot_request("/v1/chat/completions").respond_with_data(
        "busy", status=503, headers={"retry-after": "1"})
    api.expect_request("/v1/chat/completions").respond_with_response(
        event_stream(sse(delta("ok"))))
    assert len(list(client.stream(post(), SECRET, settings()))) == 1
    assert slept == [1.0] and len(api.log) == 2


def test_stream_quota_error_before_start_is_not_retried(api, slept):
    api.expect_request("/v1/chat/completions").respond_with_json(QUOTA, status=429)
    with pytest.raises(QuotaExceededError):
        client.stream(post(), SECRET, settings())
    assert len(api.log) == 1 and slept == []


def test_stream_connection_broken_mid_way_is_a_connection_error_not_retried(api, slept):
    head = sse(delta("par"), done=False).encode()
    api.expect_request("/v1/chat/completions").respond_with_handler(
        broken_body(head, "text/event-stream"))
    received = []
    with pytest.raises(APIConnectionError):
        for chunk in client.stream(post(), SECRET, settings()):
            received.append(chunk)
    assert received == [delta("par")]
    assert len(api.log) == 1 and slept == []


def test_stream_cut_before_done_is_unexpected(api):
    api.expect_request("/v1/chat/completions").respond_with_response(
        event_stream(sse(delta("half"), done=False)))
    with pytest.raises(UnexpectedResponseError, match="ended before \\[DONE\\]"):
        list(client.stream(post(), SECRET, settings()))


def test_stream_with_a_broken_event_is_unexpected(api):
    api.expect_request("/v1/chat/completions").respond_with_response(
        event_stream('data: {"id": "chatcmpl-9", "choi\n\n'))
    with pytest.raises(UnexpectedResponseError, match="is not JSON"):
        list(client.stream(post(), SECRET, settings()))


def test_stream_answered_with_html_is_unexpected(api):
    api.expect_request("/v1/chat/completions").respond_with_data(
        "<html><body>Login</body></html>", content_type="text/html")
    with pytest.raises(UnexpectedResponseError, match="non-JSON body \\(text/html\\): Login"):
        client.stream(post(), SECRET, settings())


def test_stream_answered_with_a_json_error_object_raises_it(api):
    api.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "Rate limit", "type": "rate_limit_error", "code": None}})
    with pytest.raises(RateLimitError):
        client.stream(post(), SECRET, settings())


# --- downloads ----------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_download_returns_bytes_and_media_type_without_authorization(api, isolated):
    netrc = isolated / "home" / ".netrc"
    netrc.write_text("machine localhost login a password b\nmachine 127.0.0.1 login a password b\n")
    netrc.chmod(0o600)
    api.expect_request("/img.png").respond_with_data(PNG, content_type="image/png")
    body, media_type = download(api.url_for("/img.png?sig=secret"), settings())
    assert (body, media_type) == (PNG, "image/png")
    sent = api.log[0][0]
    assert "Authorization" not in sent.headers
    assert sent.args["sig"] == "secret"


def test_download_follows_a_redirect_on_loopback(api):
    api.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/new"})
    api.expect_request("/new").respond_with_data(PNG, content_type="image/png")
    assert download(api.url_for("/old"), settings())[0] == PNG


def test_download_refuses_a_redirect_to_plain_http_elsewhere(api):
    api.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": "http://images.example.com/a.png"})
    with pytest.raises(InsecureTransportError, match="refusing to download"):
        download(api.url_for("/old"), settings())
    assert len(api.log) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_download_cap(api, chunked):
    body = b"x" * 5000
    if chunked:  # no Content-Length: the cap is enforced while reading
        api.expect_request("/big").respond_with_handler(
            lambda r: Response(body[i:i + 1000] for i in range(0, 5000, 1000)))
    else:
        api.expect_request("/big").respond_with_data(body)
    with pytest.raises(UnexpectedResponseError, match="larger than"):
        download(api.url_for("/big"), settings(), max_bytes=4096)
    assert download(api.url_for("/big"), settings(), max_bytes=5000)[0] == body
    assert body_module.MAX_DOWNLOAD_BYTES == 64 * 1024 * 1024


def test_download_of_an_expired_url_says_so(api, slept):
    api.expect_request("/gone.png").respond_with_data(
        "<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code></Error>",
        status=403, content_type="application/xml")
    with pytest.raises(APIError) as caught:
        download(api.url_for("/gone.png?sig=secret"), settings())
    assert "expire 60 minutes" in caught.value.message
    assert "AuthenticationFailed" in caught.value.message
    assert "secret" not in caught.value.message


def test_public_api_is_pinned():
    assert sorted(client.__all__) == ["ApiResponse", "StreamResponse", "send", "stream"]
