"""The vault's key is bound to its origins (issue 8, item 1): refused before connecting
anywhere else, with a message that says how to allow it; `setup` records the API base in
effect; `vault allow-origin` / `revoke-origin` / `list`; a key the user exports is theirs to send."""

from __future__ import annotations

import base64
import json
import os
import shutil

import pytest
from pytest_httpserver import HTTPServer

import openai_skill as skill
from support.canary import CANARY_KEY
from openai_skill.config import DEFAULT_BASE_URL
from openai_skill.config import DEFAULT_ORIGIN
from openai_skill.urls import origin_of
from openai_skill.secrets.store import VaultStore
from openai_skill.secrets.vault_format import parse
from support.vault_fixture import CONTENTS, FIXTURES

MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "system"}]}


@pytest.fixture
def other_server():
    """A second loopback server: the 'other origin' a base URL could be pointed at."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request("/v1/models").respond_with_json(MODELS)
    yield server
    server.clear()
    server.stop()


def test_default_origin_is_the_default_base_urls():
    assert origin_of(DEFAULT_BASE_URL) == DEFAULT_ORIGIN == "https://api.openai.com"


def test_vault_key_is_refused_for_another_origin_before_connecting(cli, other_server, monkeypatch, person):
    assert cli("setup", stdin=CANARY_KEY).json()["origins"] == ["https://api.openai.com"]
    monkeypatch.setenv("OPENAI_BASE_URL", other_server.url_for("/v1"))
    origin = f"http://127.0.0.1:{other_server.port}"
    with pytest.raises(skill.CredentialsError) as info:
        skill.invoke("list-models")
    assert other_server.log == []  # refused before any request reached it
    message = info.value.message
    assert f"may be sent only to https://api.openai.com, and this request goes to {origin}" in message
    assert f"openai-skill vault allow-origin openai_api_key {origin}" in message
    result = cli("models")
    assert result.code == 3 and "allow-origin" in result.err and other_server.log == []
    assert CANARY_KEY not in result.out + result.err + message

    allowed = cli("vault", "allow-origin", "openai_api_key", other_server.url_for("/v1"))
    assert allowed.code == 0 and allowed.json()["origins"] == [origin, "https://api.openai.com"]
    assert skill.invoke("list-models")["models"][0]["id"] == "gpt-4o-mini"
    (request, _), = other_server.log
    assert request.headers["Authorization"] == f"Bearer {CANARY_KEY}"


def test_revoke_origin_and_list(cli, person):
    cli("setup", "--base-url", "https://gateway.example.com:8443/v1", stdin=CANARY_KEY)
    assert cli("vault", "list").json()["entries"][0]["origins"] == ["https://gateway.example.com:8443"]
    assert cli("vault", "allow-origin", "openai_api_key", "https://api.openai.com").code == 0
    revoked = cli("vault", "revoke-origin", "openai_api_key", "https://gateway.example.com:8443")
    assert revoked.code == 0 and revoked.json()["origins"] == ["https://api.openai.com"]
    last = cli("vault", "revoke-origin", "openai_api_key", "https://api.openai.com")
    assert last.code == 2 and "last origin" in last.err
    assert cli("vault", "revoke-origin", "openai_api_key", "https://nowhere.example").code == 2
    assert cli("vault", "allow-origin", "nope", "https://api.openai.com").code == 2
    for bad in ("api.openai.com", "ftp://x.example", "https://user@x.example", "https://x.example\\@y"):
        result = cli("vault", "allow-origin", "openai_api_key", bad)
        assert result.code == 2 and result.err.startswith("openai-skill: "), (bad, result.err)
    assert VaultStore().open().origins("openai_api_key") == ("https://api.openai.com",)


def test_setup_records_the_api_base_in_effect(cli, api):
    """OPENAI_BASE_URL points at the loopback server (the `api` fixture): that is the origin."""
    result = cli("setup", stdin=CANARY_KEY)
    assert result.json()["origins"] == [f"http://localhost:{api.port}"]  # the base URL's scheme, host and port
    api.expect_request("/v1/models", headers={"Authorization": f"Bearer {CANARY_KEY}"}).respond_with_json(MODELS)
    assert cli("models").code == 0


def test_a_key_the_user_exports_goes_to_their_own_base_url(other_server, monkeypatch):
    """simonw/llm's line: OPENAI_API_KEY beside your own OPENAI_BASE_URL is your explicit choice."""
    VaultStore().put("openai_api_key", "sk-vault-" + "v" * 30)  # bound to api.openai.com
    monkeypatch.setenv("OPENAI_BASE_URL", other_server.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    skill.invoke("list-models")
    (request, _), = other_server.log
    assert request.headers["Authorization"] == f"Bearer {CANARY_KEY}"


def test_invoke_base_url_override_is_judged_not_the_environment(other_server, monkeypatch, api):
    """The origin comes from the request actually built, not from OPENAI_BASE_URL."""
    VaultStore().put("openai_api_key", CANARY_KEY, origin=api.url_for("/v1"))  # allowed: the env's server
    with pytest.raises(skill.CredentialsError, match="allow-origin"):
        skill.invoke("list-models", base_url=other_server.url_for("/v1"))
    assert other_server.log == []


def test_a_v1_vault_serves_api_openai_com_only_and_its_first_write_upgrades_it(tmp_path, monkeypatch):
    home = tmp_path / "v1-home"
    home.mkdir(mode=0o700)
    for name in ("vault", "vault.key"):
        shutil.copy(FIXTURES / "keyfile" / name, home / name)
    os.chmod(home / "vault.key", 0o600)
    monkeypatch.setenv("OPENAI_SKILL_HOME", str(home))
    from support.key_lookup import resolve_api_key

    assert resolve_api_key() == CONTENTS["entries"]["openai_api_key"]  # to https://api.openai.com
    with pytest.raises(skill.CredentialsError, match="allow-origin"):
        resolve_api_key(url="https://elsewhere.example/v1/models")
    VaultStore().allow_origin("openai_api_key", "https://elsewhere.example")
    vf = parse((home / "vault").read_bytes())
    assert (vf.version, vf.raw_source, vf.generation) == (2, "key-file", CONTENTS["generation"] + 1)
    assert resolve_api_key(url="https://elsewhere.example/v1/models") == CONTENTS["entries"]["openai_api_key"]
    assert VaultStore().lookup("notes/unicode") == CONTENTS["entries"]["notes/unicode"]


def test_setup_warns_that_a_stale_openai_api_key_wins(cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-stale-" + "s" * 30)
    result = cli("setup", stdin=CANARY_KEY)
    assert result.code == 0
    assert "OPENAI_API_KEY is set in this environment and wins over the vault" in result.err
    assert "unset OPENAI_API_KEY" in result.json()["warning"]
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)  # the same key: nothing to warn about
    again = cli("setup", stdin=CANARY_KEY)
    assert again.code == 0 and "warning" not in again.json() and again.err == ""


def test_rotate_to_keyfile_with_the_env_key_still_set_reports_the_truth(cli, monkeypatch, tmp_path):
    env_key = base64.b64encode(b"e" * 32).decode()
    monkeypatch.setenv("OPENAI_SKILL_VAULT_KEY", env_key)
    assert cli("setup", stdin=CANARY_KEY).json()["master_key"] == "env-key"
    result = cli("vault", "rotate", "--to-keyfile")
    assert result.code == 0, result.err
    out = result.json()
    assert out["master_key"] == "key-file"
    assert "unset OPENAI_SKILL_VAULT_KEY" in out["warning"] and "unset OPENAI_SKILL_VAULT_KEY" in result.err
    verify = cli("vault", "verify")  # the variable still set: the vault says key file, and opens
    assert verify.code == 0 and verify.json()["master_key"] == "key-file"
    monkeypatch.delenv("OPENAI_SKILL_VAULT_KEY")
    assert cli("vault", "verify").json()["master_key"] == "key-file"


def test_env_key_vault_without_the_variable_says_so(cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_VAULT_KEY", base64.b64encode(b"e" * 32).decode())
    cli("setup", stdin=CANARY_KEY)
    monkeypatch.delenv("OPENAI_SKILL_VAULT_KEY")
    result = cli("--json", "vault", "list")
    assert result.code == 3
    assert "is unlocked with the key in OPENAI_SKILL_VAULT_KEY, which is not set" in result.err
    assert "missing" not in result.err and json.loads(result.out)["error"]


def test_bulk_and_batch_jobs_judge_their_own_base_url(other_server, api):
    """embed_many / batch with a base_url option: the vault key is judged against that URL,
    not the environment's (they resolved the key without the URL before)."""
    from openai_skill.jobs.batch import api as batch

    VaultStore().put("openai_api_key", CANARY_KEY, origin=api.url_for("/v1"))  # the env's server only
    with pytest.raises(skill.CredentialsError, match="allow-origin"):
        list(skill.embed_many(["hello"], base_url=other_server.url_for("/v1"), cache=False))
    with pytest.raises(skill.CredentialsError, match="allow-origin"):
        batch.list_batches(base_url=other_server.url_for("/v1"))
    assert other_server.log == []


@pytest.mark.parametrize("text, ok", [
    ("https://api.openai.com", True), ("http://127.0.0.1:8080", True), ("https://[::1]:443", True),
    ("https://[::1]", True), ("https://a-b.example", True), ("https://" + "a" * 63 + ".example", True),
    ("https://-a.example", False), ("https://a-.example", False), ("https://a..example", False),
    ("https://" + "a" * 64 + ".example", False), ("https://x.example:65535", True),
    ("https://x.example:65536", False), ("https://[::1]:65536", False), ("https://X.example", False),
    ("https://x.example/", False), ("ftp://x.example", False), (None, False),
])
def test_the_canonical_origin_form(text, ok):
    from openai_skill.urls import is_origin

    assert is_origin(text) is ok
