"""`openai-skill usage`: real calls against the loopback fake with a cap set, then the table with
totals and each cap's use, the report as JSON, a bar per day only on a terminal, bad input
refused with the field (nothing read or made), and ledger names that cannot reach a terminal
as escapes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from support.canary import CANARY_KEY
from support.openai_data import MODELS  # noqa: F401  (the fake answers models too)
from support.ledgers import close_ledgers  # noqa: F401  (autouse: every ledger opened here is closed)
from support.ledgers import open_ledger as _ledger

CHAT_ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
               "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                            "message": {"role": "assistant", "content": "hello", "refusal": None}}],
               "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                         "prompt_tokens_details": {"cached_tokens": 200}}}


def _two_chats(openai, cli) -> float:
    assert cli("budget", "set", "--daily", "1", "--monthly", "20").code == 0
    openai.reply("POST", "/chat/completions", CHAT_ANSWER)
    costs = []
    for _ in range(2):
        result = cli("chat", "hi", "--full")
        assert result.code == 0, result.err
        costs.append(result.json()["cost"]["usd"])
    return sum(costs)


def test_the_report_sums_the_calls_made_and_shows_each_caps_use(openai, key, cli):
    spent = _two_chats(openai, cli)
    report = cli("usage", "--json").json()
    assert report["by"] == "day" and report["days_in_window"] == 30
    assert report["totals"]["calls"] == 2 and round(report["totals"]["usd"], 8) == round(spent, 8)
    assert report["totals"]["input_tokens"] == 2400 and report["totals"]["cached_tokens"] == 400
    assert report["totals"]["output_tokens"] == 600 and report["totals"]["worst_case_calls"] == 0
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert [g["key"] for g in report["groups"]] == [today] and report["days"][-1]["calls"] == 2
    daily = report["caps"]["set"]["daily"]
    assert daily["usd"] == 1.0 and daily["spent_usd"] == round(spent, 8)
    assert daily["left_usd"] == round(1.0 - spent, 8) and daily["used"] == round(spent, 4)
    assert cli("--json", "usage").json() == report                       # the top-level flag says the same

    table = cli("usage", "--by", "model", "--since", "7d")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].startswith("usage ") and lines[0].endswith(f"to {today} (UTC), by model")
    assert re.fullmatch(r"model\s+calls\s+errors\s+input\s+cached\s+output\s+images\s+cost", lines[1])
    assert re.fullmatch(rf"gpt-4o-mini\s+2\s+0\s+2,400\s+400\s+600\s+0\s+\${spent:.6f}".rstrip("0"), lines[2])
    assert lines[3].startswith("-----------") and lines[4].startswith("total ")
    assert f"daily     $1.00: ${spent:.6f}".rstrip("0") in table.out
    assert "spent today (UTC)" in table.out and "left (0% used)" in table.out
    assert "█" not in table.out                                           # no terminal: no chart
    assert CANARY_KEY not in table.out + table.err


def test_a_call_not_settled_is_marked_at_its_worst_case(key, cli):
    from openai_skill.spend import Cost

    assert cli("budget", "set", "--daily", "5").code == 0
    _ledger().reserve(Cost(0.5, "worst_case", "2026-12-02", "gpt-4o"), surface="python",
                      action="chat-completion", hold_seconds=1)
    table = cli("usage", "--by", "surface").out
    assert re.search(r"^python\s+1\s+0\s+0\s+0\s+0\s+0\s+\$0\.50\*$", table, re.MULTILINE)
    assert "* includes 1 unsettled call(s) at their worst case ($0.50)" in table
    assert "  daily     $5.00: $0.50 spent today (UTC), $4.50 left (10% used)" in table.splitlines()


def test_bad_input_names_the_field_and_reads_nothing(cli):
    result = cli("usage", "--since", "7x")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("openai-skill: since: neither a number of days nor a date, got '7x'; expected")
    assert len(result.err.strip().splitlines()) == 1
    error = cli("usage", "--by", "week", "--json").json()["error"]
    assert error["field"] == "by" and error["given"] == "week" and error["expected"] == [
        "day", "model", "action", "surface"]
    assert not _ledger().path.exists() and not _ledger().caps_file.exists()


def test_without_a_ledger_it_says_so_and_makes_nothing(cli):
    result = cli("usage")
    assert result.code == 0
    assert "no calls recorded in this window" in result.out and "no spend cap is set" in result.out
    assert not _ledger().path.exists()


def _on_a_terminal(args: list[str], columns: int = 100) -> str:
    """The installed command with a pseudo-terminal as its stdout; what the terminal showed."""
    import pty
    import select
    import struct
    import termios
    import fcntl

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    exe = os.path.join(os.path.dirname(sys.executable), "openai-skill")
    proc = subprocess.Popen([exe, *args], stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8"})
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        assert ready, "the command printed nothing for 30 s"
        try:
            chunk = os.read(master, 65536)
        except OSError:          # EIO: the command closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    os.close(master)
    return shown.decode("utf-8")


def test_on_a_terminal_a_bar_per_day_within_the_width_and_no_escape_from_the_ledger(key, cli):
    from openai_skill.spend import Cost

    assert cli("budget", "set", "--daily", "5").code == 0
    ledger = _ledger()
    now = time.time()
    for days_ago, usd, model in ((0, 0.40, "gpt-4o"), (2, 0.10, "\x1b]0;pwned\x07\x1b[2Jevil"), (2, 0.10, "x")):
        ledger.clock = lambda at=now - days_ago * 86400: at
        row = ledger.reserve(Cost(usd, "worst_case", "2026-12-02", model), surface="cli",
                             action="chat-completion", hold_seconds=60)
        ledger.settle(row, Cost(usd, "usage", "2026-12-02", model), status="settled")
    shown = _on_a_terminal(["usage", "--since", "5d", "--by", "model"], columns=80)
    assert "\x1b" not in shown and "\x07" not in shown and "pwned" in shown     # shown as text, never obeyed
    lines = shown.replace("\r\n", "\n").splitlines()
    bars = [line for line in lines if re.match(r"\d{4}-\d{2}-\d{2}  ", line)]
    assert len(bars) == 5                                                       # one per day of the window
    full = [line for line in bars if "█" in line]
    assert len(full) == 2 and all(len(line) <= 80 for line in lines)
    width = {line[:10]: line.count("█") for line in full}
    today, two_ago = sorted(width)[1], sorted(width)[0]
    assert width[today] == 80 - 36 and width[two_ago] == (80 - 36) // 2        # against the dearest day
    assert _on_a_terminal(["usage", "--since", "1d"], columns=300).splitlines()[0].count("█") == 60   # at most 60
    assert "$0.40  (1 call)" in bars[-1] and "(0 calls)" in bars[0]
    narrow = _on_a_terminal(["usage", "--since", "2d"], columns=20)
    assert max(line.count("█") for line in narrow.splitlines()) == 10          # never narrower than 10 cells


def test_bars_are_eighths_of_the_width_a_sliver_at_least_and_hashes_without_unicode():
    from openai_skill.surfaces.cli.usage import bar, chart

    assert bar(1.0, 1.0, 10) == "█" * 10 and bar(2.0, 1.0, 10) == "█" * 10          # never past the width
    assert bar(0.5, 1.0, 10) == "█" * 5 and bar(0.55, 1.0, 10) == "█" * 5 + "▌"
    assert bar(1e-9, 1.0, 10) == "▏" and bar(0.0, 1.0, 10) == "" and bar(1.0, 0.0, 10) == ""
    assert bar(0.5, 1.0, 10, unicode=False) == "#" * 5 and bar(1e-9, 1.0, 10, unicode=False) == "#"
    drawn = chart([{"day": "2026-12-01", "usd": 0.5, "calls": 1, "worst_case_calls": 1},
                   {"day": "2026-12-02", "usd": 1.0, "calls": 2, "worst_case_calls": 0}], 8)
    assert drawn.splitlines() == ["2026-12-01  ████      $0.50*  (1 call)", "2026-12-02  ████████  $1.00  (2 calls)"]
    assert chart([], 8) == ""


def test_caps_text_says_each_caps_use():
    from openai_skill.surfaces.cli.usage import caps_text

    caps = {"set": {"per_call": {"usd": 1.0, "period": "one call"},
                    "daily": {"usd": 4.0, "period": "today (UTC)", "spent_usd": 1.0, "left_usd": 3.0, "used": 0.25,
                              "lowered_by": "OPENAI_SKILL_BUDGET_DAILY"}},
            "unsettled_calls": 2, "unsettled_usd": 0.5}
    assert caps_text(caps).splitlines() == [
        "spend caps:", "  per-call  $1.00 for one call",
        "  daily     $4.00: $1.00 spent today (UTC), $3.00 left (25% used) (lowered by OPENAI_SKILL_BUDGET_DAILY)",
        "  2 call(s) never settled count at their worst case ($0.50)"]
    assert caps_text({**caps, "set": {}}).startswith("no spend cap is set") and caps_text(None) == caps_text(
        {**caps, "set": {}})
