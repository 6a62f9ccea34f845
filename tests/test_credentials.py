"""Where the key comes from, checked on the Authorization header actually sent, and the
canary key never showing up anywhere the skill writes."""

import json
import logging

import pytest

import openai_skill as skill
from conftest import CANARY_KEY
from openai_skill.secrets.keys import resolve_api_key

MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "system"}]}


def sent_key(openai):
    (request,) = openai.requests
    return request.headers["Authorization"].removeprefix("Bearer ")


def test_explicit_argument_wins(openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000")
    openai.reply("GET", "/models", MODELS)
    skill.invoke("list-models", api_key="sk-explicit-1111")
    assert sent_key(openai) == "sk-explicit-1111"


def test_environment_variable(openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000")
    openai.reply("GET", "/models", MODELS)
    skill.invoke("list-models")
    assert sent_key(openai) == "sk-from-env-0000"


def test_surrounding_whitespace_is_trimmed(openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "  sk-from-env-0000\n")
    openai.reply("GET", "/models", MODELS)
    skill.invoke("list-models")
    assert sent_key(openai) == "sk-from-env-0000"


def test_key_with_inner_whitespace_is_refused_without_echo(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bad key-value")
    with pytest.raises(skill.CredentialsError) as info:
        resolve_api_key()
    assert "malformed" in str(info.value) and "bad key" not in str(info.value)


def test_missing_everywhere():
    with pytest.raises(skill.CredentialsError) as info:
        resolve_api_key()
    assert "OPENAI_API_KEY" in info.value.message and "openai-skill setup" in info.value.message


def test_organization_and_project_headers(openai, key, monkeypatch):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_456")
    openai.reply("GET", "/models", MODELS)
    skill.invoke("list-models")
    (request,) = openai.requests
    assert request.headers["OpenAI-Organization"] == "org-123"
    assert request.headers["OpenAI-Project"] == "proj_456"


def test_canary_never_leaks(openai, key, cli, caplog, tmp_path):
    """Success, dry run, API error echoing the key, and exceptions: the canary is nowhere."""
    caplog.set_level(logging.DEBUG)
    openai.reply("GET", "/models", MODELS)
    openai.reply("POST", "/chat/completions", {"error": {
        "message": f"Incorrect API key provided: {CANARY_KEY}. Also sk-abc***wxyz.", "type": "invalid_request_error",
        "param": None, "code": "invalid_api_key"}}, status=401)
    seen = []
    for args in (["models"], ["--json", "run", "chat-completion", "--input",
                              json.dumps({"messages": [{"role": "user", "content": "hi"}]})],
                 ["run", "list-models", "--dry-run"], ["chat", "hi", "--dry-run"]):
        result = cli(*args)
        seen += [result.out, result.err]
    with pytest.raises(skill.AuthenticationError) as info:
        skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})
    seen += [str(info.value), repr(info.value), json.dumps(info.value.to_dict()), caplog.text]
    blob = "\n".join(seen)
    assert CANARY_KEY not in blob and CANARY_KEY[8:30] not in blob and "sk-abc***" not in blob
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CANARY_KEY.encode() not in path.read_bytes(), path
