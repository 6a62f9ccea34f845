"""`openai-skill setup --keychain` and the `vault` commands' `--keychain`, through the CLI: in a
subprocess with keyring's backend chosen by PYTHON_KEYRING_BACKEND (tests/support/fake_keyring.py),
or in-process with the in-memory backend. The canary key must never show in output, errors
or any file the skill writes."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest

from support import fake_keyring
from support.canary import CANARY_KEY
from support.openai_data import MODELS
from openai_skill.secret import Secret
from openai_skill.secrets import keychain
from openai_skill.secrets.store import VaultStore
from openai_skill.urls import origin_of

VAULT_KEY = CANARY_KEY.replace("CANARY0", "VAULTK0")
ENTRY = "openai_api_key"
OPENAI = "https://api.openai.com"


@pytest.fixture
def backend(monkeypatch):
    return fake_keyring.use(fake_keyring.MemoryKeyring(), monkeypatch)


@pytest.fixture
def os_keychain(tmp_path_factory):
    """The keychain file a subprocess's FileKeyring keeps: outside the test's own tree, which
    must hold no trace of the key (this file is the keychain: holding it is its job)."""
    return tmp_path_factory.mktemp("os-keychain") / "keychain.json"


def run(cli, *args, stdin=None):
    result = cli(*args, stdin=stdin)
    assert CANARY_KEY not in result.out + result.err
    assert "Traceback" not in result.err
    return result


def record():
    return keychain.record_path(os.environ)


def assert_no_key_under(root: Path, key: str = CANARY_KEY):
    raw = key.encode()
    needles = {raw, raw[3:], raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path


def test_setup_keychain_round_trip_end_to_end(openai, installed_cli, os_keychain, isolated):
    """Setup stores the key in the keychain for the fake's origin; `models` then sends it."""
    env = fake_keyring.subprocess_env("FileKeyring", **{fake_keyring.FILE_ENV: str(os_keychain)})
    fake_origin = origin_of(openai.url_for("/"))
    stored = installed_cli("setup", "--keychain", stdin=CANARY_KEY + "\n", env=env)
    assert stored.code == 0, stored.err
    assert stored.json() == {"stored": ENTRY, "where": "the OS keychain", "service": "openai-skill",
                             "record": str(record()), "origins": [fake_origin]}
    assert json.loads(record().read_text()) == {"version": 1, "entries": {ENTRY: {"origins": [fake_origin]}}}
    assert not VaultStore().exists()  # the keychain, not the vault
    openai.reply("GET", "/models", MODELS)
    listed = installed_cli("models", env=env)
    assert listed.code == 0, listed.err
    assert [m["id"] for m in listed.json()["models"]] == sorted(m["id"] for m in MODELS["data"])
    assert [r.headers["Authorization"] for r in openai.requests] == [f"Bearer {CANARY_KEY}"]
    listed_entries = installed_cli("vault", "list", env=env)
    listing = listed_entries.json()
    assert listing["key_source"] == "the OS keychain" and listing["entries"] == []
    assert listing["keychain"]["entries"] == [{"name": ENTRY, "origins": [fake_origin]}]
    for result in (stored, listed, listed_entries):
        assert CANARY_KEY not in result.out + result.err and CANARY_KEY[3:] not in result.out + result.err
    assert_no_key_under(isolated)  # HOME, the config folder, the record, the working folder
    assert CANARY_KEY in os_keychain.read_text()  # where it went instead (the check above can see it)


def test_setup_keychain_without_keyring_names_the_extra_and_writes_nothing(cli, monkeypatch, isolated):
    monkeypatch.setitem(sys.modules, "keyring", None)  # `import keyring` raises ImportError
    result = run(cli, "--json", "setup", "--keychain", stdin=CANARY_KEY)
    assert result.code == 3
    assert "pip install 'openai-skill[keychain]'" in result.err and len(result.err.splitlines()) == 1
    error = result.json()["error"]
    assert (error["type"], error["reason"], error["fix"]) == ("credentials", "keyring_missing",
                                                              "pip install 'openai-skill[keychain]'")
    assert not record().exists() and not VaultStore().exists()
    assert_no_key_under(isolated)


def test_setup_keychain_without_keyring_fails_before_asking_for_the_key(cli, monkeypatch):
    import getpass
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    asked = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or CANARY_KEY)
    monkeypatch.setitem(sys.modules, "keyring", None)
    monkeypatch.setattr("sys.stdin", Tty(""))
    from openai_skill.surfaces.cli import main

    assert main(["setup", "--keychain"]) == 3
    assert asked == []


def test_setup_keychain_reads_a_hidden_prompt_and_binds_the_base_url_given(cli, backend, monkeypatch):
    import getpass
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(getpass, "getpass", lambda prompt: CANARY_KEY)
    monkeypatch.setattr("sys.stdin", Tty(""))
    from openai_skill.surfaces.cli import main

    assert main(["setup", "--keychain", "--base-url", "https://Gateway.example:8443/v1"]) == 0
    assert keychain.read_record(os.environ) == {ENTRY: ("https://gateway.example:8443",)}
    assert backend.passwords == {(keychain.SERVICE, ENTRY): CANARY_KEY}


@pytest.mark.parametrize("args, stdin, expected", [
    (["--keychain"], "not a key", "does not look like an OpenAI API key"),
    (["--keychain"], "", "no secret given"),
    (["--keychain", CANARY_KEY], CANARY_KEY, "never takes the secret as an argument"),
    (["--keychain", "--passphrase"], CANARY_KEY, "not allowed with argument"),
    (["--keychain", "--name", "other"], CANARY_KEY, "stores the OpenAI API key only"),
    (["--keychain", "--base-url", "gateway.example/v1"], CANARY_KEY, "has no scheme"),
])
def test_setup_keychain_refuses_bad_input_and_stores_nothing(cli, backend, args, stdin, expected):
    result = run(cli, "setup", *args, stdin=stdin)
    assert result.code == 2 and expected in result.err
    assert backend.passwords == {} and not record().exists()


def test_setup_keychain_verify_proves_the_key_before_storing_it(cli, openai, backend):
    openai.reply("GET", "/models", {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                              "code": "invalid_api_key"}}, status=401, once=True)
    assert run(cli, "setup", "--keychain", "--verify", stdin=CANARY_KEY).code == 3
    assert backend.passwords == {} and not record().exists()  # a rejected key is not kept
    openai.reply("GET", "/models", MODELS)
    result = run(cli, "setup", "--keychain", "--verify", stdin=CANARY_KEY)
    assert result.code == 0, result.err
    assert result.json()["verified"] == {"models_seen": len(MODELS["data"])}
    assert [r.headers["Authorization"] for r in openai.requests] == [f"Bearer {CANARY_KEY}"] * 2


def test_setup_keychain_warns_when_another_source_would_win(cli, backend, monkeypatch):
    VaultStore().put(ENTRY, VAULT_KEY)
    result = run(cli, "setup", "--keychain", stdin=CANARY_KEY)
    assert result.code == 0
    warning = result.json()["warning"]
    assert "the vault also holds 'openai_api_key' and wins" in warning and "vault remove openai_api_key" in warning
    assert f"warning: {warning}" in result.err
    monkeypatch.setenv("OPENAI_API_KEY", VAULT_KEY)
    warning = run(cli, "setup", "--keychain", stdin=CANARY_KEY).json()["warning"]
    assert warning.startswith("OPENAI_API_KEY is set in this environment and wins over the OS keychain")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)  # the same key: nothing to warn about
    VaultStore().remove(ENTRY)
    assert "warning" not in run(cli, "setup", "--keychain", stdin=CANARY_KEY).json()


def test_a_keychain_key_is_refused_for_another_origin_until_allowed(cli, openai, backend, person):
    keychain.store(os.environ, ENTRY, Secret(CANARY_KEY, "test"), OPENAI)
    fake_origin = origin_of(openai.url_for("/"))
    openai.reply("GET", "/models", MODELS)
    refused = run(cli, "models")
    assert refused.code == 3 and openai.requests == []
    assert f"`openai-skill vault allow-origin {ENTRY} {fake_origin} --keychain`" in refused.err
    listing = run(cli, "vault", "list").json()
    assert listing["key_source"] == "the OS keychain" and "may be sent only to" in listing["key_source_problem"]
    allowed = run(cli, "vault", "allow-origin", ENTRY, openai.url, "--keychain")
    assert allowed.json() == {"name": ENTRY, "where": "the OS keychain", "origins": sorted([OPENAI, fake_origin])}
    assert run(cli, "models").code == 0
    assert openai.requests[-1].headers["Authorization"] == f"Bearer {CANARY_KEY}"
    revoked = run(cli, "vault", "revoke-origin", ENTRY, fake_origin, "--keychain")
    assert revoked.json()["origins"] == [OPENAI]
    assert run(cli, "models").code == 3 and len(openai.requests) == 1
    without_flag = run(cli, "vault", "allow-origin", ENTRY, fake_origin)  # no vault entry: point at the flag
    assert without_flag.code == 2 and "the OS keychain has one: add --keychain" in without_flag.err


def test_vault_list_names_the_answering_source_and_both_kinds_of_entries(cli, backend, monkeypatch):
    empty = run(cli, "vault", "list").json()
    assert (empty["key_source"], empty["base_url"], empty["keychain"]["entries"]) == (
        None, "https://api.openai.com/v1", [])
    keychain.store(os.environ, ENTRY, Secret(CANARY_KEY, "test"), OPENAI)
    assert run(cli, "vault", "list").json()["key_source"] == "the OS keychain"
    VaultStore().put(ENTRY, VAULT_KEY)
    listing = run(cli, "vault", "list").json()
    assert listing["key_source"] == "the vault" and "key_source_problem" not in listing
    assert [e["name"] for e in listing["entries"]] == [ENTRY]
    assert listing["keychain"] == {"record": str(record()), "entries": [{"name": ENTRY, "origins": [OPENAI]}]}
    monkeypatch.setenv("OPENAI_API_KEY", VAULT_KEY)
    assert run(cli, "vault", "list").json()["key_source"] == "OPENAI_API_KEY"
    assert VAULT_KEY not in run(cli, "vault", "list").out


def test_vault_list_asks_a_passphrase_once_for_the_listing_and_the_answer(cli, backend, monkeypatch):
    import getpass
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("OPENAI_SKILL_VAULT_PASSPHRASE", "correct horse battery staple")
    VaultStore(kdf_log_n=10).put(ENTRY, VAULT_KEY, passphrase=True)
    monkeypatch.delenv("OPENAI_SKILL_VAULT_PASSPHRASE")
    asked = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or "correct horse battery staple")
    monkeypatch.setattr("sys.stdin", Tty(""))
    from openai_skill.surfaces.cli import main

    assert main(["vault", "list"]) == 0
    assert len(asked) == 1


def test_vault_remove_keychain_removes_the_key_and_its_record_line(cli, backend):
    keychain.store(os.environ, ENTRY, Secret(CANARY_KEY, "test"), OPENAI)
    hint = run(cli, "vault", "remove", ENTRY)  # the vault has none: the error points at --keychain
    assert hint.code == 2 and "the OS keychain has one: add --keychain" in hint.err
    removed = run(cli, "vault", "remove", ENTRY, "--keychain")
    assert removed.code == 0 and removed.json() == {"removed": ENTRY, "where": "the OS keychain",
                                                      "record": str(record())}
    assert backend.passwords == {} and not record().exists()
    again = run(cli, "vault", "remove", ENTRY, "--keychain")
    assert again.code == 2 and "the OS keychain has no entry named 'openai_api_key'" in again.err


def test_a_corrupt_record_is_one_line_not_a_traceback(cli, backend):
    VaultStore().put("other", "a secret of another kind")
    record().write_text('{"version": 1, "entries": {"openai_api_key": "' + CANARY_KEY + '"}}')
    result = run(cli, "models")
    assert result.code == 3 and len(result.err.splitlines()) == 1
    assert f"the keychain record {record()} is not valid" in result.err
    listing = run(cli, "vault", "list").json()  # the vault's entries are still listed
    assert [e["name"] for e in listing["entries"]] == ["other"]
    assert "is not valid" in listing["keychain"]["error"] and "is not valid" in listing["key_source_problem"]
    assert run(cli, "setup", "--keychain", stdin=CANARY_KEY).code == 3
    assert backend.calls == []


@pytest.mark.parametrize("backend_name, failure, expected, reason", [
    ("BrokenKeyring", "locked", "the system keychain failed (KeyringLocked)", "keychain_failed"),
    ("BrokenKeyring", "foreign", "the system keychain failed (ForeignBackendError)", "keychain_failed"),
    ("keyring.backends.fail.Keyring", "", "found no usable system keychain", "no_keychain"),
])
def test_keychain_failures_in_a_subprocess_are_our_errors(installed_cli, os_keychain, isolated, backend_name,
                                                          failure, expected, reason):
    env = fake_keyring.subprocess_env(backend_name, **{fake_keyring.FAILURE_ENV: failure})
    if "." in backend_name:  # one of keyring's own backends, named in full
        env["PYTHON_KEYRING_BACKEND"] = backend_name
    stored = installed_cli("--json", "setup", "--keychain", stdin=CANARY_KEY, env=env)
    assert stored.code == 3 and expected in stored.err and "Traceback" not in stored.err
    assert stored.json()["error"]["reason"] == reason
    assert CANARY_KEY not in stored.out + stored.err and "could not store" not in stored.err
    assert not record().exists()
    keychain.write_record(os.environ, {ENTRY: [OPENAI]})
    read = installed_cli("--json", "models", env=env)
    assert read.code == 3 and expected in read.err and read.json()["error"]["reason"] == reason
    assert_no_key_under(isolated)


def test_a_missing_keyring_at_call_time_names_the_extra(cli, backend, monkeypatch):
    keychain.store(os.environ, ENTRY, Secret(CANARY_KEY, "test"), OPENAI)
    monkeypatch.setitem(sys.modules, "keyring", None)
    result = run(cli, "models")
    assert result.code == 3 and "pip install 'openai-skill[keychain]'" in result.err


def test_allowing_the_keychain_key_another_origin_needs_a_person(cli, openai, backend):
    """As for a vault entry (issue 16, item 10): no pipe or flag can widen where it goes."""
    keychain.store(os.environ, ENTRY, Secret(CANARY_KEY, "test"), OPENAI)
    refused = run(cli, "vault", "allow-origin", ENTRY, openai.url_for("/v1"), "--keychain", stdin="y\n")
    assert refused.code == 2 and "needs a person" in refused.err
    assert keychain.read_record(os.environ)[ENTRY] == (OPENAI,)
