"""The spend ledger: one SQLite file in the config folder, shared by every process.

Each paid call is a row: reserved at its worst case before anything is sent, settled with its
real cost after. Calls reserve through the running totals beside this file (`totals.py`, no
SQLite), which every transaction here rewrites; when they cannot vouch for what is spent,
`reserve` does it here: the caps (`openai-skill budget`, the caps file of `caps.py`) are read
inside the same transaction as the reservation, under the totals' lock and SQLite's write lock
(BEGIN IMMEDIATE), and `set_caps` replaces them under those locks: two processes can never both
see the same room left under a cap, so racing processes never overshoot it. Every call is a row
(the call log) appended to the journal beside the ledger (`journal.py`), and every transaction
here first folds the journal into `calls` (`fold.py`), readers included.

What a row counts: its settled cost once settled, its worst case until then. A call that
crashed (the process was killed) never settles: after its deadline it is shown as unsettled
and keeps counting at its worst case, never dropped. A row counts on the UTC day (and month)
it was reserved. Caps in the environment (OPENAI_SKILL_BUDGET_*) can only lower the stored
ones: an agent that controls its environment cannot lift a cap with them.

Never the key, never prompt or output text (unless OPENAI_SKILL_LOG_TEXT=1 asks for it, masked
for keys): a row holds time, surface, action, model, token counts, costs, latency, status, the
error's type and the request id. The file is 0600; WAL mode keeps it whole when a process is
killed mid-write. Rows older than OPENAI_SKILL_CALL_LOG_DAYS are dropped (`fold.retain`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from ..errors import BudgetError, InputError
from . import fold, journal, schema, totals
from .caps import ALLOW_UNPRICED, CAPS, ENV_CAPS, caps_path, check, effective, read_caps, totals_path, write_caps
from .prices import Cost

BUSY_SECONDS = 60.0          # how long a writer waits for another's transaction (8 racing processes)
NO_DEADLINE_HOLD = journal.NO_DEADLINE_HOLD

class Ledger:
    """The ledger file and the caps in it. Safe to share between threads."""

    def __init__(self, path: Path, *, env: Mapping | None = None, clock=time.time):
        self.path = Path(path)
        self.caps_file = caps_path(self.path)
        self.env = os.environ if env is None else env
        self.clock = clock
        self.journal = journal.journal_path(self.path)
        self.totals = totals_path(self.path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    # --- the file ---

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created 0600 before SQLite opens it; SQLite gives its -wal/-shm files the same mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None,
                                   check_same_thread=False)
            try:
                # WAL with synchronous=OFF: every write reaches the OS before the call goes on, so a
                # killed process loses nothing (tests/spend kill writers mid-write); what it drops
                # are the fsyncs (the WAL header's at each process's first write, and the checkpoint's
                # two when its last connection closes): 4-40 ms of every cold CLI call with a cap on
                # a busy disk. The price: a power cut or kernel crash right after a write may lose
                # recent rows or damage the file; a damaged ledger refuses calls while a cap is set
                # (exit 7, naming the file), and the caps themselves (budget.json) are fsynced.
                conn.execute("PRAGMA synchronous=OFF")
                schema.create_once(conn, BUSY_SECONDS)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _write(self, work):
        """Run `work(conn)` in one BEGIN IMMEDIATE transaction (the file's write lock), after
        folding the call journal into `calls` and, once a day, dropping rows past retention;
        then rewrite the running totals (`totals.py`) from the result. The totals' lock is
        taken first and held throughout: no reservation counts the journal while it is folded."""
        days = journal.retention_days(self.env)   # a malformed setting: InputError, nothing done
        with self._lock, contextlib.ExitStack() as held:
            try:
                if self._conn is None:   # the config folder, for the totals' file
                    self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                box = held.enter_context(totals.locked(self.totals))
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
            except (sqlite3.Error, OSError) as exc:
                raise self._unusable(exc) from None
            try:
                try:
                    folded = fold.fold(conn, self.journal, self.periods)
                    fold.retain(conn, self.clock(), days, self.periods)
                except (sqlite3.Error, OSError) as exc:
                    raise self._unusable(exc) from None
                out = work(conn)
                day, month = self.periods()
                fresh = totals.fresh(day, month, self._spent(conn, "day", day), self._spent(conn, "month", month))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            try:
                box.write(fresh)
            except OSError:   # emptied, the next reservation asks here (an old file could name a reused inode)
                with contextlib.suppress(OSError):
                    box.write(None)
        for aside in folded:   # only now: removed before the commit, a crash would lose its rows
            with contextlib.suppress(OSError):
                aside.unlink()
        return out

    def fold(self) -> None:
        """Fold the call journal into the ledger now (a writer whose journal grew does this)."""
        self._write(lambda conn: None)

    def _unusable(self, exc) -> BudgetError:
        return BudgetError(f"the spend ledger {self.path} cannot be used ({type(exc).__name__}: {exc}); "
                           "check the folder's permissions and free space", reason="ledger_unusable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- caps ---

    def stored_caps(self) -> dict:
        """{"caps": {cap: usd}, "allow_unpriced": bool}: what `budget set` stored."""
        return read_caps(self.caps_file)

    def effective_caps(self, stored: dict) -> dict:
        return effective(stored, self.env)

    def set_caps(self, caps: Mapping[str, float | None], *, allow_unpriced: bool | None = None) -> None:
        """Store caps (None removes one) and the unpriced flag. Callers decide who may. Under
        the ledger's write lock, so no reservation runs between the old caps and the new."""
        for name in caps:
            if name not in CAPS:
                raise InputError(f"unknown cap {name!r}; expected one of: {', '.join(CAPS)}")

        def work(conn):
            stored = read_caps(self.caps_file)
            new = {**stored["caps"], **{name: float(value) for name, value in caps.items() if value is not None}}
            new = {name: value for name, value in new.items() if caps.get(name, value) is not None}
            allow = stored["allow_unpriced"] if allow_unpriced is None else allow_unpriced
            try:
                write_caps(self.caps_file, new, allow)
            except OSError as exc:
                raise InputError(f"cannot write the spend caps file {self.caps_file}: "
                                 f"{exc.strerror or type(exc).__name__}; nothing was changed. Check the config "
                                 "folder's permissions and free space", field="budget") from None
        self._write(work)

    # --- periods ---

    def periods(self, at: float | None = None) -> tuple[str, str]:
        """(the UTC day, the UTC month) of `at` (default now)."""
        return totals.periods(self.clock() if at is None else at)

    @staticmethod
    def _spent(conn, column: str, period: str) -> float:
        """What the UTC day or month has charged (the triggers' running total)."""
        row = conn.execute("SELECT usd FROM spent WHERE period = ?", (f"{column}:{period}",)).fetchone()
        return max(0.0, float(row[0])) if row else 0.0

    # --- calls ---

    def reserve(self, worst: Cost, *, surface: str, action: str, hold_seconds: float | None,
                ref: str | None = None) -> int:
        """Check the caps against `worst` and reserve it, in one transaction; the row id.
        Raises BudgetError (nothing reserved) when a cap would be passed, or when the price is
        unknown while a cap is set and unpriced calls are not allowed."""
        now = self.clock()
        day, month = self.periods(now)

        def work(conn):
            stored = read_caps(self.caps_file)  # inside the lock: the caps this reservation is checked against
            spent_in = {"daily": ("day", day), "monthly": ("month", month)}
            check(worst.usd, worst.unknown, f"{worst.model or action}, {action}", self.effective_caps(stored),
                  stored[ALLOW_UNPRICED], lambda name: self._spent(conn, *spent_in[name]))
            hold = hold_seconds or NO_DEADLINE_HOLD
            cursor = conn.execute(
                "INSERT INTO calls(made_at, day, month, surface, action, model, priced, reserved_usd, status, "
                "deadline_at, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?)",
                (now, day, month, surface, action, worst.model, int(worst.usd is not None), worst.usd or 0.0,
                 now + hold, ref))
            return cursor.lastrowid

        return self._write(work)

    def settle(self, row: int, cost: Cost | None, *, status: str, request_id: str | None = None,
               error: str | None = None, latency: float | None = None, images: int | None = None,
               texts: tuple[str | None, str | None] = (None, None)) -> None:
        """Record the real cost; a cost that is unknown keeps the row at its worst case."""
        details = cost.details if cost is not None else {}
        settled = cost.usd if cost is not None else None

        def work(conn):
            conn.execute(
                "UPDATE calls SET settled_usd = COALESCE(?, settled_usd), status = ?, request_id = ?, error = ?, "
                "input_tokens = ?, cached_tokens = ?, output_tokens = ?, reasoning_tokens = ?, images = ?, "
                "latency_s = ?, prompt_text = ?, output_text = ? WHERE id = ?",
                (settled, status, request_id, error, details.get("input_tokens"), details.get("cached_tokens"),
                 details.get("output_tokens"), details.get("reasoning_tokens"),
                 details.get("images", images), latency, *texts, row))
        self._write(work)

    def attach(self, row: int, ref: str) -> None:
        """Name a reservation by what settles it later (a batch id)."""
        self._write(lambda conn: conn.execute("UPDATE calls SET ref = ? WHERE id = ?", (ref, row)))

    def settle_ref(self, ref: str, cost: Cost | None, *, status: str) -> bool:
        """Settle the open reservation named `ref`; False when there is none."""
        def work(conn):
            found = conn.execute("SELECT id FROM calls WHERE ref = ? AND status = 'reserved'", (ref,)).fetchone()
            if found is None:
                return False
            conn.execute("UPDATE calls SET settled_usd = COALESCE(?, settled_usd), status = ? WHERE id = ?",
                         (None if cost is None else cost.usd, status, found[0]))
            return True
        return self._write(work)

    # --- reading ---

    def summary(self) -> dict:
        """The caps, what is spent and left this UTC day and month, open and unsettled calls.
        With no ledger file yet, nothing is spent (and no file is made)."""
        now = self.clock()
        day, month = self.periods(now)

        def work(conn):
            stored = read_caps(self.caps_file)
            spent = {"daily": self._spent(conn, "day", day), "monthly": self._spent(conn, "month", month)}
            unsettled = conn.execute(
                f"SELECT COUNT(*), COALESCE(SUM({schema.CHARGED}), 0) FROM calls WHERE settled_usd IS NULL "
                "AND status != 'settled' AND deadline_at < ?", (now,)).fetchone()
            return stored, spent, unsettled
        if self.path.exists() or self.journal.exists():
            stored, spent, unsettled = self._write(work)
        else:
            stored, spent, unsettled = read_caps(self.caps_file), {"daily": 0.0, "monthly": 0.0}, (0, 0.0)
        caps, stored_caps = self.effective_caps(stored), stored["caps"]
        out = {"day": day, "month": month, "allow_unpriced": stored[ALLOW_UNPRICED],
               "caps": {}, "unsettled_calls": unsettled[0], "unsettled_usd": round(unsettled[1], 8)}
        for name in CAPS:
            entry: dict = {"usd": caps.get(name)}
            if name in stored_caps and name in caps and caps[name] < stored_caps[name]:
                entry["stored_usd"] = stored_caps[name]
                entry["lowered_by"] = ENV_CAPS[name]
            if name in spent:
                entry["spent_usd"] = round(spent[name], 8)
                if name in caps:
                    entry["left_usd"] = round(max(0.0, caps[name] - spent[name]), 8)
            out["caps"][name] = entry
        return out

    def rows(self, since: float | None = None) -> list[dict]:
        """Every row (made at or after `since`, a time.time() instant) as a dict, oldest first,
        the journal folded in first (tests and the usage views read this); none without a file."""
        if not self.path.exists() and not self.journal.exists():
            return []

        def work(conn):
            cursor = conn.execute("SELECT * FROM calls WHERE made_at >= ? ORDER BY made_at, id",
                                  (-1.0 if since is None else since,))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]
        return self._write(work)

    def rows_since(self, since: float, limit: int) -> list[dict]:
        """The rows made at or after `since` (epoch seconds), newest first, at most `limit` of
        them (the usage views ask for one more than they show, to know when they cut); the
        journal folded in first; none without a file (reading never creates the ledger)."""
        if not self.path.exists() and not self.journal.exists():
            return []

        def work(conn):
            cursor = conn.execute("SELECT * FROM calls WHERE made_at >= ? ORDER BY made_at DESC, id DESC LIMIT ?",
                                  (float(since), int(limit)))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]
        return self._write(work)
