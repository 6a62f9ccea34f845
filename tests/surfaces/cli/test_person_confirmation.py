"""Adding an origin needs a person (issue 16, item 10), through `surfaces/confirm.py`.

`vault allow-origin` ran without confirmation, and the refusal message printed the exact
command, so an injected agent could follow it. Now the command writes a random word to the
controlling terminal and reads it back from there: a piped `y`, a `--yes` or the command's
own stdout cannot answer; with no terminal it is refused (exit 2) with one line saying how a
person does it. The terminal tests run the real command on a real pseudo-terminal.
"""

from __future__ import annotations

import re

import pytest

from support.canary import CANARY_KEY
from support.terminal import FakeTerminal, run_on_a_terminal

GATEWAY = "https://gateway.example.com:8443"


def _origins() -> tuple:
    from openai_skill.secrets.store import VaultStore

    return VaultStore().open().origins("openai_api_key")


@pytest.fixture
def stored():
    from openai_skill.secrets.store import VaultStore

    VaultStore().put("openai_api_key", CANARY_KEY)
    return _origins()


def _word(prompt: str) -> str:
    return re.findall(r"type (\S+) and press Enter", prompt)[-1]


def test_without_a_terminal_no_pipe_and_no_flag_can_allow_an_origin(installed_cli, stored):
    for stdin in ("y\n", "yes\n", "\n".join(__import__("openai_skill.surfaces.confirm").surfaces.confirm.WORDS)):
        result = installed_cli("--json", "vault", "allow-origin", "openai_api_key", GATEWAY, stdin=stdin)
        assert result.code == 2, result.out + result.err
        error = result.json()["error"]
        assert error["type"] == "needs_person" and error["reason"] == "no_terminal"
        assert "A person does it by running the same command in a terminal and typing the word" in error["message"]
    flagged = installed_cli("vault", "allow-origin", "openai_api_key", GATEWAY, "--yes")
    assert flagged.code == 2 and "unrecognized arguments: --yes" in flagged.err
    assert _origins() == stored == ("https://api.openai.com",)


def test_a_person_at_the_terminal_types_the_word_it_shows(stored):
    code, out, err, shown = run_on_a_terminal(["vault", "allow-origin", "openai_api_key", GATEWAY], _word)
    assert code == 0, err
    assert f"let the vault entry 'openai_api_key' be sent to {GATEWAY}" in shown
    assert "it is sent only to: https://api.openai.com" in shown
    word = _word(shown)
    assert word not in out + err                      # the word is only on the terminal, never stdout/stderr
    assert _origins() == ("https://api.openai.com", GATEWAY)


@pytest.mark.parametrize("typed", ["y", "yes", "", "maple-maple-x"])
def test_anything_but_the_word_changes_nothing(stored, typed):
    code, _, err, _ = run_on_a_terminal(["vault", "allow-origin", "openai_api_key", GATEWAY], lambda _: typed)
    assert code == 2 and "not confirmed" in err
    assert _origins() == stored


def test_the_word_is_new_every_time():
    from openai_skill.surfaces.confirm import challenge

    words = {challenge() for _ in range(50)}
    assert len(words) > 30 and all(re.fullmatch(r"[a-z]+-[a-z]+", w) for w in words)


def test_setup_for_another_api_base_asks_before_the_key_is_read(cli, stored, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", GATEWAY + "/v1")
    refused = cli("setup", stdin=CANARY_KEY)
    assert refused.code == 2 and "needs a person" in refused.err
    assert _origins() == stored
    terminal = FakeTerminal()
    from openai_skill.surfaces import confirm

    monkeypatch.setattr(confirm, "open_terminal", lambda: terminal)
    allowed = cli("setup", stdin=CANARY_KEY)
    assert allowed.code == 0, allowed.err
    assert allowed.json()["origins"] == ["https://api.openai.com", GATEWAY] and terminal.asked == 1


def test_no_question_for_what_does_not_widen_anything(cli, person, stored):
    assert cli("vault", "allow-origin", "openai_api_key", "https://api.openai.com").code == 0   # already there
    assert cli("setup", stdin=CANARY_KEY).code == 0                                             # same origin
    assert cli("vault", "revoke-origin", "openai_api_key", "https://api.openai.com").code == 2  # the last one
    assert person.asked == 0


def test_the_refusal_for_another_origin_says_only_a_person_can_allow_it(cli, stored, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", GATEWAY + "/v1")
    result = cli("models")
    assert result.code == 3
    assert "Only a person can let it go there" in result.err and "type the word it shows" in result.err
