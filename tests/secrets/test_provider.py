"""OpenClaw's exec SecretRef provider: the pure protocol function and `openai-skill secret-provider`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.canary import CANARY_KEY
from openai_skill.errors import InputError
from openai_skill.secrets.provider import answer, parse_request, respond
from openai_skill.secrets.store import VaultStore

STORE = {"openai_api_key": CANARY_KEY, "team/slack:bot#1": "fake-canary-slack"}

MALFORMED = [
    ("not JSON", "openai_api_key"),
    ("empty input", ""),
    ("JSON array", "[]"),
    ("JSON string", '"ids"'),
    ("protocolVersion missing", '{"ids": []}'),
    ("protocolVersion 2", '{"protocolVersion": 2, "ids": []}'),
    ("protocolVersion as a string", '{"protocolVersion": "1", "ids": []}'),
    ("protocolVersion true", '{"protocolVersion": true, "ids": []}'),
    ("protocolVersion 1.0", '{"protocolVersion": 1.0, "ids": []}'),
    ("provider not a string", '{"protocolVersion": 1, "provider": 7, "ids": []}'),
    ("ids missing", '{"protocolVersion": 1, "provider": "openai-skill"}'),
    ("ids a string", '{"protocolVersion": 1, "ids": "openai_api_key"}'),
    ("id a number", '{"protocolVersion": 1, "ids": [1]}'),
    ("id null", '{"protocolVersion": 1, "ids": [null]}'),
    ("id empty", '{"protocolVersion": 1, "ids": [""]}'),
    ("id starts with a dot", '{"protocolVersion": 1, "ids": [".hidden"]}'),
    ("id starts with a dash", '{"protocolVersion": 1, "ids": ["-x"]}'),
    ("id with a space", '{"protocolVersion": 1, "ids": ["a b"]}'),
    ("id with a newline", '{"protocolVersion": 1, "ids": ["a\\nb"]}'),
    ("id non-ASCII", '{"protocolVersion": 1, "ids": ["cl\\u00e9"]}'),
    ("id of 257 characters", json.dumps({"protocolVersion": 1, "ids": ["a" * 257]})),
    ("too many ids", json.dumps({"protocolVersion": 1, "ids": [f"id{i}" for i in range(1001)]})),
]


def test_valid_ids_resolve_and_unknown_ids_are_not_found():
    request = {"protocolVersion": 1, "provider": "openai-skill",
               "ids": ["openai_api_key", "missing", "team/slack:bot#1", "openai_api_key"]}
    assert json.loads(respond(json.dumps(request), STORE.get)) == {
        "protocolVersion": 1,
        "values": {"openai_api_key": CANARY_KEY, "team/slack:bot#1": "fake-canary-slack"},
        "errors": {"missing": {"code": "NOT_FOUND"}},
    }


def test_ids_at_the_pattern_edges_are_accepted():
    ids = ["a", "0", "A" + "z" * 255, "a._:/#-b"]
    assert parse_request(json.dumps({"protocolVersion": 1, "ids": ids})) == ids
    assert answer([], STORE.get) == {"protocolVersion": 1, "values": {}, "errors": {}}


@pytest.mark.parametrize("desc, text", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_raise_input_error(desc, text):
    with pytest.raises(InputError) as info:
        respond(text, STORE.get)
    assert info.value.message.startswith("secret-provider: ")


@pytest.mark.parametrize("desc, text", MALFORMED[:8], ids=[m[0] for m in MALFORMED[:8]])
def test_cli_malformed_request_clean_error_nothing_on_stdout(cli, desc, text):
    result = cli("secret-provider", stdin=text)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("openai-skill: secret-provider: ") and len(result.err.splitlines()) == 1


def test_cli_malformed_request_with_json_prints_only_the_error_object(cli):
    result = cli("--json", "secret-provider", stdin="[]")
    assert result.code == 2 and json.loads(result.out)["error"]["type"] == "invalid_input"


def test_cli_answers_from_the_vault_and_writes_nothing_else(cli):
    VaultStore().put("openai_api_key", CANARY_KEY)
    request = {"protocolVersion": 1, "provider": "openai-skill", "ids": ["openai_api_key", "nope"]}
    result = cli("secret-provider", stdin=json.dumps(request))
    assert result.code == 0
    assert result.out.endswith("\n") and result.out.count("\n") == 1
    assert json.loads(result.out) == {"protocolVersion": 1, "values": {"openai_api_key": CANARY_KEY},
                                      "errors": {"nope": {"code": "NOT_FOUND"}}}
    # OpenClaw shows only "NOT_FOUND": stderr says where the provider looked, and never the value
    vault = Path(os.environ["XDG_CONFIG_HOME"]) / "openai-skill" / "vault"  # the documented place
    assert result.err == (f"openai-skill secret-provider: NOT_FOUND nope: looked in {vault} "
                          f"(XDG_CONFIG_HOME={os.environ['XDG_CONFIG_HOME']}, HOME={os.environ['HOME']}); "
                          "it has no entry 'nope'.\n")
    assert CANARY_KEY not in result.err


def test_cli_without_a_vault_answers_not_found_and_says_where_it_looked(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_SKILL_HOME", str(tmp_path / "elsewhere"))
    result = cli("secret-provider", stdin='{"protocolVersion": 1, "provider": "p", "ids": ["openai_api_key"]}')
    assert result.code == 0
    assert json.loads(result.out)["errors"] == {"openai_api_key": {"code": "NOT_FOUND"}}
    assert f"looked in {tmp_path / 'elsewhere' / 'vault'} (OPENAI_SKILL_HOME={tmp_path / 'elsewhere'}" in result.err
    assert result.err.rstrip().endswith("there is no vault file there.")


def test_not_found_under_an_empty_environment_names_pass_env():
    """OpenClaw starts the provider with no HOME at all: the line says what passEnv must carry."""
    from openai_skill.surfaces.cli.vault import _where_looked

    line = _where_looked(VaultStore(env={}), None, ["openai_api_key"])
    assert "no OPENAI_SKILL_HOME, XDG_CONFIG_HOME or HOME set" in line
    assert "passEnv" in line and "OPENAI_SKILL_VAULT_PASSPHRASE" in line


def test_cli_broken_vault_is_an_error_not_a_not_found(cli):
    store = VaultStore()
    store.put("openai_api_key", CANARY_KEY)
    store.paths.vault.write_bytes(store.paths.vault.read_bytes()[:-3])
    result = cli("secret-provider", stdin='{"protocolVersion": 1, "ids": ["openai_api_key"]}')
    assert result.code == 3 and result.out == "" and "truncated" in result.err
    assert CANARY_KEY not in result.err


def test_passphrase_vault_needs_the_env_passphrase_since_stdin_is_the_request(cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_VAULT_PASSPHRASE", "fake-canary-passphrase")
    VaultStore(kdf_log_n=10).put("openai_api_key", CANARY_KEY)
    request = '{"protocolVersion": 1, "ids": ["openai_api_key"]}'
    assert json.loads(cli("secret-provider", stdin=request).out)["values"] == {"openai_api_key": CANARY_KEY}
    monkeypatch.delenv("OPENAI_SKILL_VAULT_PASSPHRASE")
    result = cli("secret-provider", stdin=request)
    assert result.code == 3 and result.out == "" and "OPENAI_SKILL_VAULT_PASSPHRASE" in result.err
