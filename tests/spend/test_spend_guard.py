"""The guard's two promises about the ledger: with no cap set (the default) a call costs no
ledger work -- no SQLite import, no ledger file, only its line in the call journal -- and a
ledger that cannot be used never breaks a call without a cap, and never lets one through with a
cap (it refuses, clearly)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from support.canary import CANARY_KEY
from openai_skill.errors import BudgetError, InputError
from openai_skill.spend import Cost, Guard
from openai_skill.spend.caps import CAPS_NAME, LEDGER_NAME, TOTALS_NAME, write_caps
from openai_skill.spend.journal import JOURNAL_NAME
from openai_skill.spend.journal import records as journal_records

CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "hello", "refusal": None}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}

# One call through the package, then what the process imported: the call path as users run it.
CALL = textwrap.dedent("""
    import json, sys
    import openai_skill
    result = openai_skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})
    print(json.dumps({"sqlite3": "sqlite3" in sys.modules, "cost": result["cost"]}))
""")


def _env(openai, home) -> dict:
    return {**os.environ, "OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": openai.url,
            "OPENAI_SKILL_HOME": str(home)}


def _worst(usd=0.01):
    return Cost(usd, "worst_case", "2026-12-02", "gpt-4o-mini")


def test_without_a_cap_a_call_imports_no_sqlite_and_writes_no_ledger(openai, tmp_path):
    openai.reply("POST", "/chat/completions", CHAT)
    home = tmp_path / "cfg"
    env = _env(openai, home)
    out = subprocess.run([sys.executable, "-c", CALL], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["sqlite3"] is False and seen["cost"]["usd"] == round((10 * 0.15 + 2 * 0.60) / 1e6, 8)
    assert not (home / LEDGER_NAME).exists() and not (home / CAPS_NAME).exists()
    assert (home / JOURNAL_NAME).read_bytes().count(b"\n") == 1      # the call's row, waiting to be folded
    # The cold CLI too: -X importtime lists every module the command imported.
    cold = subprocess.run([sys.executable, "-X", "importtime", "-m", "openai_skill", "chat", "hi"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert cold.returncode == 0 and cold.stdout == "hello\n", cold.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in cold.stderr.splitlines() if "|" in line}
    assert "openai_skill.spend" in imported and not {"sqlite3", "_sqlite3", "openai_skill.spend.ledger"} & imported
    assert not (home / LEDGER_NAME).exists()
    # With a cap set, the call reserves through the running totals that `budget set` wrote
    # (totals.py): still no SQLite, and its reservation and settlement are two journal lines.
    assert subprocess.run([sys.executable, "-m", "openai_skill", "budget", "set", "--daily", "100"], env=env,
                          capture_output=True, timeout=60).returncode == 0
    out = subprocess.run([sys.executable, "-c", CALL], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["sqlite3"] is False and (home / JOURNAL_NAME).read_bytes().count(b"\n") == 2
    # Totals that cannot vouch (here: none) send the call to the ledger, which writes them again:
    # the check above can see the difference.
    (home / TOTALS_NAME).unlink()
    out = subprocess.run([sys.executable, "-c", CALL], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["sqlite3"] is True and (home / TOTALS_NAME).exists()


def test_a_ledger_that_cannot_be_used_never_breaks_a_call_without_a_cap(tmp_path):
    home = tmp_path / "cfg"
    (home / LEDGER_NAME).mkdir(parents=True)         # no SQLite file can be opened there
    guard = Guard({"OPENAI_SKILL_HOME": str(home)})
    with guard.hold(_worst(), surface="python", action="chat-completion", hold_seconds=5) as held:
        held.settle(_worst())
    # Only the unpriced allowance stored: still no cap to keep, so the call goes on unrecorded.
    write_caps(home / CAPS_NAME, {}, allow_unpriced=True)
    with guard.hold(_worst(), surface="python", action="chat-completion", hold_seconds=5) as held:
        held.settle(_worst())


@pytest.mark.parametrize("where", ["stored", "environment"])
def test_a_ledger_that_cannot_be_used_refuses_a_call_while_a_cap_is_set(tmp_path, where):
    home = tmp_path / "cfg"
    (home / LEDGER_NAME).mkdir(parents=True)
    env = {"OPENAI_SKILL_HOME": str(home)}
    if where == "stored":
        write_caps(home / CAPS_NAME, {"daily": 5.0}, allow_unpriced=False)
    else:
        env["OPENAI_SKILL_BUDGET_DAILY"] = "5"
    sent = []
    with pytest.raises(BudgetError) as refused:
        with Guard(env).hold(_worst(), surface="python", action="chat-completion", hold_seconds=5):
            sent.append(1)
    assert sent == [] and refused.value.exit_code == 7 and refused.value.details["reason"] == "ledger_unusable"
    assert refused.value.message.startswith(
        f"refused before sending: a spend cap is set and the spend ledger {home / LEDGER_NAME} cannot be used "
        "(IsADirectoryError")
    assert "check the folder's permissions and free space" in refused.value.message
    # The refusal is still a row of the call log: the journal holds it until the ledger is usable.
    (row,) = journal_records(home / JOURNAL_NAME)
    assert (row["status"], row["error"], row["settled_usd"], row["surface"]) == ("refused", "BudgetError", 0.0,
                                                                                 "python")


@pytest.mark.parametrize("content", [b"{not json", b'{"caps": {"daily": "lots"}}', b'{"caps": {"daily": -1}}',
                                     b'{"caps": {}, "allow_unpriced": "yes"}', b"[]", None])
def test_a_caps_file_that_cannot_be_read_refuses_every_call(tmp_path, content):
    home = tmp_path / "cfg"
    home.mkdir()
    if content is None:
        (home / CAPS_NAME).mkdir()                    # cannot be read at all
    else:
        (home / CAPS_NAME).write_bytes(content)
    with pytest.raises(BudgetError) as refused:
        Guard({"OPENAI_SKILL_HOME": str(home)}).hold(_worst(), surface="python", action="chat-completion",
                                                     hold_seconds=5)
    assert refused.value.details["reason"] == "caps_unreadable"
    assert f"the spend caps file {home / CAPS_NAME} cannot be read" in refused.value.message
    assert "whether a cap is set is unknown; nothing was sent" in refused.value.message


def test_the_caps_file_exists_only_while_something_is_stored_and_is_0600(tmp_path):
    guard = Guard({"OPENAI_SKILL_HOME": str(tmp_path / "cfg")})
    caps = tmp_path / "cfg" / CAPS_NAME
    guard.ledger.set_caps({"daily": 2.0, "per_call": 0.5})
    assert json.loads(caps.read_text()) == {"caps": {"daily": 2.0, "per_call": 0.5}, "allow_unpriced": False}
    assert os.stat(caps).st_mode & 0o777 == 0o600
    guard.ledger.set_caps({"daily": None})
    assert guard.ledger.stored_caps() == {"caps": {"per_call": 0.5}, "allow_unpriced": False}
    guard.ledger.set_caps({"per_call": None})
    assert not caps.exists()                          # nothing stored: calls skip the ledger again
    with pytest.raises(Exception, match="unknown cap 'hourly'"):
        guard.ledger.set_caps({"hourly": 1.0})
    assert guard.ledger.settle_ref("batch:none", Cost(0.1, "usage", "2026-12-02"), status="settled") is False
    guard.close()


def test_caps_that_cannot_be_written_are_an_error_and_change_nothing(tmp_path, monkeypatch):
    guard = Guard({"OPENAI_SKILL_HOME": str(tmp_path / "cfg")})
    guard.ledger.set_caps({"daily": 2.0})
    caps = tmp_path / "cfg" / CAPS_NAME

    def full_disk(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", full_disk)     # the new file is written, its rename fails
    with pytest.raises(InputError, match="cannot write the spend caps file .*: No space left on device; nothing"):
        guard.ledger.set_caps({"daily": 1.0})
    monkeypatch.undo()
    assert guard.ledger.stored_caps()["caps"] == {"daily": 2.0}
    assert [p.name for p in caps.parent.iterdir() if p.name.startswith(".")] == []  # no temp file left
    guard.close()


def test_show_reads_without_creating_a_ledger(tmp_path):
    guard = Guard({"OPENAI_SKILL_HOME": str(tmp_path / "cfg")})
    summary = guard.ledger.summary()
    assert summary["caps"]["daily"] == {"usd": None, "spent_usd": 0.0}
    assert (summary["unsettled_calls"], summary["unsettled_usd"]) == (0, 0)
    assert guard.ledger.rows() == [] and not (tmp_path / "cfg").exists()


def test_amounts_read_as_cents_or_as_the_digits_a_sub_cent_amount_needs():
    from openai_skill.spend.caps import usd

    assert [usd(v) for v in (0, 0.01, 0.0125, 1234.5, 0.0099, 0.000032)] == [
        "$0.00", "$0.01", "$0.01", "$1,234.50", "$0.0099", "$0.000032"]
