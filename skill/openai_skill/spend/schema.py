"""The spend ledger's schema (`ledger.py`): its tables, the triggers that keep each period's
running total, and making or upgrading it once per file."""

from __future__ import annotations

import sqlite3
import time

# The schema, one statement each (run in one transaction when the file is new or older than
# SCHEMA_VERSION).
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    made_at REAL NOT NULL,
    day TEXT NOT NULL,
    month TEXT NOT NULL,
    surface TEXT NOT NULL,
    action TEXT NOT NULL,
    model TEXT,
    priced INTEGER NOT NULL,
    reserved_usd REAL NOT NULL,
    settled_usd REAL,
    status TEXT NOT NULL,
    deadline_at REAL NOT NULL,
    ref TEXT,
    request_id TEXT,
    error TEXT,
    input_tokens INTEGER,
    cached_tokens INTEGER,
    output_tokens INTEGER,
    reasoning_tokens INTEGER,
    images INTEGER,
    latency_s REAL,
    prompt_text TEXT,
    output_text TEXT,
    call_id TEXT
)""",
    # Only batch reservations have a ref: a partial index costs the other calls nothing.
    """CREATE INDEX IF NOT EXISTS calls_ref ON calls(ref) WHERE ref IS NOT NULL""",
    # What each UTC day ('day:2026-12-02') and month ('month:2026-12') has charged, kept by the
    # triggers below on every insert, update and delete of a call: a reservation reads one row
    # per cap, however many calls the period holds (a SUM over the calls grew with the ledger).
    """CREATE TABLE IF NOT EXISTS spent (period TEXT PRIMARY KEY, usd REAL NOT NULL)""",
    """CREATE TRIGGER IF NOT EXISTS calls_spent_insert AFTER INSERT ON calls BEGIN
    INSERT INTO spent(period, usd) VALUES ('day:' || NEW.day, COALESCE(NEW.settled_usd, NEW.reserved_usd))
        ON CONFLICT(period) DO UPDATE SET usd = usd + excluded.usd;
    INSERT INTO spent(period, usd) VALUES ('month:' || NEW.month, COALESCE(NEW.settled_usd, NEW.reserved_usd))
        ON CONFLICT(period) DO UPDATE SET usd = usd + excluded.usd;
END""",
    """CREATE TRIGGER IF NOT EXISTS calls_spent_update AFTER UPDATE OF settled_usd, reserved_usd ON calls BEGIN
    UPDATE spent SET usd = usd - COALESCE(OLD.settled_usd, OLD.reserved_usd)
        WHERE period IN ('day:' || OLD.day, 'month:' || OLD.month);
    UPDATE spent SET usd = usd + COALESCE(NEW.settled_usd, NEW.reserved_usd)
        WHERE period IN ('day:' || NEW.day, 'month:' || NEW.month);
END""",
    """CREATE TRIGGER IF NOT EXISTS calls_spent_delete AFTER DELETE ON calls BEGIN
    UPDATE spent SET usd = usd - COALESCE(OLD.settled_usd, OLD.reserved_usd)
        WHERE period IN ('day:' || OLD.day, 'month:' || OLD.month);
END""",
    # The call log: journal files already folded (`fold.py`), and small facts (the day retention ran).
    """CREATE TABLE IF NOT EXISTS journal_folded (name TEXT PRIMARY KEY)""",
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)""",
    """CREATE INDEX IF NOT EXISTS calls_made_at ON calls(made_at)""",
    # A call reserved through the running totals (`totals.py`) is several journal lines (its
    # reservation, then its settlement) folded into one row by this key.
    """CREATE UNIQUE INDEX IF NOT EXISTS calls_call_id ON calls(call_id) WHERE call_id IS NOT NULL""",
)
# Columns added after version 1 (a ledger made before gets them added, once).
ADDED_COLUMNS = (("prompt_text", "TEXT"), ("output_text", "TEXT"), ("call_id", "TEXT"))
# What a row counts: the settled cost once known, the worst case until then.
CHARGED = "COALESCE(settled_usd, reserved_usd)"
# PRAGMA user_version once the schema is in place and `spent` holds every call's charge: a
# process that finds it skips the schema (the usual open is one PRAGMA read); a ledger made
# before the totals existed has them rebuilt from its calls, once.
SCHEMA_VERSION = 3
REBUILD_TOTALS = ("DELETE FROM spent",
                  f"INSERT INTO spent(period, usd) SELECT 'day:' || day, SUM({CHARGED}) FROM calls GROUP BY day",
                  f"INSERT INTO spent(period, usd) SELECT 'month:' || month, SUM({CHARGED}) FROM calls GROUP BY month")


def create_once(conn: sqlite3.Connection, busy_seconds: float) -> None:
    """The schema, when the file is new or older. Two processes making it at once can both
    ask for WAL mode; SQLite then answers one of them "database is locked" at once rather
    than wait (each holds what the other needs): that one tries again, as a busy wait would."""
    give_up = time.monotonic() + busy_seconds
    while conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        try:
            create(conn)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(0.01)


def create(conn: sqlite3.Connection) -> None:
    """The schema and the totals, in one transaction (another process may be doing the same)."""
    conn.execute("PRAGMA journal_mode=WAL")  # kept in the file: later opens need not ask again
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # not done meanwhile
            have = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
            for name, kind in ADDED_COLUMNS if have else ():
                if name not in have:
                    conn.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
            for statement in (*SCHEMA, *REBUILD_TOTALS):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
