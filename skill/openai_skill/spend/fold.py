"""Folding the call journal (`journal.py`) into the ledger's `calls`, and keeping the ledger
bounded. Both run inside the ledger's write transaction (`Ledger._write`), so a fold and the
reservation or read that follows it see one state; neither imports SQLite itself.

Retention runs at most once per UTC day (the day is kept in `meta`): rows older than the
retention setting are deleted, except open reservations (status `reserved`: a batch not yet
fetched, or a call whose process was killed, which still counts at its worst case) and the rows
of the current UTC month (the monthly cap counts them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .journal import read_aside, set_aside

DAY_SECONDS = 86400.0
INSERT_COLUMNS = ("made_at", "day", "month", "surface", "action", "model", "priced", "reserved_usd",
                  "settled_usd", "status", "deadline_at", "ref", "request_id", "error", "input_tokens",
                  "cached_tokens", "output_tokens", "reasoning_tokens", "images", "latency_s", "prompt_text",
                  "output_text", "call_id")
# A line with a call_id after the first (a reserved call's settlement, or the batch ids it was
# named by) updates that call's row: what it knows replaces what was unknown; the reservation
# stays. The update trigger moves the period totals from the worst case to the settled cost.
LATER = ("status", "request_id", "error", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens",
         "images", "latency_s", "prompt_text", "output_text", "ref")
INSERT = (f"INSERT INTO calls({', '.join(INSERT_COLUMNS)}) "
          f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)}) "
          "ON CONFLICT(call_id) WHERE call_id IS NOT NULL DO UPDATE SET "
          "settled_usd = COALESCE(excluded.settled_usd, settled_usd), status = excluded.status, "
          + ", ".join(f"{name} = COALESCE(excluded.{name}, {name})" for name in LATER[1:]))


def fold(conn, journal: Path, periods: Callable[[float], tuple[str, str]]) -> list[Path]:
    """Insert every journal record not yet folded; the aside files to remove once the caller's
    transaction has committed (removing one before would lose its records to a crash)."""
    asides = set_aside(journal)
    if not asides:
        return []
    done = {name for (name,) in conn.execute("SELECT name FROM journal_folded")}
    days: dict = {}   # POSIX days are 86,400 s: one strftime per UTC day, not per row
    for aside in asides:
        if aside.name in done:
            continue   # folded by a process killed between its commit and its removal
        conn.executemany(INSERT, [_row(record, periods, days) for record in merged(read_aside(aside))])
        conn.execute("INSERT INTO journal_folded(name) VALUES (?)", (aside.name,))
    for gone in done - {aside.name for aside in asides}:
        conn.execute("DELETE FROM journal_folded WHERE name = ?", (gone,))
    return asides


def merged(records: Iterable[dict]) -> list[dict]:
    """The records, each reserved call's later lines merged into its first line here, as the
    upsert would leave its row: one insert per call instead of one statement per line (a capped
    call is two lines; half the statements and trigger runs of a fold)."""
    out: list[dict] = []
    first: dict[str, dict] = {}
    for record in records:
        call = record.get("call_id")
        earlier = first.get(call) if call is not None else None
        if earlier is None:
            if call is not None:
                first[call] = record
            out.append(record)
            continue
        earlier["status"] = record["status"]
        for name in ("settled_usd", *LATER[1:]):
            if record.get(name) is not None:
                earlier[name] = record[name]
    return out


def _row(record: dict, periods, days: dict) -> list:
    made = record["made_at"]
    epoch_day = int(made // DAY_SECONDS)
    if epoch_day not in days:
        days[epoch_day] = periods(made)
    reserved = record.get("reserved_usd")
    values = {**record, "reserved_usd": reserved or 0.0, "deadline_at": record.get("deadline_at", made),
              "priced": int(bool(record.get("priced", reserved is not None)))}
    values["day"], values["month"] = days[epoch_day]
    return [values.get(name) for name in INSERT_COLUMNS]


def retain(conn, now: float, days: int, periods: Callable[[float], tuple[str, str]]) -> None:
    """Drop rows older than `days` (once per UTC day)."""
    today, month = periods(now)
    last = conn.execute("SELECT value FROM meta WHERE key = 'retained_on'").fetchone()
    if last is not None and last[0] == today:
        return
    conn.execute("DELETE FROM calls WHERE made_at < ? AND month < ? AND status != 'reserved'",
                 (now - days * DAY_SECONDS, month))
    # Totals of periods whose calls are all gone read as nothing, as a missing row does.
    conn.execute("DELETE FROM spent WHERE ABS(usd) < 1e-9 AND period NOT IN (?, ?)", (f"day:{today}", f"month:{month}"))
    conn.execute("INSERT INTO meta(key, value) VALUES ('retained_on', ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (today,))
