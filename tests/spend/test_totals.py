"""The running totals (spend/totals.py): a call made while a cap is set reserves without SQLite;
the totals count exactly what the ledger will, racing processes never overshoot a cap through
them, and totals that cannot vouch for what is spent send the call to the ledger."""

from __future__ import annotations

import json
import os
import time
import zlib

import pytest

from openai_skill.errors import APIError, APITimeoutError, BudgetError
from openai_skill.spend import Cost, Guard, fold, journal, totals
from openai_skill.spend.caps import TOTALS_NAME
from support.racers import race

AS_OF = "2026-12-02"


def _worst(usd, model="gpt-4o-mini"):
    return Cost(usd, "worst_case", AS_OF, model)


def _guard(tmp_path, **caps):
    guard = Guard({"OPENAI_SKILL_HOME": str(tmp_path / "cfg")})
    guard.ledger.set_caps(caps)   # writes the totals: the next calls reserve through them
    guard.ledger.close()
    return guard


def _counted(home) -> dict:
    """The totals as a reservation would see them now (the journal's new lines counted)."""
    with totals.locked(home / TOTALS_NAME) as box:
        state = box.read()
    assert state is not None and totals.catch_up(state, home / journal.JOURNAL_NAME)
    return state


def test_a_capped_call_reserves_through_the_totals_and_the_ledger_agrees(tmp_path):
    home = tmp_path / "cfg"
    guard = _guard(tmp_path, daily=10.0)
    with guard.hold(_worst(0.3), surface="python", action="chat-completion", hold_seconds=5) as held:
        assert held.booked is None and held.call_id                 # no SQLite transaction: a journal line
        assert _counted(home)["day_usd"] == pytest.approx(0.3)       # reserved at its worst case meanwhile
        held.settle(Cost(0.1, "usage", AS_OF, "gpt-4o-mini", details={"input_tokens": 7}), "req_1")
    with pytest.raises(APIError):
        with guard.hold(_worst(0.2), surface="python", action="chat-completion", hold_seconds=5):
            raise APIError("bad", status=400)                      # answered with an error: billed nothing
    with pytest.raises(APITimeoutError):
        with guard.hold(_worst(0.25), surface="python", action="chat-completion", hold_seconds=5):
            raise APITimeoutError("slow")                          # may have been billed: its worst case
    with guard.hold(_worst(0.05), surface="python", action="chat-completion", hold_seconds=5) as held:
        held.settle(Cost(None, "usage", AS_OF, unknown="no price"))  # unknown: stays at its worst case
    with guard.hold(_worst(0.4), surface="batch", action="chat-completion", hold_seconds=5) as held:
        held.attach("batch:b1")                                    # open until the batch is fetched
    crashed = guard.hold(_worst(0.15), surface="cli", action="chat-completion", hold_seconds=5)  # never ends
    # A line another process appended without reserving (a call made before the cap was set).
    journal.append(home / journal.JOURNAL_NAME, {"made_at": crashed.log.made_at, "surface": "cli",
                                                 "action": "create-embedding", "status": "settled",
                                                 "reserved_usd": 0.02, "settled_usd": 0.01})
    with pytest.raises(BudgetError, match="daily cap"):
        guard.hold(_worst(9.5), surface="python", action="chat-completion", hold_seconds=5)
    expected = 0.1 + 0 + 0.25 + 0.05 + 0.4 + 0.15 + 0.01
    assert _counted(home)["day_usd"] == pytest.approx(expected)
    assert _counted(home)["month_usd"] == pytest.approx(expected)
    # The ledger folds the same lines into rows and its own totals: the same sums, one row a call.
    summary = guard.ledger.summary()
    assert summary["caps"]["daily"]["spent_usd"] == pytest.approx(expected)
    rows = guard.ledger.rows()
    assert [(r["status"], r["settled_usd"]) for r in rows] == [
        ("settled", 0.1), ("failed", 0.0), ("left", None), ("cost_unknown", None), ("reserved", None),
        ("reserved", None), ("settled", 0.01), ("refused", 0.0)]
    assert rows[0]["input_tokens"] == 7 and rows[0]["request_id"] == "req_1" and rows[4]["ref"] == "batch:b1"
    fresh = _counted(home)   # rewritten by the ledger: nothing left to count, the same sums
    assert (fresh["journal"], fresh["at"]) == (None, 0) and fresh["day_usd"] == pytest.approx(expected)
    guard.settle_ref("batch:b1", Cost(0.1, "usage", AS_OF))
    assert _counted(home)["day_usd"] == pytest.approx(expected - 0.3)
    guard.close()


def _write_totals(home, **changes):
    with totals.locked(home / TOTALS_NAME) as box:
        state = box.read()
        box.write({**state, **changes})


@pytest.mark.parametrize("spoil", ["missing", "torn", "another day", "another month", "another journal",
                                   "too much to count", "shrunk"])
def test_totals_that_cannot_vouch_send_the_call_to_the_ledger(tmp_path, spoil):
    home = tmp_path / "cfg"
    guard = _guard(tmp_path, daily=1.0)
    with guard.hold(_worst(0.5), surface="python", action="chat-completion", hold_seconds=5) as held:
        held.settle(Cost(0.5, "usage", AS_OF))
    path, log = home / TOTALS_NAME, home / journal.JOURNAL_NAME
    if spoil == "missing":
        path.unlink()
    elif spoil == "torn":
        path.write_bytes(path.read_bytes()[:40])
    elif spoil == "another day":
        _write_totals(home, day="2026-01-01", day_usd=0.0)
    elif spoil == "another month":
        _write_totals(home, month="2026-01", month_usd=0.0)
    elif spoil == "another journal":   # folded by a process that did not rewrite the totals (an old version)
        conn = guard.ledger._connection()
        conn.execute("BEGIN IMMEDIATE")
        asides = fold.fold(conn, log, guard.ledger.periods)
        conn.execute("COMMIT")
        for aside in asides:
            aside.unlink()
        journal.append(log, {"made_at": 1.0, "surface": "cli", "action": "x", "status": "settled"})
    elif spoil == "too much to count":
        with open(log, "ab") as out:
            out.write(b"x" * (totals.TAIL_BYTES + 1) + b"\n")
    elif spoil == "shrunk":
        _write_totals(home, at=log.stat().st_size + 1)
    with totals.locked(path) as box:
        state = box.read()
    assert state is None or not totals.catch_up(state, log) or (state["day"], state["month"]) != totals.periods(
        time.time())
    # Every case: the ledger decides, from its own rows: $0.50 spent, so $0.60 more is refused.
    with pytest.raises(BudgetError, match=r"\$0\.50 spent today"):
        guard.hold(_worst(0.6), surface="python", action="chat-completion", hold_seconds=5)
    with guard.hold(_worst(0.4), surface="python", action="chat-completion", hold_seconds=5) as held:
        assert held.booked is not None                          # the ledger reserved it
        held.settle(Cost(0.4, "usage", AS_OF))
    # ...and wrote the totals again: the next call reserves through them, on the ledger's sums.
    with guard.hold(_worst(0.1), surface="python", action="chat-completion", hold_seconds=5) as held:
        assert held.booked is None and held.call_id
        held.settle(Cost(0.1, "usage", AS_OF))
    with pytest.raises(BudgetError, match=r"\$1\.00 spent today"):
        guard.hold(_worst(0.01), surface="python", action="chat-completion", hold_seconds=5)
    guard.close()


RACER = """
    import json, sys
    from openai_skill.errors import BudgetError
    from openai_skill.spend import Cost, Guard
    guard = Guard({"OPENAI_SKILL_HOME": sys.argv[1]})
    wait_for_go()
    accepted = 0
    for n in range(int(sys.argv[2])):
        try:
            with guard.hold(Cost(0.02, "worst_case", "2026-12-02", "gpt-4o-mini"), surface="racer",
                            action="chat-completion", hold_seconds=60) as held:
                held.settle(Cost(0.01 if n % 2 else 0.02, "usage", "2026-12-02"))
            accepted += 1
        except BudgetError:
            pass
    print(json.dumps({"accepted": accepted, "sqlite3": "sqlite3" in sys.modules}))
"""


def test_eight_processes_racing_a_daily_cap_through_the_totals_never_overshoot(tmp_path):
    home = tmp_path / "cfg"
    _guard(tmp_path, daily=0.5).close()
    seen = [json.loads(out) for out, _ in race(RACER, [home, 20], count=8, folder=tmp_path)]
    assert not any(s["sqlite3"] for s in seen)             # every reservation went through the totals
    guard = Guard({"OPENAI_SKILL_HOME": str(home)})
    rows = [r for r in guard.ledger.rows() if r["status"] == "settled"]
    spent = sum(r["settled_usd"] for r in rows)
    assert sum(s["accepted"] for s in seen) == len(rows)
    # Each call reserves $0.02 and settles at $0.01 or $0.02: the cap is met, never passed, and a
    # call was refused only when its worst case did not fit.
    assert spent <= 0.5 + 1e-9 and spent > 0.5 - 0.02 - 1e-9
    assert guard.ledger.summary()["caps"]["daily"]["spent_usd"] == pytest.approx(spent)
    assert len([s for s in seen if s["accepted"]]) >= 2   # they did race
    guard.close()


def test_the_totals_file_is_private_and_a_link_is_refused(tmp_path):
    home = tmp_path / "cfg"
    _guard(tmp_path, daily=1.0).close()
    assert os.stat(home / TOTALS_NAME).st_mode & 0o777 == 0o600
    target = tmp_path / "elsewhere"
    target.write_bytes(b"keep")
    (home / TOTALS_NAME).unlink()
    (home / TOTALS_NAME).symlink_to(target)
    guard = Guard({"OPENAI_SKILL_HOME": str(home)})
    with pytest.raises(BudgetError, match="cannot be used"):   # the ledger cannot take its lock either
        guard.hold(_worst(0.1), surface="python", action="chat-completion", hold_seconds=5)
    assert target.read_bytes() == b"keep"
    guard.close()


@pytest.mark.parametrize("bad", [{"day_usd": "0.5"}, {"month_usd": True}, {"month_usd": float("nan")},
                                 {"at": -1}, {"at": 1.5}, {"journal": [1]}, {"journal": [1, "2"]},
                                 {"journal": "1:2"}, {"day": None}, {"v": 2}])
def test_totals_of_the_wrong_shape_are_not_read(tmp_path, bad):
    """A line whose checksum holds but whose fields are not the totals (another version, an
    edit) is not used: the ledger decides, as for a torn file."""
    home = tmp_path / "cfg"
    _guard(tmp_path, daily=1.0).close()
    with totals.locked(home / TOTALS_NAME) as box:
        good = box.read()
        assert good is not None
        body = json.dumps({**good, **bad}).encode()      # framed as the file frames it, checksum and all
        (home / TOTALS_NAME).write_bytes(journal.START + body + journal.SEP + b"%08x" % zlib.crc32(body) + journal.END)
        assert box.read() is None
        box.write(good)
        assert box.read() == good


def test_a_long_journal_is_counted_from_where_the_totals_stopped(tmp_path):
    """Only the lines appended since the last count are read: a journal past TAIL_BYTES whose
    new part is short keeps reserving through the totals."""
    home = tmp_path / "cfg"
    guard = _guard(tmp_path, daily=10.0)
    log = home / journal.JOURNAL_NAME
    for size in (totals.TAIL_BYTES * 3 // 4, totals.TAIL_BYTES // 2):   # junk the fold skips, as a torn line
        with open(log, "ab") as out:
            out.write(b"x" * size + b"\n")
        with guard.hold(_worst(0.5), surface="python", action="chat-completion", hold_seconds=5) as held:
            assert held.booked is None and held.call_id           # through the totals, not the ledger
            held.settle(Cost(0.5, "usage", AS_OF))
    assert log.stat().st_size > totals.TAIL_BYTES or not log.exists()   # folded once it passed 256 KB
    assert guard.ledger.summary()["caps"]["daily"]["spent_usd"] == pytest.approx(1.0)
    guard.close()


def test_a_settlement_folded_after_its_reservation_completes_the_same_row(tmp_path):
    """The reservation is folded first (a reader came by during the call), its settlement
    later, from another journal file: the fold's upsert completes the row."""
    guard = _guard(tmp_path, daily=10.0)
    with guard.hold(_worst(0.3), surface="python", action="chat-completion", hold_seconds=5) as held:
        (row,) = guard.ledger.rows()                      # folds the reservation line alone
        assert (row["status"], row["reserved_usd"], row["settled_usd"]) == ("reserved", 0.3, None)
        held.settle(Cost(0.1, "usage", AS_OF, "gpt-4o-mini",
                         details={"input_tokens": 7, "output_tokens": 3, "reasoning_tokens": 2}), "req_9")
    (row,) = guard.ledger.rows()
    assert (row["status"], row["settled_usd"], row["request_id"], row["input_tokens"], row["output_tokens"],
            row["reasoning_tokens"]) == ("settled", 0.1, "req_9", 7, 3, 2)
    assert row["latency_s"] is not None and row["error"] is None and row["reserved_usd"] == 0.3
    assert guard.ledger.summary()["caps"]["daily"]["spent_usd"] == pytest.approx(0.1)
    guard.close()


def test_counting_waits_for_a_writer_thread_of_the_same_process(tmp_path):
    """POSIX record locks belong to the process: a count that opened and closed the journal
    while a writer thread held its lock would drop that lock under the writer, and a folder in
    another process could read a half-written line. The count waits for the writer instead."""
    import threading

    home = tmp_path / "cfg"
    _guard(tmp_path, daily=1.0).close()
    journal.append(home / journal.JOURNAL_NAME, {"made_at": time.time(), "surface": "cli", "action": "x",
                                                 "status": "settled", "settled_usd": 0.25})
    with totals.locked(home / TOTALS_NAME) as box:
        state = box.read()
    counted = []
    counter = threading.Thread(target=lambda: counted.append(totals.catch_up(state, home / journal.JOURNAL_NAME)))
    with journal._LOCK:                   # as a writer thread holds it, from its lock to its unlock
        counter.start()
        counter.join(0.3)
        assert counter.is_alive() and not counted
    counter.join(30)
    assert counted == [True] and state["day_usd"] == pytest.approx(0.25)


def test_a_child_forked_while_a_thread_holds_the_totals_lock_reserves_at_once(tmp_path):
    home = tmp_path / "cfg"
    guard = _guard(tmp_path, daily=1.0)
    with totals._LOCK:                    # as a thread of the parent holds it at the fork
        pid = os.fork()
        if pid == 0:                      # the child: reserve and report through its exit status
            try:
                with guard.hold(_worst(0.1), surface="python", action="chat-completion", hold_seconds=5) as held:
                    ok = held.call_id is not None
                    held.settle(Cost(0.1, "usage", AS_OF))
                os._exit(0 if ok else 3)
            except BaseException:
                os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _counted(home)["day_usd"] == pytest.approx(0.1)
    guard.close()
