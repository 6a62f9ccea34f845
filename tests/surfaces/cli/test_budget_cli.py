"""`openai-skill budget` and the guard seen from the CLI: a cap refuses before the wire (the fake
sees nothing) with exit 7 and one line; lowering needs no one, raising, clearing or allowing
unpriced calls is refused without a person at a terminal; every result carries its cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support.canary import CANARY_KEY
from support.openai_data import MODELS

CHAT_ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
               "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                            "message": {"role": "assistant", "content": "hello", "refusal": None}}],
               "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                         "prompt_tokens_details": {"cached_tokens": 200}}}


def _no_terminal(*args, env=None):
    """The installed CLI in a new session: no controlling terminal, so no person can answer."""
    full = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "openai_skill", *args], capture_output=True, text=True,
                          env=full, stdin=subprocess.DEVNULL, start_new_session=True, timeout=60)
    return proc


def test_lowering_needs_no_one_and_raising_clearing_or_allowing_is_refused_without_a_person(cli):
    assert cli("budget", "set", "--daily", "5", "--per-call", "1").code == 0
    lowered = cli("budget", "set", "--daily", "2")
    assert lowered.code == 0 and lowered.json()["caps"]["daily"]["usd"] == 2.0
    for args in (["budget", "set", "--daily", "3"], ["budget", "set", "--allow-unpriced"], ["budget", "clear"],
                 ["budget", "clear", "--per-call"]):
        proc = _no_terminal(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "needs a person" in proc.stderr and "nothing was changed" in proc.stderr
    shown = cli("budget", "show").json()
    assert shown["caps"]["daily"]["usd"] == 2.0 and shown["caps"]["per_call"]["usd"] == 1.0
    assert shown["allow_unpriced"] is False


def test_bad_amounts_name_the_flag(cli):
    result = cli("budget", "set", "--daily", "-1")
    assert result.code == 2 and "--daily: expected an amount in USD" in result.err and "'-1'" in result.err


def test_a_cap_refuses_before_the_wire_with_exit_7(openai, key, cli):
    assert cli("budget", "set", "--daily", "0.01").code == 0
    result = cli("chat", "hi", "-m", "gpt-4o", "--max-tokens", "2000")
    assert result.code == 7
    assert result.err.strip().splitlines() == [
        "openai-skill: refused before sending: the daily cap is $0.01; $0.00 spent today (UTC), $0.01 left; "
        "this call could cost up to $0.02 (gpt-4o, chat-completion)"]
    assert openai.requests == []                       # nothing reached the API
    as_json = cli("--json", "chat", "hi", "-m", "mystery-model")
    assert as_json.code == 7 and json.loads(as_json.out)["error"]["type"] == "budget_exceeded"
    assert "unknown" in json.loads(as_json.out)["error"]["message"] and openai.requests == []


def test_the_result_carries_the_settled_cost_and_the_ledger_records_it(openai, key, cli, tmp_path):
    assert cli("budget", "set", "--daily", "100").code == 0   # with a cap set, every paid call is a row
    openai.reply("POST", "/chat/completions", CHAT_ANSWER)
    openai.reply("GET", "/models", MODELS)
    result = cli("chat", "hi", "--full")
    assert result.code == 0, result.err
    cost = result.json()["cost"]
    assert cost == {"usd": round((1000 * 0.15 + 200 * 0.15 + 300 * 0.60) / 1e6, 8), "basis": "usage",
                    "prices_as_of": "2026-12-02", "model": "gpt-4o-mini", "input_tokens": 1200,
                    "cached_tokens": 200, "output_tokens": 300}
    assert cli("models").json()["cost"] == {"usd": 0.0, "basis": "free", "prices_as_of": "2026-12-02"}
    from openai_skill.spend import Guard

    row, free = Guard().ledger.rows()     # the free call is a row of the call log too
    assert (free["action"], free["status"], free["settled_usd"], free["surface"]) == ("list-models", "settled", 0.0,
                                                                                      "cli")
    assert row["surface"] == "cli" and row["status"] == "settled" and row["settled_usd"] == cost["usd"]
    assert row["request_id"] == "req_200_chat/completions" and row["input_tokens"] == 1200
    raw = Guard().ledger.path.read_bytes()
    assert CANARY_KEY.encode() not in raw and b"hi" not in raw.replace(b"chat", b"")


def test_dry_run_shows_the_worst_case_and_sends_nothing(openai, key, cli):
    result = cli("chat", "hi", "-m", "gpt-6.2-sol", "--max-tokens", "1000", "--dry-run")
    assert result.code == 0 and openai.requests == []
    cost = result.json()["cost"]
    assert cost["basis"] == "worst_case" and cost["output_tokens_at_most"] == 1000
    assert cost["usd"] == round((cost["input_tokens_at_most"] * 2.00 + 1000 * 10.00) / 1e6, 8)
    image = cli("image", "a fox", "-m", "gpt-image-2", "--quality", "low", "-n", "2", "--size", "1024x1024",
                "--dry-run").json()["cost"]
    assert image["usd"] == round(2 * 0.006 + len("a fox") * 5.00 / 1e6, 8) and image["images"] == 2


def test_a_person_at_the_terminal_can_raise_a_cap_and_a_wrong_word_changes_nothing(cli):
    """The spend guard's lifts use the one person check (surfaces/confirm.py, issue 16): the word
    it shows on the terminal, typed back there."""
    import re

    from support.terminal import run_on_a_terminal

    assert cli("budget", "set", "--daily", "2").code == 0
    code, _, err, _ = run_on_a_terminal(["budget", "set", "--daily", "3"], lambda _prompt: "y")
    assert code == 2 and "not confirmed" in err
    assert cli("budget", "show").json()["caps"]["daily"]["usd"] == 2.0

    def the_word(prompt: str) -> str:
        return re.findall(r"type (\S+) and press Enter", prompt)[-1]

    code, out, err, shown = run_on_a_terminal(["budget", "set", "--daily", "3"], the_word)
    assert code == 0, err
    assert "raise the daily cap from $2.00 to $3.00" in shown
    assert cli("budget", "show").json()["caps"]["daily"]["usd"] == 3.0
