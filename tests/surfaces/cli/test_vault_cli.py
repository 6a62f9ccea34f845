"""`openai-skill setup` and `openai-skill vault ...` through the real CLI, with a canary key
that must never show up in output, errors or the vault file."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

import openai_skill as skill
import openai_skill.secrets.crypto as crypto
from openai_skill.client import Client
from support.canary import CANARY_KEY
from support.key_lookup import lookup_secret
from openai_skill.secrets.store import VaultStore

def run(cli, *args, stdin=None):
    result = cli(*args, stdin=stdin)
    assert CANARY_KEY not in result.out + result.err
    return result


def assert_no_canary_anywhere(*roots: Path):
    """Raw, base64 (every alignment, std and urlsafe) and hex, in every file under roots."""
    raw = CANARY_KEY.encode()
    needles = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for shift in range(3):
        chunk = raw[shift:]
        chunk = chunk[: len(chunk) - len(chunk) % 3]
        needles.add(base64.b64encode(chunk))
        needles.add(base64.urlsafe_b64encode(chunk))
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(n in data for n in needles), path


@pytest.fixture
def vault_dir():
    return Path(os.environ["XDG_CONFIG_HOME"]) / "openai-skill"


def test_setup_stores_the_key_and_prints_only_a_fingerprint(cli, vault_dir, isolated):
    result = run(cli, "setup", stdin=CANARY_KEY + "\n")
    assert result.code == 0, result.err
    out = result.json()
    assert out["stored"] == "openai_api_key" and out["master_key"] == "key-file"
    assert out["vault"] == str(vault_dir / "vault") and len(out["fingerprint"]) == 8
    assert VaultStore().lookup("openai_api_key") == CANARY_KEY
    assert stat.S_IMODE(vault_dir.stat().st_mode) == 0o700
    listing = run(cli, "vault", "list").json()
    assert [(e["name"], e["fingerprint"]) for e in listing["entries"]] == [("openai_api_key", out["fingerprint"])]
    assert assert_no_canary_anywhere(isolated) is None


def test_setup_reads_a_hidden_prompt_on_a_terminal(cli, monkeypatch):
    import getpass
    import io

    prompts = []

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or CANARY_KEY)
    monkeypatch.setattr("sys.stdin", Tty(""))
    from openai_skill.surfaces.cli import main

    assert main(["setup"]) == 0
    assert prompts == ["Value for openai_api_key, to be sent only to https://api.openai.com (input hidden): "]
    assert VaultStore().lookup("openai_api_key") == CANARY_KEY


def test_setup_never_takes_the_secret_from_argv(cli, vault_dir):
    result = run(cli, "setup", CANARY_KEY)
    assert result.code == 2 and "never takes the secret as an argument" in result.err
    assert not (vault_dir / "vault").exists()


@pytest.mark.parametrize("bad", ["", "   \n", "not-a-key", "sk-short", "sk-proj-has space inside-0123456789abcdef",
                                 "Bearer sk-proj-0123456789abcdefghijklmnop"])
def test_setup_checks_the_key_shape_and_stores_nothing(cli, vault_dir, bad):
    result = run(cli, "setup", stdin=bad)
    assert result.code == 2, result.err
    assert not (vault_dir / "vault").exists()


def test_setup_other_names_take_any_value(cli):
    assert run(cli, "setup", "--name", "github_token", stdin="fake-canary-token\n").code == 0
    assert VaultStore().lookup("github_token") == "fake-canary-token"
    assert run(cli, "setup", "--name", "bad name", stdin="x").code == 2


def test_setup_verify_calls_list_models_with_the_new_key(cli, monkeypatch):
    calls = []

    def fake_invoke(client, action, data=None, **options):
        calls.append((action, data, options, client.key_for(client.base_url).reveal()))
        return {"models": [{"id": "a"}, {"id": "b"}, {"id": "c"}], "count": 3, "request_id": "req_1"}

    monkeypatch.setattr(Client, "invoke", fake_invoke)
    result = run(cli, "setup", "--verify", stdin=CANARY_KEY)
    assert result.code == 0 and result.json()["verified"] == {"models_seen": 3}
    assert calls == [("list-models", {}, {}, CANARY_KEY)]


def test_setup_verify_rejected_key_is_not_stored(cli, monkeypatch, vault_dir):
    from openai_skill.errors import AuthenticationError

    def rejected(client, action, data=None, **options):
        raise AuthenticationError(f"Incorrect API key provided: {client.key_for(client.base_url).reveal()}",
                                  status=401)

    monkeypatch.setattr(Client, "invoke", rejected)
    result = run(cli, "setup", "--verify", stdin=CANARY_KEY)
    assert result.code == 3 and not (vault_dir / "vault").exists()


def test_setup_verify_against_a_loopback_server(cli, api):
    api.expect_request("/v1/models", headers={"Authorization": f"Bearer {CANARY_KEY}"}).respond_with_json(
        {"object": "list", "data": [{"id": "gpt-test", "object": "model", "created": 1, "owned_by": "x"}]})
    result = run(cli, "setup", "--verify", stdin=CANARY_KEY)
    assert result.code == 0, result.err
    assert result.json()["verified"] == {"models_seen": 1}


def test_a_real_run_uses_the_vault_key_and_never_prints_it(cli, api, isolated):
    run(cli, "setup", stdin=CANARY_KEY)
    api.expect_request("/v1/models", headers={"Authorization": f"Bearer {CANARY_KEY}"}).respond_with_json(
        {"object": "list", "data": [{"id": "gpt-test", "object": "model", "created": 1, "owned_by": "x"}]},
        headers={"x-request-id": "req_vault"})
    result = run(cli, "run", "list-models", "--input", "{}")
    assert result.code == 0, result.err
    assert json.loads(result.out)["models"][0]["id"] == "gpt-test"
    api.clear()
    api.expect_request("/v1/models").respond_with_json(
        {"error": {"message": f"Incorrect API key provided: {CANARY_KEY}", "type": "invalid_request_error",
                   "param": None, "code": "invalid_api_key"}}, status=401)
    assert run(cli, "run", "list-models", "--input", "{}").code == 3
    assert_no_canary_anywhere(isolated)


def test_setup_with_a_passphrase(cli, monkeypatch, vault_dir):
    monkeypatch.setattr(crypto, "SCRYPT_LOG_N", 10)  # injected: cheap scrypt for this test only
    monkeypatch.setenv("OPENAI_SKILL_VAULT_PASSPHRASE", "fake-canary-passphrase")
    result = run(cli, "setup", "--passphrase", stdin=CANARY_KEY)
    assert result.code == 0 and result.json()["master_key"] == "passphrase"
    assert not (vault_dir / "vault.key").exists()
    assert run(cli, "vault", "verify").json()["master_key"] == "passphrase"
    monkeypatch.delenv("OPENAI_SKILL_VAULT_PASSPHRASE")
    result = run(cli, "vault", "list")
    assert result.code == 3 and "OPENAI_SKILL_VAULT_PASSPHRASE" in result.err


def test_vault_path_prints_vault_key_and_lock(cli, vault_dir):
    result = run(cli, "vault", "path")
    assert result.code == 0
    assert result.out.splitlines() == [str(vault_dir / n) for n in ("vault", "vault.key", "vault.lock")]


def test_vault_list_remove_verify_rotate(cli):
    run(cli, "setup", stdin=CANARY_KEY)
    run(cli, "setup", "--name", "other", stdin="fake-canary-other")
    assert [e["name"] for e in run(cli, "vault", "list").json()["entries"]] == ["openai_api_key", "other"]
    verified = run(cli, "vault", "verify").json()
    assert verified["ok"] is True and verified["entries"] == 2 and verified["generation"] == 2
    rotated = run(cli, "vault", "rotate").json()
    assert rotated["rotated"] is True and rotated["entries"] == 2
    assert run(cli, "vault", "rotate", "--to-keyfile").json()["master_key"] == "key-file"
    assert run(cli, "vault", "remove", "other").json()["removed"] == "other"
    missing = run(cli, "vault", "remove", "other")
    assert missing.code == 2 and "no entry named 'other'" in missing.err
    assert VaultStore().lookup("openai_api_key") == CANARY_KEY
    assert run(cli, "vault", "rotate", "--to-keyfile", "--new-passphrase").code == 2  # one at a time


def test_vault_without_subcommand_shows_its_help(cli):
    result = run(cli, "vault")
    assert result.code == 2 and "list" in result.err and "rotate" in result.err


def test_empty_vault_commands(cli):
    assert run(cli, "vault", "list").json()["entries"] == []
    assert run(cli, "vault", "verify").code == 3
    assert run(cli, "vault", "rotate").code == 3


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.write_bytes(b""), "empty"),
    (lambda d: d.write_bytes(b"PK\x03\x04 zip"), "not an openai-skill vault"),
    (lambda d: d.write_bytes(d.read_bytes().replace(b"v2\n", b"v9\n", 1)), "version"),
    (lambda d: d.write_bytes(d.read_bytes()[:-20]), "truncated"),
    (lambda d: d.write_bytes(d.read_bytes().replace(b"generation 1", b"generation 2")),
     "wrong key/passphrase, or the vault was modified"),
    (lambda d: (d.parent / "vault.key").write_text(base64.b64encode(b"w" * 32).decode()),
     "wrong key/passphrase, or the vault was modified"),
    (lambda d: (d.parent / "vault.key").unlink(), "missing"),
])
def test_error_paths_are_one_clean_line_without_the_key(cli, vault_dir, isolated, damage, message):
    run(cli, "setup", stdin=CANARY_KEY)
    damage(vault_dir / "vault")
    before = (vault_dir / "vault").read_bytes()
    for args in (("vault", "list"), ("vault", "verify"), ("vault", "rotate"), ("--json", "vault", "list")):
        result = run(cli, *args)
        assert result.code == 3, (args, result.err)
        assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert run(cli, "setup", stdin=CANARY_KEY).code == 3  # never writes over it
    assert (vault_dir / "vault").read_bytes() == before
    with pytest.raises(skill.VaultError) as info:
        lookup_secret("openai_api_key")
    assert CANARY_KEY not in str(info.value) + repr(info.value) + json.dumps(info.value.to_dict())
    assert_no_canary_anywhere(isolated)
