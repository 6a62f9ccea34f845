"""The spend ledger: caps checked and reserved in one transaction, settled after; UTC periods;
environment caps only lower; crashed calls stay charged; 8 processes racing a daily cap never
overshoot it; the file is 0600 and stays whole when a writer is killed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from openai_skill.errors import APIError, APITimeoutError, BudgetError
from openai_skill.spend import Cost, Guard
from openai_skill.spend.ledger import Ledger
from support.racers import race
from support.timing import wait_until

AS_OF = "2026-12-02"


def _worst(usd, model="gpt-4o-mini"):
    return Cost(usd, "worst_case", AS_OF, model)


@pytest.fixture
def ledger(tmp_path):
    clock = [1_796_000_000.0]  # 2026-11-30 (UTC)
    book = Ledger(tmp_path / "cfg" / "spend.sqlite3", env={}, clock=lambda: clock[0])
    book.clock_value = clock
    yield book
    book.close()


def test_a_daily_cap_refuses_with_the_cap_spent_and_left(ledger):
    ledger.set_caps({"daily": 1.0})
    row = ledger.reserve(_worst(0.7), surface="cli", action="chat-completion", hold_seconds=900)
    ledger.settle(row, Cost(0.6, "usage", AS_OF), status="settled")
    with pytest.raises(BudgetError) as refused:
        ledger.reserve(_worst(0.5), surface="cli", action="chat-completion", hold_seconds=900)
    assert refused.value.exit_code == 7
    assert refused.value.message == ("refused before sending: the daily cap is $1.00; $0.60 spent today (UTC), "
                                     "$0.40 left; this call could cost up to $0.50 (gpt-4o-mini, chat-completion)")
    assert "\n" not in refused.value.message
    ledger.reserve(_worst(0.4), surface="cli", action="chat-completion", hold_seconds=900)  # exactly fits


def test_a_reservation_counts_at_its_worst_case_until_settled_and_after_its_deadline(ledger):
    ledger.set_caps({"daily": 1.0})
    ledger.reserve(_worst(0.9), surface="cli", action="chat-completion", hold_seconds=10)  # never settled: crashed
    ledger.clock_value[0] += 3600
    with pytest.raises(BudgetError, match=r"\$0\.90 spent today"):
        ledger.reserve(_worst(0.2), surface="cli", action="chat-completion", hold_seconds=10)
    summary = ledger.summary()
    assert summary["unsettled_calls"] == 1 and summary["unsettled_usd"] == 0.9


def test_days_and_months_are_utc_periods(ledger):
    ledger.set_caps({"daily": 1.0, "monthly": 1.5})
    ledger.clock_value[0] = 1_796_083_199.0          # 2026-11-30 23:59:59 UTC
    ledger.reserve(_worst(0.9), surface="cli", action="chat-completion", hold_seconds=1)
    ledger.clock_value[0] += 2                       # 2026-12-01 00:00:01 UTC: a new day and month
    ledger.reserve(_worst(0.9), surface="cli", action="chat-completion", hold_seconds=1)
    with pytest.raises(BudgetError, match="daily cap"):
        ledger.reserve(_worst(0.2), surface="cli", action="chat-completion", hold_seconds=1)
    assert ledger.summary()["day"] == "2026-12-01" and ledger.summary()["month"] == "2026-12"


def test_per_call_cap_and_unknown_prices(ledger):
    ledger.set_caps({"per_call": 0.10})
    with pytest.raises(BudgetError, match=r"per-call cap is \$0\.10 and this call could cost up to \$0\.25"):
        ledger.reserve(_worst(0.25), surface="cli", action="chat-completion", hold_seconds=1)
    unknown = Cost(None, "worst_case", AS_OF, "mystery", unknown="model 'mystery' has no price")
    with pytest.raises(BudgetError, match="cost of this call is unknown .*--allow-unpriced"):
        ledger.reserve(unknown, surface="cli", action="chat-completion", hold_seconds=1)
    ledger.set_caps({}, allow_unpriced=True)
    ledger.reserve(unknown, surface="cli", action="chat-completion", hold_seconds=1)
    assert [r["status"] for r in ledger.rows()] == ["reserved"] and ledger.rows()[0]["priced"] == 0


def test_environment_caps_only_lower(tmp_path):
    book = Ledger(tmp_path / "spend.sqlite3", env={"OPENAI_SKILL_BUDGET_DAILY": "50"})
    book.set_caps({"daily": 1.0})
    with pytest.raises(BudgetError, match=r"daily cap is \$1\.00"):
        book.reserve(_worst(2.0), surface="cli", action="a", hold_seconds=1)
    lower = Ledger(tmp_path / "spend.sqlite3", env={"OPENAI_SKILL_BUDGET_DAILY": "0.5"})
    with pytest.raises(BudgetError, match=r"daily cap is \$0\.50"):
        lower.reserve(_worst(0.6), surface="cli", action="a", hold_seconds=1)
    assert lower.summary()["caps"]["daily"] == {"usd": 0.5, "stored_usd": 1.0,
                                                "lowered_by": "OPENAI_SKILL_BUDGET_DAILY",
                                                "spent_usd": 0.0, "left_usd": 0.5}
    with pytest.raises(Exception, match="OPENAI_SKILL_BUDGET_DAILY: expected an amount in USD"):
        Ledger(tmp_path / "spend.sqlite3", env={"OPENAI_SKILL_BUDGET_DAILY": "lots"}).reserve(
            _worst(0.1), surface="cli", action="a", hold_seconds=1)


def test_holds_settle_answered_errors_at_zero_and_keep_others_at_worst(tmp_path):
    guard = Guard({"OPENAI_SKILL_HOME": str(tmp_path / "cfg")})
    guard.ledger.set_caps({"daily": 10.0})   # the ledger records calls while a cap is set
    with pytest.raises(APIError):
        with guard.hold(_worst(0.3), surface="python", action="chat-completion", hold_seconds=5):
            raise APIError("bad", status=400)
    with pytest.raises(APITimeoutError):
        with guard.hold(_worst(0.2), surface="python", action="chat-completion", hold_seconds=5):
            raise APITimeoutError("slow")
    rows = guard.ledger.rows()
    assert [(r["status"], r["settled_usd"], r["error"]) for r in rows] == [
        ("failed", 0.0, "APIError"), ("left", None, "APITimeoutError")]
    assert guard.ledger.summary()["caps"]["daily"]["spent_usd"] == 0.2
    assert stat.S_IMODE(os.stat(guard.ledger.path).st_mode) == 0o600
    guard.close()


RACER = """
    import sys
    from openai_skill.errors import BudgetError
    from openai_skill.spend import Cost
    from openai_skill.spend.ledger import Ledger
    book = Ledger(sys.argv[1], env={})
    wait_for_go()
    accepted = 0
    for _ in range(int(sys.argv[2])):
        try:
            book.reserve(Cost(0.01, "worst_case", "2026-12-02", "gpt-4o-mini"), surface="racer",
                         action="chat-completion", hold_seconds=60)
            accepted += 1
        except BudgetError:
            pass
    print(accepted)
"""


def test_eight_processes_racing_a_daily_cap_never_overshoot(tmp_path):
    path = tmp_path / "spend.sqlite3"
    Ledger(path, env={}).set_caps({"daily": 0.5})   # room for exactly 50 reservations of $0.01
    accepted = [int(out) for out, _ in race(RACER, [path, 20], count=8, folder=tmp_path)]
    rows = Ledger(path, env={}).rows()
    total = sum(r["reserved_usd"] for r in rows)
    assert sum(accepted) == len(rows) == 50          # 160 attempts, exactly 50 fit: overshoot 0
    assert total == pytest.approx(0.5) and total <= 0.5 + 1e-9
    assert len([n for n in accepted if n]) >= 2       # they did race (more than one process got room)


@pytest.mark.parametrize("round_", range(8))
def test_processes_making_a_new_ledger_at_once_all_get_in(tmp_path, round_):
    # Each finds no schema and asks for WAL mode; SQLite answers one of two such processes
    # "database is locked" at once instead of waiting: that one must try again, not fail.
    # (Before it did, about one round in ten failed: eight rounds of twelve catch it most times.)
    path = tmp_path / "spend.sqlite3"
    outcomes = race(RACER, [path, 2], count=12, folder=tmp_path)
    assert [int(out) for out, _ in outcomes] == [2] * 12
    assert len(Ledger(path, env={}).rows()) == 24


KILLED = textwrap.dedent("""
    import sys
    from openai_skill.spend import Cost
    from openai_skill.spend.ledger import Ledger
    book = Ledger(sys.argv[1], env={})
    print("ready", flush=True)
    while True:
        book.reserve(Cost(0.000001, "worst_case", "2026-12-02", "gpt-4o-mini"), surface="k",
                     action="chat-completion", hold_seconds=60)
""")


def test_the_ledger_survives_a_writer_killed_mid_write(tmp_path):
    path = tmp_path / "spend.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        # Killed once it has written a few rows (however slowly it runs), while it writes more.
        wait_until(lambda: len(Ledger(path, env={}).rows()) >= 5, "the writer's first rows")
    finally:
        proc.send_signal(signal.SIGKILL)   # also when the test failed: never a writer left running
        proc.wait(timeout=60)
    book = Ledger(path, env={})
    count = len(book.rows())
    assert count > 0
    assert book._write(lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"
    book.reserve(_worst(0.01), surface="cli", action="chat-completion", hold_seconds=1)
    assert len(book.rows()) == count + 1


def _totals_match_the_calls(book) -> None:
    """The running totals a reservation reads equal the sum over the calls, for every period."""
    def work(conn):
        totals = dict(conn.execute("SELECT period, usd FROM spent"))
        sums = dict(conn.execute("SELECT 'day:' || day, SUM(COALESCE(settled_usd, reserved_usd)) FROM calls "
                                 "GROUP BY day UNION ALL SELECT 'month:' || month, "
                                 "SUM(COALESCE(settled_usd, reserved_usd)) FROM calls GROUP BY month"))
        return totals, sums
    totals, sums = book._write(work)
    assert set(sums) <= set(totals)                  # a period whose calls were all deleted stays at 0
    assert all(totals[p] == pytest.approx(sums.get(p, 0.0), abs=1e-12) for p in totals), (totals, sums)


def test_running_totals_follow_every_reserve_settle_and_delete(ledger):
    ledger.clock_value[0] = 1_795_500_000.0          # 2026-11-24 (UTC): the next day is in the same month
    ledger.set_caps({"daily": 10.0})
    first = ledger.reserve(_worst(0.5), surface="cli", action="a", hold_seconds=60)
    ledger.settle(first, Cost(0.1, "usage", AS_OF), status="settled")
    ledger.reserve(_worst(0.3), surface="cli", action="a", hold_seconds=60)          # left open
    unknown = ledger.reserve(_worst(0.2), surface="cli", action="a", hold_seconds=60)
    ledger.settle(unknown, None, status="cost_unknown")                               # stays at its worst
    ledger.clock_value[0] += 86_400                                                   # the next UTC day
    batch = ledger.reserve(_worst(0.4), surface="batch", action="a", hold_seconds=60, ref="batch:b1")
    assert ledger.settle_ref("batch:b1", Cost(0.05, "usage", AS_OF), status="settled")
    _totals_match_the_calls(ledger)
    day = ledger.summary()
    assert day["caps"]["daily"]["spent_usd"] == pytest.approx(0.05)
    assert day["caps"]["monthly"]["spent_usd"] == pytest.approx(0.1 + 0.3 + 0.2 + 0.05)
    ledger._write(lambda conn: conn.execute("DELETE FROM calls WHERE id = ?", (batch,)))  # retention, later
    _totals_match_the_calls(ledger)


def test_a_ledger_without_totals_has_them_rebuilt_from_its_calls(tmp_path):
    path = tmp_path / "spend.sqlite3"
    book = Ledger(path, env={})
    book.set_caps({"daily": 1.0})
    for _ in range(3):
        book.reserve(_worst(0.3), surface="cli", action="a", hold_seconds=60)
    # As a ledger made before the totals existed: the calls are there, the totals are not.
    book._write(lambda conn: conn.execute("DELETE FROM spent"))
    book._connection().execute("PRAGMA user_version = 0")
    book.close()
    again = Ledger(path, env={})
    with pytest.raises(BudgetError, match=r"\$0\.90 spent today"):
        again.reserve(_worst(0.2), surface="cli", action="a", hold_seconds=60)
    _totals_match_the_calls(again)
    again.close()


def test_an_attached_reservation_stays_open_after_its_hold_ends(tmp_path):
    guard = Guard({"OPENAI_SKILL_HOME": str(tmp_path / "cfg")})
    guard.ledger.set_caps({"daily": 10.0})
    with guard.hold(_worst(0.3), surface="batch", action="chat-completion", hold_seconds=60) as held:
        held.attach("batch:b1")
    (row,) = guard.ledger.rows()
    assert (row["status"], row["ref"], row["settled_usd"]) == ("reserved", "batch:b1", None)
    guard.settle_ref("batch:b1", Cost(0.1, "usage", AS_OF))
    (row,) = guard.ledger.rows()
    assert (row["status"], row["settled_usd"]) == ("settled", 0.1)
    guard.close()


def test_a_long_lived_guard_follows_the_config_folder(tmp_path):
    from openai_skill import config

    Ledger(tmp_path / "capped" / "spend.sqlite3", env={}).set_caps({"per_call": 0.1})
    env = {"OPENAI_SKILL_HOME": str(tmp_path / "free")}
    guard = Guard(env)
    with guard.hold(_worst(0.3), surface="mcp", action="chat-completion", hold_seconds=60):
        pass
    env["OPENAI_SKILL_HOME"] = str(tmp_path / "capped")        # an MCP server's environment changed
    with pytest.raises(BudgetError, match="per-call cap"):
        guard.hold(_worst(0.3), surface="mcp", action="chat-completion", hold_seconds=60)
    env["OPENAI_SKILL_HOME"] = str(tmp_path / "free")
    with guard.hold(_worst(0.3), surface="mcp", action="chat-completion", hold_seconds=60):
        pass
    guard.close()
    # The guard keeps the folder while these variables are unchanged: each must be read by
    # config_folder, and nothing else may be.
    class Reading(dict):
        def get(self, name, default=None):
            read.add(name)
            return super().get(name, default)

        def __getitem__(self, name):
            read.add(name)
            return super().__getitem__(name)

    read: set = set()
    names = config.CONFIG_FOLDER_VARIABLES
    for i, name in enumerate(names):
        only = {n: f"/{n}" for n in names[i:]}        # the ones config_folder prefers unset
        assert config.config_folder(Reading(only)) != config.config_folder(Reading({**only, name: "/else"})), name
    assert read == set(names)
