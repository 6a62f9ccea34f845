"""The OS keychain as a key source (secrets/keychain.py), through the real `keyring` library
with the in-memory backend of tests/support/fake_keyring.py plugged in: where it stands in the chain,
the origins it may go to, its record, and every way it can fail (each one of our errors)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from support import fake_keyring
from support.canary import CANARY_KEY
from support.openai_data import MODELS
from openai_skill import Client
from openai_skill.errors import CredentialsError, InputError, VaultError
from openai_skill.secret import Secret
from openai_skill.secrets import keychain
from openai_skill.secrets.sources import KeyChain
from openai_skill.secrets.store import VaultStore
from openai_skill.urls import origin_of

VAULT_KEY = CANARY_KEY.replace("CANARY0", "VAULTK0")
KEYCHAIN_KEY = CANARY_KEY.replace("CANARY0", "KEYCHN0")
OPENAI = "https://api.openai.com"
ENTRY = "openai_api_key"


@pytest.fixture
def backend(monkeypatch):
    return fake_keyring.use(fake_keyring.MemoryKeyring(), monkeypatch)


def in_keychain(key=KEYCHAIN_KEY, origin=OPENAI):
    return keychain.store(os.environ, ENTRY, Secret(key, "test"), origin)


def record_file():
    return keychain.record_path(os.environ)


# --- the chain ---------------------------------------------------------------------------

def test_the_environment_beats_the_vault_which_beats_the_keychain(backend, monkeypatch):
    in_keychain()
    chain = KeyChain.default(os.environ)
    assert (chain.key_for(OPENAI).reveal(), chain.answering(OPENAI)) == (KEYCHAIN_KEY, "the OS keychain")
    VaultStore().put(ENTRY, VAULT_KEY)
    assert (chain.key_for(OPENAI).reveal(), chain.answering(OPENAI)) == (VAULT_KEY, "the vault")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    assert (chain.key_for(OPENAI).reveal(), chain.answering(OPENAI)) == (CANARY_KEY, "OPENAI_API_KEY")
    assert Client().key_source() == "OPENAI_API_KEY"


def test_with_both_stored_the_vault_wins_and_the_keychain_is_not_asked(backend):
    in_keychain()
    VaultStore().put(ENTRY, VAULT_KEY)
    backend.calls.clear()
    assert Client().key_for(OPENAI + "/v1/models").reveal() == VAULT_KEY
    assert backend.calls == []


def test_a_keychain_key_is_sent_with_its_source_named(openai, backend):
    in_keychain(origin=origin_of(openai.url_for("/")))
    openai.reply("GET", "/models", MODELS)
    client = Client()
    assert client.key_source() == "the OS keychain"
    assert client.key_for(client.base_url).source == "the OS keychain"
    client.invoke("list-models")
    assert openai.requests[-1].headers["Authorization"] == f"Bearer {KEYCHAIN_KEY}"
    assert backend.calls[-1] == ("get", keychain.SERVICE, ENTRY)


def test_a_keychain_key_goes_only_to_its_origins(openai, backend):
    in_keychain(origin=OPENAI)  # bound to api.openai.com; OPENAI_BASE_URL points at the fake
    fake_origin = origin_of(openai.url_for("/"))
    with pytest.raises(CredentialsError) as caught:
        Client().invoke("list-models")
    message = caught.value.message
    assert f"openai-skill vault allow-origin {ENTRY} {fake_origin} --keychain" in message
    assert caught.value.details["reason"] == "origin_not_allowed" and "nothing was sent" in message
    assert openai.requests == []
    assert ("get", keychain.SERVICE, ENTRY) not in backend.calls  # refused before the keychain is read
    assert keychain.allow_origin(os.environ, ENTRY, openai.url) == (fake_origin, OPENAI)
    openai.reply("GET", "/models", MODELS)
    Client().invoke("list-models")
    assert openai.requests[-1].headers["Authorization"] == f"Bearer {KEYCHAIN_KEY}"


def test_keyring_is_never_imported_without_the_record(tmp_path):
    """In a fresh interpreter: no record, no `import keyring`, whichever source answers;
    with a record it is imported (the check can see an import)."""
    code = ("import sys; from openai_skill import Client\n"
            "try:\n    Client().key_for('https://api.openai.com')\nexcept Exception as exc:\n"
            "    print(type(exc).__name__, file=sys.stderr)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'keyring'))")

    def keyring_modules(**env):
        full = {**os.environ, **fake_keyring.subprocess_env("FileKeyring", **env),
                fake_keyring.FILE_ENV: str(tmp_path / "os-keychain.json")}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.replace("'", '"')), proc.stderr.strip()

    assert keyring_modules() == ([], "CredentialsError")                  # no key anywhere
    assert keyring_modules(OPENAI_API_KEY=CANARY_KEY) == ([], "")        # the environment answers
    VaultStore().put(ENTRY, VAULT_KEY)
    assert keyring_modules() == ([], "")                                 # the vault answers
    VaultStore().remove(ENTRY)
    keychain.write_record(os.environ, {ENTRY: [OPENAI]})
    modules, error = keyring_modules()
    assert "keyring" in modules and error == "CredentialsError"          # the record: keyring asked (empty)


# --- the record ----------------------------------------------------------------------------

def test_the_record_names_entry_and_origins_never_the_key(backend):
    assert in_keychain(origin=OPENAI) == (OPENAI,)
    assert in_keychain(origin="https://gateway.example") == ("https://api.openai.com", "https://gateway.example")
    data = record_file().read_bytes()
    assert json.loads(data) == {"version": 1, "entries": {ENTRY: {"origins": [OPENAI, "https://gateway.example"]}}}
    assert KEYCHAIN_KEY.encode() not in data and KEYCHAIN_KEY[3:].encode() not in data
    assert stat.S_IMODE(record_file().stat().st_mode) == 0o600
    assert backend.passwords == {(keychain.SERVICE, ENTRY): KEYCHAIN_KEY}


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe binary", b"[]", b'{"version": 2, "entries": {}}',
    b'{"version": 1, "entries": []}', b'{"version": 1, "entries": {"openai_api_key": {"origins": []}}}',
    b'{"version": 1, "entries": {"openai_api_key": {"origins": "https://api.openai.com"}}}',
    b'{"version": 1, "entries": {"openai_api_key": {"origins": ["api.openai.com"]}}}',
    b'{"version": 1, "entries": {"bad name!": {"origins": ["https://api.openai.com"]}}}',
    ('{"version": 1, "entries": {"openai_api_key": "' + CANARY_KEY + '"}}').encode(),
], ids=["not-json", "binary", "list", "version", "entries-list", "no-origins", "origins-string",
        "not-an-origin", "bad-name", "key-pasted-in"])
def test_a_corrupt_record_is_one_clear_error_that_quotes_nothing(backend, content):
    record_file().parent.mkdir(parents=True, exist_ok=True)
    record_file().write_bytes(content)
    with pytest.raises(VaultError) as caught:
        Client().key_for(OPENAI)
    message = caught.value.message
    assert str(record_file()) in message and "setup --keychain" in message and "delete the file" in message
    assert caught.value.details["reason"] == "keychain_record_invalid"
    assert CANARY_KEY not in message and "sk-" not in message
    with pytest.raises(VaultError):  # store refuses too, before the keychain is touched
        in_keychain()
    assert backend.calls == [] and record_file().read_bytes() == content


def test_a_record_that_is_not_a_regular_file_is_refused(backend):
    record_file().mkdir(parents=True)
    with pytest.raises(VaultError, match="not a regular file"):
        Client().key_for(OPENAI)


def test_a_record_is_read_up_to_64_kib_and_refused_past_it(backend):
    record = json.dumps({"version": 1, "entries": {ENTRY: {"origins": [OPENAI]}}}).encode()
    record_file().parent.mkdir(parents=True, exist_ok=True)
    record_file().write_bytes(record + b" " * (64 * 1024 - len(record)))  # valid JSON, padded to the cap
    assert keychain.read_record(os.environ) == {ENTRY: (OPENAI,)}
    record_file().write_bytes(record + b" " * (64 * 1024 + 1 - len(record)))
    with pytest.raises(VaultError, match="larger than 65536 bytes"):
        Client().key_for(OPENAI)
    assert backend.calls == []


def test_write_record_replaces_the_record_whole(backend):
    keychain.write_record(os.environ, {ENTRY: [OPENAI], "second": ["https://gateway.example"]})
    keychain.write_record(os.environ, {"second": [OPENAI]})
    assert keychain.read_record(os.environ) == {"second": (OPENAI,)}
    keychain.write_record(os.environ, {})
    assert not record_file().exists()


@pytest.mark.parametrize("origin", ["api.openai.com", "https://api.openai.com/v1", "https://API.openai.com"])
def test_store_refuses_what_is_not_a_canonical_origin_before_touching_the_keychain(backend, origin):
    with pytest.raises(InputError, match="is not an origin"):
        in_keychain(origin=origin)
    assert backend.calls == [] and not record_file().exists()


def test_a_record_naming_a_key_the_keychain_lost_says_how_to_fix_it(backend):
    keychain.write_record(os.environ, {ENTRY: [OPENAI]})
    with pytest.raises(CredentialsError) as caught:
        Client().key_for(OPENAI)
    assert caught.value.details["reason"] == "keychain_entry_missing"
    assert "setup --keychain" in caught.value.message and f"vault remove {ENTRY} --keychain" in caught.value.message


def test_origins_are_allowed_and_revoked_in_the_record(backend):
    in_keychain()
    assert keychain.allow_origin(os.environ, ENTRY, "https://GATEWAY.example:443/v1") == (
        OPENAI, "https://gateway.example")
    assert keychain.revoke_origin(os.environ, ENTRY, OPENAI) == ("https://gateway.example",)
    with pytest.raises(CredentialsError, match="allow-origin"):
        Client().key_for(OPENAI)
    with pytest.raises(InputError, match="last origin"):
        keychain.revoke_origin(os.environ, ENTRY, "https://gateway.example")
    with pytest.raises(InputError, match="not allowed to go to"):
        keychain.revoke_origin(os.environ, ENTRY, OPENAI)
    with pytest.raises(InputError, match="no entry named 'other'"):
        keychain.allow_origin(os.environ, "other", OPENAI)
    with pytest.raises(InputError, match="no scheme"):
        keychain.allow_origin(os.environ, ENTRY, "gateway.example")
    assert keychain.read_record(os.environ) == {ENTRY: ("https://gateway.example",)}
    assert backend.calls == [("set", keychain.SERVICE, ENTRY)]  # origins never touch the keychain


def test_remove_takes_the_key_and_its_record_line(backend):
    in_keychain()
    keychain.store(os.environ, "second", Secret(VAULT_KEY, "test"), OPENAI)
    assert keychain.remove(os.environ, ENTRY) is True
    assert keychain.read_record(os.environ) == {"second": (OPENAI,)}
    assert (keychain.SERVICE, ENTRY) not in backend.passwords
    del backend.passwords[(keychain.SERVICE, "second")]  # gone from the keychain by hand
    assert keychain.remove(os.environ, "second") is True
    assert not record_file().exists()  # no entry left: no record, keyring never imported again
    assert keychain.remove(os.environ, "second") is False


def test_a_record_that_cannot_be_written_takes_the_new_key_out_of_the_keychain(backend, monkeypatch):
    from openai_skill.secrets import disk

    def full_disk(path, data):
        raise VaultError(f"cannot write {path}: No space left on device; it was left as it was")

    monkeypatch.setattr(disk, "atomic_write", full_disk)
    with pytest.raises(VaultError, match="No space left"):
        in_keychain()
    assert backend.passwords == {} and not record_file().exists()


# --- failures: each one of our errors ------------------------------------------------------

@pytest.mark.parametrize("failure, named", [("locked", "KeyringLocked"), ("foreign", "ForeignBackendError")])
def test_keychain_failures_are_credentials_errors_naming_only_the_type(monkeypatch, failure, named):
    fake_keyring.use(fake_keyring.BrokenKeyring(failure), monkeypatch)
    with pytest.raises(CredentialsError) as caught:
        in_keychain()
    assert named in caught.value.message and "not stored" in caught.value.message
    assert caught.value.details["reason"] == "keychain_failed"
    assert "could not store" not in caught.value.message and KEYCHAIN_KEY[8:] not in repr(caught.value)
    assert not record_file().exists()
    keychain.write_record(os.environ, {ENTRY: [OPENAI]})
    with pytest.raises(CredentialsError) as caught:
        Client().key_for(OPENAI)
    assert named in caught.value.message and "could not be read" in caught.value.message
    with pytest.raises(CredentialsError, match="not removed"):
        keychain.remove(os.environ, ENTRY)
    assert keychain.read_record(os.environ) == {ENTRY: (OPENAI,)}  # the record line stays with its key


def test_no_keychain_on_the_machine_says_to_use_the_vault(monkeypatch):
    import keyring.backends.fail

    fake_keyring.use(keyring.backends.fail.Keyring(), monkeypatch)  # what keyring picks on a headless box
    with pytest.raises(CredentialsError) as caught:
        in_keychain()
    assert caught.value.details["reason"] == "no_keychain" and "`openai-skill setup`" in caught.value.message
    assert not record_file().exists()


def test_without_the_keyring_package_the_error_names_the_extra(backend, monkeypatch):
    in_keychain()
    monkeypatch.setitem(sys.modules, "keyring", None)  # `import keyring` raises ImportError
    with pytest.raises(CredentialsError) as caught:
        Client().key_for(OPENAI)
    assert "pip install 'openai-skill[keychain]'" in caught.value.message
    assert str(record_file()) in caught.value.message
    assert caught.value.details == {"reason": "keyring_missing", "fix": keychain.INSTALL_HINT}
    with pytest.raises(CredentialsError, match=r"openai-skill\[keychain\]"):
        keychain.store(os.environ, "other", Secret(VAULT_KEY, "test"), OPENAI)
    assert keychain.read_record(os.environ) == {ENTRY: (OPENAI,)}  # nothing written
