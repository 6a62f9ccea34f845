"""The clear error the rest of the CLI gives, for the cases a new user hit (issue 16, item 13).

Each case: exit 2 (or 3 for a rejected key), one line that names the field, what was expected,
what was given and the fix, nothing sent, no "a bug" and no traceback.
"""

from __future__ import annotations

import json

import pytest

from support.canary import CANARY_KEY


def _clean(result) -> None:
    assert "a bug" not in result.err and "Traceback" not in result.err, result.err


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_a_blank_chat_prompt_is_refused_like_image_and_embed(openai, key, cli, prompt):
    for command in (("chat", prompt), ("image", prompt), ("embed", prompt)):
        result = cli(*command)
        assert result.code == 2 and "expected text that is not blank" in result.err, (command, result.err)
        _clean(result)
    assert openai.requests == []


def test_overlapping_model_rules_speak_once_the_most_specific_alone():
    """The reported case (`-m o3-mini --temperature 0.2`: "takes temperature 1" and "does not
    accept temperature") now stops earlier, o3-mini being retired; the rule engine is checked
    with the same two rules, as skill.yaml orders them (general, then specific)."""
    from openai_skill.errors import InputError
    from openai_skill.input.model_rules import apply_model_rules

    rules = [{"name": "o-series temperature", "models": ["o3*"], "only": {"temperature": [1]}},
             {"name": "o3-mini", "models": ["o3-mini"], "unsupported": ["temperature"]}]
    with pytest.raises(InputError) as caught:
        apply_model_rules("chat-completion", {"model": "o3-mini", "temperature": 0.2}, frozenset({"temperature"}),
                          rules)
    assert caught.value.message == ("chat-completion: temperature: o3-mini does not accept temperature; leave it "
                                    "out (got 0.2)")
    assert [p["path"] for p in caught.value.problems] in ([], ["temperature"])
    with pytest.raises(InputError, match="o3 takes temperature 1 \\(got 0.2\\)"):   # only the general one applies
        apply_model_rules("chat-completion", {"model": "o3", "temperature": 0.2}, frozenset({"temperature"}), rules)


def test_a_base_url_without_a_scheme_is_fixed_as_given(key, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "127.0.0.1:9/v1")
    result = cli("models")
    assert result.code == 2
    assert "'127.0.0.1:9/v1' has no scheme; write it as https://127.0.0.1:9/v1" in result.err
    assert "/models" not in result.err
    _clean(result)


def test_input_naming_a_file_without_the_at_sign_says_how(key, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.json").write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    for given in ("input.json", "missing.json", "sub/dir/in.jsonl"):
        result = cli("run", "chat-completion", "--input", given, "--dry-run")
        assert result.code == 2 and f"write --input @{given}" in result.err, result.err
        _clean(result)
    text = cli("run", "chat-completion", "--input", "{nope", "--dry-run")
    assert text.code == 2 and "@" not in text.err                  # JSON text gets no file hint
    assert cli("run", "chat-completion", "--input", "@input.json", "--dry-run").code == 0


def test_a_rejected_key_at_setup_says_nothing_was_stored(cli, openai):
    openai.reply("GET", "/models", {"error": {"message": "Incorrect API key provided: sk-proj-***ARY",
                                              "type": "invalid_request_error", "param": None,
                                              "code": "invalid_api_key"}}, status=401)
    result = cli("setup", "--verify", stdin=CANARY_KEY)
    assert result.code == 3 and result.err.rstrip().endswith("nothing was stored"), result.err
    from openai_skill.secrets.store import VaultStore

    assert not VaultStore().exists()


def test_an_unknown_invoke_option_names_the_nearest_and_every_valid_one():
    import openai_skill

    with pytest.raises(openai_skill.InputError) as caught:
        openai_skill.invoke("list-models", {}, timeout=5, dry_run=True)
    message = caught.value.message
    assert "did you mean 'read_timeout'" in message
    for name in ("connect_timeout", "read_timeout", "deadline", "max_retries", "base_url", "dry_run"):
        assert name in message


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "soon"])
def test_the_dashboard_idle_timeout_is_checked_like_every_duration(cli, value):
    result = cli("dashboard", "--no-browser", "--idle-timeout", value)
    assert result.code == 2 and "expected a finite number of seconds > 0" in result.err, result.err
    _clean(result)
