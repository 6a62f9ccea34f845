"""openai_skill.Client: one object owns the settings, the base URL's origin, the sessions and
the key-source chain; the key is looked up per request origin, as a Secret."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

import openai_skill
from support.canary import CANARY_KEY
from support.openai_data import MODELS
from openai_skill import Client, Secret
from openai_skill.errors import CredentialsError, InputError, InsecureTransportError, NotFoundError
from openai_skill.redaction import redact
from openai_skill.secrets.sources import EnvKey, ExplicitKey, KeyChain, VaultKey
from openai_skill.secrets.store import VaultStore

OTHER_KEY = CANARY_KEY.replace("CANARY0", "CANARY7")


# --- the Client ---------------------------------------------------------------------------

def test_keyword_arguments_override_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1")
    monkeypatch.setenv("OPENAI_SKILL_MAX_RETRIES", "5")
    client = Client(max_retries=0)
    assert client.base_url == "https://gateway.example/v1"
    assert client.settings.max_retries == 0
    assert Client(base_url="https://other.example/v1/").base_url == "https://other.example/v1"


def test_a_client_rejects_an_unknown_keyword_with_a_type_error_but_the_facade_names_the_nearest():
    with pytest.raises(TypeError):
        Client(base_ur="x")  # a typed signature: Python's own message names the keyword
    with pytest.raises(InputError) as caught:
        openai_skill.invoke("list-models", {}, dry_run=True, read_timeot=3)
    assert "unknown option 'read_timeot'; did you mean 'read_timeout'?" in caught.value.message
    assert caught.value.details["field"] == "read_timeot"


def test_bad_settings_are_input_errors_naming_the_field():
    with pytest.raises(InputError, match="max_retries: expected an integer >= 0, got -1"):
        Client(max_retries=-1)
    with pytest.raises(InputError, match="give api_key or key_sources, not both"):
        Client(api_key=CANARY_KEY, key_sources=[])


def test_invoke_sends_with_the_key_for_the_request_origin(openai):
    openai.reply("GET", "/models", MODELS)
    client = Client(api_key=CANARY_KEY)
    result = client.invoke("list-models")
    assert sorted(m["id"] for m in result["models"]) == sorted(m["id"] for m in MODELS["data"])
    (request,) = openai.requests
    assert request.headers["Authorization"] == f"Bearer {CANARY_KEY}"


def test_a_reused_client_reuses_its_session(openai, monkeypatch):
    from openai_skill.transport.session import Sessions

    openai.reply("GET", "/models", MODELS)
    seen = []
    original = Sessions.for_url

    def recording(self, url, pin=None):
        session = original(self, url, pin)
        seen.append(id(session))
        return session
    monkeypatch.setattr(Sessions, "for_url", recording)
    client = Client(api_key=CANARY_KEY)
    for _ in range(3):
        client.invoke("list-models")
    assert len(openai.requests) == 3 and len(seen) == 3 and len(set(seen)) == 1


def test_a_client_with_its_own_sessions_closes_them(openai):
    from openai_skill.transport.session import Sessions, default_sessions

    openai.reply("GET", "/models", MODELS)
    own = Sessions()
    with Client(api_key=CANARY_KEY, sessions=own) as client:
        client.invoke("list-models")
        assert own._sessions
    assert own._sessions == {}
    assert Client().sessions is default_sessions()


def test_closing_a_client_leaves_the_shared_sessions_open_and_needs_none(openai):
    from openai_skill.transport.session import default_sessions

    with Client():  # never sent anything: no sessions to close
        pass
    openai.reply("GET", "/models", MODELS)
    shared = default_sessions()
    with Client(api_key=CANARY_KEY) as client:
        client.invoke("list-models")
        assert client.sessions is shared and shared._sessions
    assert shared._sessions  # the process's pool is not the client's to close
    assert Client(api_key=CANARY_KEY).invoke("list-models")["models"]  # and still serves


@pytest.mark.parametrize("name", ["prepared", "action_id", "response", "warnings", "self"])
def test_the_facade_refuses_a_name_that_is_only_a_local_variable_of_invoke(name):
    with pytest.raises(InputError, match=f"unknown option '{name}'"):
        openai_skill.invoke("list-models", {}, dry_run=True, **{name: 1})


def test_dry_run_asks_no_key_source(monkeypatch):
    class Exploding:
        name = "a source that must not be asked"

        def key_for(self, origin):
            raise AssertionError("a key source was asked during a dry run")

    client = Client(key_sources=[Exploding()])
    out = client.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]}, dry_run=True)
    assert out["request"]["headers"]["Authorization"] == "Bearer [REDACTED]"


def test_a_url_the_key_must_not_go_to_is_refused_before_any_source_is_asked():
    class Exploding:
        name = "x"

        def key_for(self, origin):
            raise AssertionError("asked")

    client = Client(base_url="http://api.example.com/v1", key_sources=[Exploding()])
    with pytest.raises(InsecureTransportError):
        client.invoke("list-models")


def test_invalid_input_never_reaches_a_key_source_or_the_network(openai):
    asked = []

    class Counting:
        name = "counting"

        def key_for(self, origin):
            asked.append(origin)
            return Secret(CANARY_KEY, "counting")

    client = Client(key_sources=[Counting()])
    with pytest.raises(InputError, match="temperature"):
        client.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}], "temperature": 9})
    assert asked == [] and openai.requests == []


def test_prepare_is_a_named_tuple_and_touches_nothing():
    prepared = Client(key_sources=[]).prepare("list-models", {})
    action, params, request, warnings = prepared
    assert action.id == "list-models" and params == {} and request.url.endswith("/v1/models")
    assert prepared.request is request and warnings == ()


def test_a_prepared_call_copies_like_a_named_tuple():
    import copy

    prepared = Client(base_url="http://127.0.0.1:9/v1").prepare("list-models")
    clone = copy.copy(prepared)
    assert type(clone) is type(prepared) and clone == prepared and clone.action is prepared.action
    assert clone.request.url == "http://127.0.0.1:9/v1/models" and clone.warnings == ()


def test_a_prepared_call_shows_its_fields_in_order():
    prepared = Client(base_url="http://127.0.0.1:9/v1").prepare("list-models")
    assert repr(prepared) == (f"Prepared(action={prepared.action!r}, params={prepared.params!r}, "
                              f"request={prepared.request!r}, warnings=())")


def test_a_clients_prices_are_the_real_time_rates_unless_batch_is_said():
    client = Client()
    params, answer = {"model": "text-embedding-3-large"}, {"usage": {"prompt_tokens": 10_000}}
    assert client.cost_of("create-embedding", params, answer).usd == pytest.approx(10_000 * 0.13 / 1e6)
    assert client.cost_of("create-embedding", params, answer, batch=True).usd == pytest.approx(10_000 * 0.13 / 1e6 / 2)
    params = {"model": "text-embedding-3-small", "input": "x"}
    assert client.worst_case("create-embedding", params).usd == pytest.approx(0.02 / 1e6)
    assert client.worst_case("create-embedding", params, batch=True).usd == pytest.approx(0.02 / 1e6 / 2)


@pytest.mark.parametrize("asked, held", [(5, 5), (None, 30)])
def test_a_reservation_is_held_for_the_seconds_asked_else_the_clients_deadline(tmp_path, asked, held):
    """After that long an unsettled reservation is shown as unsettled (a crashed call)."""
    import sqlite3

    from openai_skill.spend import Cost
    from openai_skill.spend.caps import LEDGER_NAME

    env = {"OPENAI_SKILL_HOME": str(tmp_path / "cfg"), "OPENAI_SKILL_BUDGET_DAILY": "5"}
    client = Client(env=env, deadline=30)
    with client.hold(Cost(0.01, "worst_case", "2026-12-02", "gpt-4o-mini"), surface="python",
                     action="chat-completion", hold_seconds=asked):
        pass
    client.close()  # the ledger's connection too
    assert not [fd for fd in os.listdir("/proc/self/fd")
                if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(tmp_path / "cfg" / LEDGER_NAME))]
    with sqlite3.connect(tmp_path / "cfg" / LEDGER_NAME) as ledger:
        (kept,) = ledger.execute("SELECT deadline_at - made_at FROM calls").fetchone()
    assert kept == pytest.approx(held)


def test_a_dry_run_says_it_is_one():
    result = Client(base_url="http://127.0.0.1:9/v1").invoke("list-models", dry_run=True)
    assert result["dry_run"] is True and result["request"]["url"] == "http://127.0.0.1:9/v1/models"


def test_a_404_that_is_not_model_not_found_keeps_its_own_message(openai):
    error = {"error": {"message": "No such route", "type": "invalid_request_error", "param": None,
                       "code": "unknown_url"}}
    openai.reply("POST", "/chat/completions", error, status=404)
    with pytest.raises(NotFoundError) as caught:
        Client(api_key=CANARY_KEY).invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}],
                                                              "model": "gpt-4o"})
    assert caught.value.message.endswith("No such route") and "openai-skill models" not in caught.value.message


def test_the_default_client_follows_the_environment(monkeypatch):
    from openai_skill.client import default_client

    monkeypatch.setenv("OPENAI_BASE_URL", "https://one.example/v1")
    first = default_client()
    assert default_client() is first
    monkeypatch.setenv("OPENAI_BASE_URL", "https://two.example/v1")
    assert default_client().base_url == "https://two.example/v1"


def test_the_client_repr_shows_no_key():
    client = Client(api_key=CANARY_KEY)
    assert CANARY_KEY not in repr(client) and CANARY_KEY not in repr(client.__dict__)


# --- the key-source chain -----------------------------------------------------------------

def _chain_answer(env=None, explicit=None, origin="https://api.openai.com"):
    chain = KeyChain.default(os.environ if env is None else env, explicit)
    return chain.key_for(origin)


def test_the_order_is_explicit_then_environment_then_vault(monkeypatch):
    VaultStore().put("openai_api_key", OTHER_KEY)
    assert _chain_answer().source == "the vault entry 'openai_api_key'"
    assert _chain_answer().reveal() == OTHER_KEY
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    assert (_chain_answer().reveal(), _chain_answer().source) == (CANARY_KEY, "OPENAI_API_KEY")
    third = CANARY_KEY.replace("CANARY0", "CANARY3")
    assert _chain_answer(explicit=third).reveal() == third


def test_a_chain_reads_the_environment_it_is_given_else_the_process_one(monkeypatch):
    assert KeyChain.default({"OPENAI_API_KEY": CANARY_KEY}).key_for("https://api.openai.com").reveal() == CANARY_KEY
    monkeypatch.setenv("OPENAI_API_KEY", OTHER_KEY)
    assert KeyChain.default().key_for("https://api.openai.com").reveal() == OTHER_KEY
    assert KeyChain.default({"OPENAI_API_KEY": CANARY_KEY}).key_for("https://api.openai.com").reveal() == CANARY_KEY


def test_without_cache_vault_every_lookup_reads_the_vault_again():
    """The default (a CLI call looks once): a vault changed by another process is always seen,
    with no stamp kept. `cache_vault` (a long-lived server) is tested in surfaces/mcp/test_mcp_parts.py."""
    VaultStore().put("openai_api_key", OTHER_KEY)
    for vault in (Client().keys.sources[2], KeyChain.default(os.environ).sources[2],
                  VaultKey(os.environ, "openai_api_key")):
        assert [vault.key_for("https://api.openai.com").reveal() for _ in range(3)] == [OTHER_KEY] * 3
        assert vault.opens == 3


def test_a_bound_source_refuses_rather_than_falling_through(monkeypatch):
    # The vault has a key for api.openai.com only; a later source must not answer instead.
    VaultStore().put("openai_api_key", OTHER_KEY)
    later = ExplicitKey(CANARY_KEY)
    chain = KeyChain([VaultKey(os.environ, "openai_api_key"), later])
    with pytest.raises(CredentialsError) as caught:
        chain.key_for("https://elsewhere.example")
    assert "openai-skill vault allow-origin openai_api_key https://elsewhere.example" in caught.value.message
    assert caught.value.details["reason"] == "origin_not_allowed"


def test_no_source_is_one_error_naming_every_fix():
    with pytest.raises(CredentialsError) as caught:
        KeyChain.default({}).key_for("https://api.openai.com")
    message = caught.value.message
    assert "OPENAI_API_KEY=sk-..." in message and "openai-skill setup" in message
    assert "setup_integration" in message


def test_key_source_names_who_answers(monkeypatch):
    client = Client()
    assert client.key_source() is None
    VaultStore().put("openai_api_key", OTHER_KEY)
    assert Client().key_source() == "the vault"
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    assert Client().key_source() == "OPENAI_API_KEY"


def test_an_environment_key_is_one_secret_until_it_changes():
    env = {"OPENAI_API_KEY": CANARY_KEY}
    source = EnvKey(env, "OPENAI_API_KEY")
    first = source.key_for("https://api.openai.com")
    assert source.key_for("https://x.example") is first
    env["OPENAI_API_KEY"] = OTHER_KEY
    assert source.key_for("https://api.openai.com").reveal() == OTHER_KEY


def test_the_vault_is_not_read_when_the_environment_answers(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    code = ("import sys; from openai_skill import Client; c = Client(); c.key_for(c.base_url); "
            "print([m for m in ('openai_skill.secrets.store', 'openai_skill.secrets.vault_format', 'keyring') "
            "if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- one URL judge --------------------------------------------------------------------------

def test_an_idn_base_url_works_with_a_vault_key_as_with_an_environment_key(cli, monkeypatch):
    # The host as requests sends it (IDNA) is the host the origin names: one judge for both.
    result = cli("setup", "--base-url", "https://BÜCHER.example/v1", stdin=CANARY_KEY)
    assert result.code == 0, result.err
    assert result.json()["origins"] == ["https://xn--bcher-kva.example"]  # stored in the form requests sends
    client = Client(base_url="https://bücher.example/v1")
    assert client.origin == "https://xn--bcher-kva.example"
    assert client.key_for(client.base_url + "/models").reveal() == CANARY_KEY
    request = client.prepare("list-models").request
    assert request.url == "https://bücher.example/v1/models"  # requests encodes the host when sending


def test_the_url_judge_refuses_what_parsers_disagree_on_for_origins_too():
    from openai_skill.urls import origin_of

    for bad in ("https://a\u200b.example/v1", "https://user@api.openai.com", "https://a\\b.example",
                "ftp://api.openai.com", "api.openai.com"):
        with pytest.raises(InsecureTransportError):
            origin_of(bad)
    assert origin_of("HTTPS://API.OpenAI.com:443/v1") == "https://api.openai.com"
    assert origin_of("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080"


def test_the_default_origin_is_the_default_base_urls():
    from openai_skill.config import DEFAULT_BASE_URL, DEFAULT_ORIGIN
    from openai_skill.urls import origin_of

    assert origin_of(DEFAULT_BASE_URL) == DEFAULT_ORIGIN == "https://api.openai.com"


# --- the Secret ---------------------------------------------------------------------------

def test_a_secret_never_prints_itself_and_masks_itself_everywhere():
    secret = Secret(f"  {CANARY_KEY}\n", "the test")
    assert secret.reveal() == CANARY_KEY  # trimmed once, at the source
    # every way a program prints a value, %-formatting too
    for shown in (str(secret), repr(secret), f"{secret}", f"{secret!r}", "%s" % secret, str([secret])):  # noqa: UP031
        assert CANARY_KEY not in shown and "[REDACTED]" in shown
    assert redact(f"echo {CANARY_KEY}") == "echo [REDACTED]"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    assert secret == Secret(CANARY_KEY, "elsewhere") and secret != Secret(OTHER_KEY, "x")


@pytest.mark.parametrize("bad", ["", "   ", "sk-abc def0123456789012345", "sk-\u00e9" + "a" * 30,
                                 "sk-a\x00b" + "c" * 30])
def test_a_malformed_key_is_refused_where_it_is_found_without_echoing_it(bad):
    with pytest.raises(CredentialsError) as caught:
        Secret(bad, "OPENAI_API_KEY")
    assert "the API key from OPENAI_API_KEY is empty or malformed" in caught.value.message
    if bad.strip():
        assert bad.strip() not in caught.value.message


@pytest.mark.parametrize("given", [12345, CANARY_KEY.encode()])
def test_an_api_key_that_is_not_text_is_a_credentials_error_naming_where_it_came_from(given):
    with pytest.raises(CredentialsError) as caught:
        Client(api_key=given)
    assert caught.value.message == "the API key from the api_key argument is not text"


def test_secrets_are_hashable_and_equal_by_value_not_by_source():
    keys = {Secret(CANARY_KEY, "OPENAI_API_KEY"), Secret(CANARY_KEY, "the vault"), Secret(OTHER_KEY, "x")}
    assert len(keys) == 2 and Secret(CANARY_KEY, "elsewhere") in keys
    assert {Secret(CANARY_KEY, "a"): 1}[Secret(f" {CANARY_KEY} ", "b")] == 1


def test_only_a_key_from_a_binding_store_pins_who_may_vouch_for_the_server():
    """A key the caller passes or exports follows the caller's TLS settings; a vault or keychain
    key is verified with certifi or the CA bundle its entry records (transport/tls.py)."""
    from openai_skill.transport.tls import pin_of

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert pin_of(Secret(CANARY_KEY, "OPENAI_API_KEY")) is None
    assert pin_of(Secret(CANARY_KEY, "OPENAI_API_KEY", ca_bundle=pem)) is None  # not bound: the bundle is moot
    assert pin_of(Secret(CANARY_KEY, "the vault", bound=True)).pem is None      # certifi alone
    assert pin_of(Secret(CANARY_KEY, "the vault", bound=True, ca_bundle=pem)).pem == pem


def test_a_malformed_environment_key_fails_the_call_before_sending(openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY[:10] + " " + CANARY_KEY[10:])
    with pytest.raises(CredentialsError, match="from OPENAI_API_KEY is empty or malformed"):
        Client().invoke("list-models")
    assert openai.requests == []


def test_a_job_option_nobody_takes_is_an_input_error_naming_the_nearest():
    from openai_skill.jobs.batch import status

    with pytest.raises(InputError, match="unknown option 'max_retrys'; did you mean 'max_retries'"):
        list(openai_skill.embed_many(["a"], max_retrys=1))
    with pytest.raises(InputError, match="unknown option 'key_sources'"):
        status("batch_1", key_sources=[])  # a job builds its own chain
