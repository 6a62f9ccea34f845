"""ApiRequest is a pure value: the headers it ends up with, whatever the caller passed."""

from __future__ import annotations

import pytest

from openai_skill.errors import InsecureTransportError
from openai_skill.transport.request import USER_AGENT, ApiRequest

URL = "https://api.openai.com/v1/chat/completions"


def test_defaults_and_a_json_body():
    request = ApiRequest("POST", URL, {}, {"a": 1})
    assert request.headers == {"User-Agent": USER_AGENT, "Accept": "application/json",
                               "Content-Type": "application/json"}
    assert request.encoded_body() == b'{"a": 1}'


def test_no_body_no_content_type():
    assert ApiRequest("GET", URL).headers == {"User-Agent": USER_AGENT, "Accept": "application/json"}
    assert ApiRequest("GET", URL).encoded_body() is None


def test_a_caller_cannot_smuggle_an_authorization_header_and_none_means_absent():
    request = ApiRequest("GET", URL, {"authorization": "Bearer sk-other", "Authorization": "x",
                                      "OpenAI-Organization": None, "OpenAI-Project": "proj_1"})
    assert request.headers == {"User-Agent": USER_AGENT, "Accept": "application/json", "OpenAI-Project": "proj_1"}
    assert request.describe()["headers"]["Authorization"] == "Bearer [REDACTED]"


def test_a_callers_header_replaces_the_default_whatever_its_case():
    request = ApiRequest("POST", URL, {"user-agent": "mine/1", "content-type": "application/x-ndjson"}, {"a": 1})
    assert request.headers == {"Accept": "application/json", "user-agent": "mine/1",
                               "content-type": "application/x-ndjson"}


@pytest.mark.parametrize("given", [{}, {"accept": "application/json"}, {"ACCEPT": "*/*"}])
def test_a_stream_accepts_only_event_streams(given):
    request = ApiRequest("POST", URL, given, {"stream": True}, stream=True)
    accepts = {k: v for k, v in request.headers.items() if k.lower() == "accept"}
    assert accepts == {"Accept": "text/event-stream"}


def test_a_request_is_checked_when_built():
    with pytest.raises(InsecureTransportError):
        ApiRequest("GET", "http://api.openai.com/v1/models")
