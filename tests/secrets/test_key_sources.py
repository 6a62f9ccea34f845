"""Where the key comes from, checked on the Authorization header actually sent, and the
canary key never showing up anywhere the skill writes."""

import json
import logging

import pytest

import openai_skill as skill
from support.canary import CANARY_KEY
from support.openai_data import MODELS
from support.key_lookup import resolve_api_key


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


def test_which_key_source_wins_explicit_then_environment_then_vault(openai, monkeypatch):
    """Issue 7: one request per combination, judged by the Authorization header that arrived."""
    from openai_skill.secrets.store import VaultStore

    vault_key, env_key, explicit_key = ("sk-from-vault-" + "v" * 24, "sk-from-env-" + "e" * 24,
                                        "sk-explicit-" + "x" * 24)
    VaultStore().put("openai_api_key", vault_key, origin=openai.url)  # setup --base-url
    openai.reply("GET", "/models", MODELS)
    sent = []
    for env, explicit in ((None, None), (env_key, None), (env_key, explicit_key), (None, explicit_key)):
        if env:
            monkeypatch.setenv("OPENAI_API_KEY", env)
        else:
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        skill.invoke("list-models", api_key=explicit)
        sent.append(openai.requests[-1].headers["Authorization"])
    assert sent == [f"Bearer {vault_key}", f"Bearer {env_key}", f"Bearer {explicit_key}", f"Bearer {explicit_key}"]


def test_a_key_from_any_source_is_masked_from_then_on(monkeypatch):
    """Mutation testing: dropping `remember` for environment keys went unnoticed. A key that
    does not look like a key (no sk- prefix) is masked only because it was remembered."""
    from openai_skill.redaction import redact

    odd_key = "fake-canary-not-key-shaped-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", odd_key)
    assert resolve_api_key() == odd_key
    assert odd_key not in redact(f"the server said: {odd_key}")
    assert resolve_api_key("fake-canary-explicit-0123456789") == "fake-canary-explicit-0123456789"
    assert "fake-canary-explicit-0123456789" not in redact("x fake-canary-explicit-0123456789 y")
