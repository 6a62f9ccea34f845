"""What the caps count, kept beside the ledger so a call made while a cap is set needs no SQLite.

Importing SQLite, connecting and two transactions cost a cold CLI call ~5 ms (3-4 % of it); a
reservation here is a lock, two small reads and one journal line (~0.3 ms). The ledger stays the
record; this file is a cache of two of its sums that the ledger rebuilds whenever it writes.

`spend.totals` (0600) is one self-checking line in the journal's format (`journal.encode`):

    {"v": 1, "day": "2026-12-02", "month": "2026-12", "day_usd": .., "month_usd": ..,
     "journal": [dev, inode] or null, "at": byte offset}

meaning: what the ledger's `spent` held for that UTC day and month when it last wrote this file,
plus the charges of the call journal's lines before byte `at` of that journal file. Every ledger
transaction (`Ledger._write`, which first folds the journal into SQLite) writes it afresh under
the file's lock, with no journal yet counted (the fold renamed the old one aside: any journal
there now holds only rows the ledger does not have).

A reservation (`reserve`) holds the lock, counts the journal's whole lines past `at` (the rows
every process appended since, capped or not), checks the caps against the totals, appends its
own reservation line and counts again: check and append under one lock, so racing processes
never both see the same room left (8 processes against a daily cap, tests/spend). Settling is a
line appended like any row (no lock): the next reservation counts it. Whatever this file cannot
vouch for -- missing, torn, another day or month, a journal it does not know (renamed by a
process that did not rewrite it), more than FOLD_BYTES to count -- sends the caller to the
ledger, which folds the journal and rewrites the file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import journal
from .caps import ALLOW_UNPRICED, check, effective, read_caps

VERSION = 1
MAX_BYTES = 4096             # the file is one short line; more is not ours
TAIL_BYTES = journal.FOLD_BYTES   # past this many bytes to count, the ledger folds them instead
FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW

# A POSIX record lock (`lockf`; `fcntl.flock` would cost a cold call an extension module's
# import) belongs to the process, and closing any descriptor of the file drops it: this lock
# keeps the threads of one process (an MCP server) apart, and one at a time in the file.
_LOCK = threading.Lock()


def _after_fork() -> None:
    """A forked child starts with the lock free (a parent's thread may have held it at the fork)."""
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def periods(at: float) -> tuple[str, str]:
    """(the UTC day, the UTC month) of an instant: the ledger's periods."""
    stamp = time.gmtime(at)
    return time.strftime("%Y-%m-%d", stamp), time.strftime("%Y-%m", stamp)


class Box:
    """The totals file, open and locked."""

    def __init__(self, fd: int):
        self.fd = fd

    def read(self) -> dict | None:
        """The totals, or None when the file is empty, torn or not ours."""
        line = os.pread(self.fd, MAX_BYTES, 0)
        data = journal.unframe(line)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        at, where = data.get("at"), data.get("journal")
        money = (data.get("day_usd"), data.get("month_usd"))
        if not (isinstance(data.get("day"), str) and isinstance(data.get("month"), str)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v for v in money)
                and isinstance(at, int) and at >= 0
                and (where is None or (isinstance(where, list) and len(where) == 2
                                       and all(isinstance(n, int) for n in where)))):
            return None
        return data

    def write(self, state: Mapping | None) -> None:
        """Replace the totals (None: empty the file, so the next reservation asks the ledger)."""
        line = journal.encode(state) if state is not None else b""
        os.pwrite(self.fd, line, 0)
        os.ftruncate(self.fd, len(line))


@contextmanager
def locked(path: Path, wait: float = journal.LOCK_SECONDS) -> Iterator[Box]:
    """The totals file, locked for the block. OSError (TimeoutError after `wait` seconds) when
    it cannot be opened or locked."""
    give_up = time.monotonic() + wait
    if not _LOCK.acquire(timeout=wait):
        raise TimeoutError(f"{path} stayed locked for {wait:.0f} s")
    try:
        fd = os.open(path, FLAGS, journal.FILE_MODE)
        try:
            if not journal.lock_file(fd, give_up):
                raise TimeoutError(f"{path} stayed locked for {wait:.0f} s")
            yield Box(fd)
        finally:
            os.close(fd)   # and with it the file's lock
    finally:
        _LOCK.release()


def fresh(day: str, month: str, day_usd: float, month_usd: float) -> dict:
    """Totals as the ledger has them, no journal line counted yet."""
    return {"v": VERSION, "day": day, "month": month, "day_usd": day_usd, "month_usd": month_usd,
            "journal": None, "at": 0}


def charge(record: Mapping) -> float:
    """What a journal line adds to its period's total once folded (mirrors fold.py and the
    ledger's triggers): a row its settled cost, else its worst case; a reserved call's later
    line the move from its worst case to its settled cost (none while it is unknown)."""
    reserved = record.get("reserved_usd") or 0.0
    settled = record.get("settled_usd")
    if record.get("call_id") and not record.get("reserve"):
        return 0.0 if settled is None else settled - reserved
    return reserved if settled is None else settled


def catch_up(state: dict, journal_file: Path) -> bool:
    """Count the journal's whole lines past `state["at"]` into the totals; False when the
    totals cannot vouch for the journal (another file than the one counted, shrunk, too much)."""
    start = state["at"] if state["journal"] is not None else 0
    found = journal.tail(journal_file, start, TAIL_BYTES)
    if found is None:
        return state["journal"] is None   # a journal counted and now gone was folded without us
    where, tail = found
    if state["journal"] is None:
        state["journal"], state["at"] = where, 0
    elif state["journal"] != where:
        return False
    if tail is None:                      # shrunk, or more to count than the ledger would take to fold
        return False
    whole = tail.rfind(journal.END) + 1      # a line still being written is counted next time
    for line in tail[:whole].split(journal.END)[:-1]:
        add(state, journal.decode(line + journal.END))
    state["at"] = start + whole
    return True


def add(state: dict, record: Mapping | None) -> bool:
    """Count one journal record (None: a torn or altered line, which the fold skips too)."""
    if record is not None:
        day, month = periods(record["made_at"])
        amount = charge(record)
        if month == state["month"]:
            state["month_usd"] += amount
            if day == state["day"]:
                state["day_usd"] += amount
    return True


def reserve(box: Box, *, journal_file: Path, caps_file: Path, env: Mapping, worst_usd: float | None,
            unknown: str | None, what: str, made_at: float, line: bytes) -> int | None:
    """Check the caps against the totals and append the reservation `line`, under the caller's
    lock; the journal's size after it. None: the totals cannot vouch (ask the ledger); nothing
    was appended. BudgetError: a cap refused the call; nothing was appended."""
    state = box.read()
    if state is None or (state["day"], state["month"]) != periods(made_at) or not catch_up(state, journal_file):
        return None
    stored = read_caps(caps_file)
    spent = {"daily": state["day_usd"], "monthly": state["month_usd"]}
    check(worst_usd, unknown, what, effective(stored, env), stored[ALLOW_UNPRICED], spent.__getitem__)
    size = journal.append_line(journal_file, line)
    if size is None:
        return None
    if state["journal"] is not None and size - len(line) == state["at"]:   # ours is the one new line
        state["at"] = size
        vouched = add(state, journal.decode(line))
    else:
        vouched = catch_up(state, journal_file)
    # A failed write leaves the file as it was (before our line): the next reservation counts it.
    with contextlib.suppress(OSError):
        box.write(state if vouched else None)
    return size

