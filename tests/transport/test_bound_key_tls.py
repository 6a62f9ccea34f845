"""The environment's TLS settings cannot undo the origin binding (issue 16, item 3).

With the vault key bound to an https origin, `HTTPS_PROXY=<proxy> REQUESTS_CA_BUNDLE=<the
proxy's CA> openai-skill models` once sent the key to the proxy in clear (and SSLKEYLOGFILE
wrote the session keys). Now a vault key is verified against certifi's bundle plus the CA
bundle its entry records, nothing else; HTTPS_PROXY still works, end to end.

Everything runs on 127.0.0.1: the entry is bound to a loopback https origin served with a
test CA, recorded as the entry's CA bundle (as a user behind a TLS-inspecting proxy does);
the attacker is a proxy on loopback with a CA of its own.
"""

from __future__ import annotations

import os

import pytest

from support.canary import CANARY_KEY
from support.tls_pki import ApiServer, Authority, Proxy

TLS_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
           "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE")


@pytest.fixture(autouse=True)
def clean_tls_env(monkeypatch):
    for name in TLS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    return {"legit": Authority("legit", folder), "attacker": Authority("attacker", folder)}


def _bind_vault_key(origin: str, ca_bundle: str | None) -> None:
    from openai_skill.secrets.store import VaultStore

    store = VaultStore()
    store.put("openai_api_key", CANARY_KEY, origin=origin)
    if ca_bundle is not None:
        store.set_ca_bundle("openai_api_key", ca_bundle)


def _trust_attacker(variable: str, attacker: Authority, tmp_path) -> dict:
    return {variable: str(attacker.ca_pem)}


@pytest.mark.parametrize("recorded", [False, True], ids=["certifi only", "with the entry's CA bundle"])
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_vault_key_never_reaches_a_proxy_that_only_the_environment_trusts(installed_cli, pki, tmp_path,
                                                                              variable, recorded):
    keylog = tmp_path / "tls-keys.log"
    with ApiServer(pki["legit"]) as api, Proxy(intercept=pki["attacker"]) as proxy:
        _bind_vault_key(api.origin, pki["legit"].ca_pem.read_text() if recorded else None)
        env = {"OPENAI_BASE_URL": api.base_url, "HTTPS_PROXY": proxy.url, "SSLKEYLOGFILE": str(keylog),
               **_trust_attacker(variable, pki["attacker"], tmp_path)}
        result = installed_cli("models", "--json", env=env)
    assert [c.rsplit(" ", 1)[0] for c in proxy.connects] == [f"CONNECT 127.0.0.1:{api.port}"]  # used...
    assert proxy.seen_in_clear == []                                         # ...and read nothing
    assert api.authorizations == []
    assert result.code == 5, result.err
    assert "certificate" in result.json()["error"]["message"].lower()
    assert not keylog.exists()                                               # no TLS key log
    assert CANARY_KEY not in result.out + result.err


def test_control_a_key_the_caller_exports_follows_the_callers_environment(installed_cli, pki, tmp_path):
    """The same proxy and CA with OPENAI_API_KEY: the caller's own choice, so the environment
    applies, and the proxy reads the key. This shows the test above would see a leak."""
    keylog = tmp_path / "tls-keys.log"
    with ApiServer(pki["legit"]) as api, Proxy(intercept=pki["attacker"]) as proxy:
        env = {"OPENAI_BASE_URL": api.base_url, "HTTPS_PROXY": proxy.url, "SSLKEYLOGFILE": str(keylog),
               "REQUESTS_CA_BUNDLE": str(pki["attacker"].ca_pem), "OPENAI_API_KEY": CANARY_KEY}
        result = installed_cli("models", "--json", env=env)
    assert result.code == 0, result.err
    assert [seen["authorization"] for seen in proxy.seen_in_clear] == [f"Bearer {CANARY_KEY}"]
    assert keylog.exists() and keylog.stat().st_size > 0


def test_a_tunnelling_proxy_still_works_end_to_end_and_sees_only_ciphertext(installed_cli, pki, tmp_path):
    with ApiServer(pki["legit"]) as api, Proxy() as proxy:
        _bind_vault_key(api.origin, pki["legit"].ca_pem.read_text())
        env = {"OPENAI_BASE_URL": api.base_url, "HTTPS_PROXY": proxy.url,
               "REQUESTS_CA_BUNDLE": str(pki["attacker"].ca_pem)}
        result = installed_cli("models", "--json", env=env)
    assert result.code == 0, result.err
    assert result.json()["models"][0]["id"] == "gpt-4o-mini"
    assert api.authorizations == [f"Bearer {CANARY_KEY}"]
    assert proxy.connects and len(proxy.relayed) > 1000
    assert CANARY_KEY.encode() not in bytes(proxy.relayed)


def test_without_a_recorded_bundle_only_certifi_vouches(installed_cli, pki):
    """No CA bundle in the entry: the environment naming the server's (test) CA does not count."""
    with ApiServer(pki["legit"]) as api:
        _bind_vault_key(api.origin, None)
        result = installed_cli("models", "--json",
                               env={"OPENAI_BASE_URL": api.base_url, "REQUESTS_CA_BUNDLE": str(pki["legit"].ca_pem),
                                    "SSL_CERT_FILE": str(pki["legit"].ca_pem)})
    assert result.code == 5 and api.authorizations == [], result.out + result.err


def test_the_recorded_bundle_is_what_verifies_the_server(cli, pki):
    with ApiServer(pki["legit"]) as api:
        _bind_vault_key(api.origin, pki["legit"].ca_pem.read_text())
        os.environ["OPENAI_BASE_URL"] = api.base_url   # restored by the isolated fixture's monkeypatch
        result = cli("models")
    assert result.code == 0, result.err
    assert api.authorizations == [f"Bearer {CANARY_KEY}"]


def test_setup_ca_bundle_needs_a_person_and_shows_the_certificate(cli, person, pki, monkeypatch):
    with ApiServer(pki["legit"]) as api:
        monkeypatch.setenv("OPENAI_BASE_URL", api.base_url)
        stored = cli("setup", "--ca-bundle", pki["legit"].ca_pem, stdin=CANARY_KEY)
        assert stored.code == 0, stored.err
        assert "CN=legit test CA" in person.shown and "SHA-256" in person.shown and api.origin in person.shown
        listed = cli("vault", "list").json()["entries"]
        assert [e["name"] for e in listed] == ["openai_api_key"]
        assert listed[0]["ca_bundle"][0].startswith("CN=legit test CA (SHA-256 ")
        assert cli("models").code == 0 and api.authorizations == [f"Bearer {CANARY_KEY}"]
        verified = cli("setup", "--verify", stdin=CANARY_KEY)          # the check is pinned the same way
        assert verified.code == 0, verified.err
        assert api.authorizations[-1] == f"Bearer {CANARY_KEY}"


def test_setup_ca_bundle_without_a_person_changes_nothing(cli, pki, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://127.0.0.1:9/v1")
    result = cli("--json", "setup", "--ca-bundle", pki["attacker"].ca_pem, stdin=CANARY_KEY)
    assert result.code == 2 and result.json()["error"]["type"] == "needs_person", result.out
    assert "A person does it by running the same command in a terminal" in result.json()["error"]["message"]
    from openai_skill.secrets.store import VaultStore

    assert not VaultStore().exists()


def test_setup_ca_bundle_refuses_what_is_not_a_ca(cli, person, pki, tmp_path):
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    for path, message in ((pki["legit"].leaf_pem, "not a CA"), (tmp_path / "junk.pem", "not PEM"),
                          (tmp_path / "missing.pem", "cannot read")):
        result = cli("setup", "--ca-bundle", path, stdin=CANARY_KEY)
        assert result.code == 2 and message in result.err, result.err
    assert person.asked == 0


def test_the_ca_bundle_entry_name_is_reserved(cli):
    result = cli("setup", "--name", "openai_api_key#ca-bundle", stdin="-----BEGIN CERTIFICATE-----\n")
    assert result.code == 2 and "--ca-bundle" in result.err


def test_a_keychain_key_is_bound_too(monkeypatch):
    """The keychain's key is origin-bound like the vault's, so the transport pins it the same way."""
    import sys
    import types

    from openai_skill.secrets import keychain
    from openai_skill.transport.tls import CERTIFI, pin_of

    fake = types.ModuleType("keyring")
    fake.errors = types.SimpleNamespace(KeyringError=Exception)
    fake.get_password = lambda service, name: CANARY_KEY
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.setitem(sys.modules, "keyring.errors", fake.errors)
    keychain.write_record(os.environ, {"openai_api_key": ["https://api.openai.com"]})
    secret = keychain.KeychainKey(os.environ, "openai_api_key").key_for("https://api.openai.com")
    assert secret.bound and pin_of(secret).key == CERTIFI
    from openai_skill.secrets.sources import EnvKey

    assert pin_of(EnvKey({"OPENAI_API_KEY": CANARY_KEY}, "OPENAI_API_KEY").key_for("https://api.openai.com")) is None


def test_a_recorded_ca_bundle_is_public_and_never_masks_words(pki):
    """Certificates are not secrets: read with the key, they are not registered for masking
    (their PEM's words would otherwise mask "certificate" in the very TLS error they explain)."""
    from openai_skill.redaction import redact
    from openai_skill.secrets.store import read_entry

    _bind_vault_key("https://127.0.0.1:9", pki["legit"].ca_pem.read_text())
    entry = read_entry("openai_api_key")
    assert entry.ca_bundle.startswith("-----BEGIN CERTIFICATE-----")
    error = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain"
    assert redact(error) == error
    assert redact(f"the key {CANARY_KEY}") == "the key [REDACTED]"
