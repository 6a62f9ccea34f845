"""`openai-skill doctor`: the key's source (never its value), the base URL and whether a stored
key may go there, whether the API answers, each action's default model with its date, and
every problem with its fix; exit 0 only when all is well, `--json` for agents."""

import json

import pytest

from support.canary import CANARY_KEY
from contract.spec import load_fixture
from openai_skill.lifecycle import learned
from openai_skill.urls import origin_of
from support.openai_data import MODELS
from support.lifecycle import entry


def doctor(cli, *args):
    result = cli("doctor", "--json", *args)
    assert CANARY_KEY not in result.out + result.err
    return result, json.loads(result.out)


def test_all_good(openai, key, cli):
    openai.reply("GET", "/models", MODELS)
    result, report = doctor(cli)
    assert result.code == 0, report["problems"]
    assert report["ok"] is True and report["problems"] == []
    assert report["key"] == {"source": "OPENAI_API_KEY"}
    assert report["base_url"] == openai.url
    assert report["origin"] == origin_of(openai.url)
    assert report["api"] == {"answered": True, "models": 4, "request_id": "req_200_models"}
    assert report["defaults"] == {
        "chat-completion": {"model": "gpt-4o-mini", "chosen_by": "default", "shutdown_date": "2027-01-14",
                            "then": "gpt-6-luna"},
        "generate-image": {"model": "gpt-image-2", "chosen_by": "default", "shutdown_date": None},
        "create-embedding": {"model": "text-embedding-3-small", "chosen_by": "default", "shutdown_date": None}}
    assert report["lifecycle"]["checked"] == "2026-12-02" and report["lifecycle"]["origin_list_seen"]
    # the one models call refreshed this origin's lifecycle cache
    assert learned.load(report["origin"]).says("gpt-4o-mini")[0] is True
    human = cli("doctor")
    assert human.code == 0 and human.out.endswith("all good\n")
    assert "chat-completion   gpt-4o-mini (the skill's default; until 2027-01-14, then gpt-6-luna)" in human.out


def test_no_key_is_exit_3_with_the_fix(cli):
    result, report = doctor(cli, "--offline")
    assert result.code == 3 and report["ok"] is False
    assert report["key"] == {"source": None}
    assert report["problems"] == [{"problem": "no OpenAI API key found",
                                   "fix": "run `openai-skill setup` in a terminal (or set OPENAI_API_KEY)"}]
    assert "api" not in report  # --offline: nothing was asked


def test_a_stored_key_bound_elsewhere_names_allow_origin(cli, openai, monkeypatch):
    assert cli("setup", "--base-url", "https://api.openai.com/v1", stdin=CANARY_KEY).code == 0
    origin = origin_of(openai.url)
    result, report = doctor(cli)
    assert result.code == 3
    assert report["key"] == {"source": "the vault", "allowed_origins": ["https://api.openai.com"]}
    (first, *_rest) = report["problems"]
    assert origin in first["problem"]
    assert first["fix"].startswith(f"`openai-skill vault allow-origin openai_api_key {origin}`")
    assert openai.requests == []  # the key never went to the origin it is not allowed to


def test_a_rejected_key_is_exit_3(openai, key, cli):
    openai.reply("GET", "/models", load_fixture("error-401-invalid-api-key.json"), status=401)
    result, report = doctor(cli)
    assert result.code == 3 and report["api"]["answered"] is False
    assert report["problems"][0]["fix"].startswith("the key was rejected: store a valid one with `openai-skill setup`")


def test_an_unreachable_api_is_exit_5(key, cli, monkeypatch):
    import socket

    with socket.socket() as sock:   # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_SKILL_MAX_RETRIES", "0")
    result, report = doctor(cli)
    assert result.code == 5 and "`--offline` skips this check" in report["problems"][0]["fix"]
    assert doctor(cli, "--offline")[0].code == 0


def test_a_refused_base_url_is_exit_2(key, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://api.example.com/v1")  # the key in clear text
    result, report = doctor(cli)
    assert result.code == 2 and "set OPENAI_BASE_URL" in report["problems"][0]["fix"]


def test_a_retired_default_setting_and_a_default_the_server_lacks(openai, key, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_IMAGE_MODEL", "dall-e-3")
    monkeypatch.setenv("OPENAI_SKILL_CHAT_MODEL", "gpt-5-mini")
    openai.reply("GET", "/models", {"object": "list", "data": [entry("gpt-5-mini", "2026-12-11"),
                                                               entry("gpt-image-2")]})
    result, report = doctor(cli)
    assert result.code == 2
    problems = [p["problem"] for p in report["problems"]]
    assert problems[0].startswith("OPENAI_SKILL_IMAGE_MODEL: dall-e-3 was shut down on 2026-05-12; use gpt-image-2")
    assert "create-embedding: text-embedding-3-small is not in this server's model list" in problems
    assert report["defaults"]["chat-completion"] == {"model": "gpt-5-mini", "chosen_by": "OPENAI_SKILL_CHAT_MODEL",
                                                     "shutdown_date": "2026-12-11"}
    assert report["warnings"] == ["gpt-5-mini (from OPENAI_SKILL_CHAT_MODEL) shuts down on 2026-12-11 (in 9 days, "
                                  "per this server's model list); use gpt-6.1-terra before then"]
    human = cli("doctor")
    assert "problems:\n  - OPENAI_SKILL_IMAGE_MODEL: dall-e-3" in human.out and "    fix: set" in human.out


@pytest.mark.parametrize("flag", ["--json", None])
def test_the_help_lists_doctor(cli, flag):
    result = cli("--help")
    assert "doctor" in result.out + result.err
