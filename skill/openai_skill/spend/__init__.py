"""The spend guard: prices as data, the cost of every call, caps checked before sending, and
the call log.

    guard = Guard(env)
    with guard.hold(lambda: worst_case(action, params), surface="cli", action=action,
                    hold_seconds=900) as hold:       # BudgetError here: nothing was sent
        answer = send(...)
        cost = hold.settle(cost_of(action, params, answer), request_id)

`openai_skill.Client` does this for every paid call (invoke, bulk requests, batch create), so
every surface passes through one place. Threat model: caps stop runaway and misled agents, not
a hostile program running as the user (which can edit the ledger or this code).

Every call ends as one row of the call log (`journal.py`), success or failure, refused or not,
unless OPENAI_SKILL_CALL_LOG=0. Cost of the guard: with no cap stored (no caps file) and none in
the environment -- the default -- a hold is one `stat`, and its end one line appended to the
journal (tens of microseconds; SQLite is not imported). While a cap is set, a paid call reserves
through the running totals (`totals.py`: a lock, the journal's new lines counted, its reservation
appended; still no SQLite) and settles with one more line; only when the totals cannot vouch for
what is spent does the ledger (`ledger.py`) reserve it, in one transaction, and settle it in
another.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CONFIG_FOLDER_VARIABLES
from ..errors import APIError, BudgetError, CredentialsError, InputError, SkillError
from . import journal
from .caps import caps_path, env_caps, ledger_path, read_caps, totals_path
from .journal import NO_DEADLINE_HOLD
from .prices import Cost, cost_of, table

if TYPE_CHECKING:
    from .ledger import Ledger

# What a hold reserves: a Cost, or a function that computes it (before sending only when a cap
# is set; otherwise after the call, for its row of the call log).
Worst = Cost | Callable[[], Cost]


def worst_case(action: str, params: dict, *, batch: bool = False) -> Cost:
    """The most a call can cost by the price table (`estimate.worst_case`; imported on first
    use: without a cap, a plain call never asks for it)."""
    from .estimate import worst_case as _worst_case

    return _worst_case(action, params, batch=batch)


class Log:
    """What the call log records of one call besides its outcome: who called, what, when."""

    __slots__ = ("guard", "surface", "action", "worst", "hold_seconds", "made_at", "params", "text", "ref",
                 "journal")

    worst: Worst | None

    def __init__(self, guard: Guard, surface: str, action: str, worst: Worst, hold_seconds: float | None,
                 params: dict | None, text: bool, ref: str | None):
        self.guard, self.surface, self.action, self.worst = guard, surface, action, worst
        self.hold_seconds, self.params, self.text, self.ref = hold_seconds, params, text, ref
        self.made_at = time.time()
        self.journal = guard._journal   # found by the hold just now: the row goes where the call began

    def worst_cost(self) -> Cost | None:
        """The call's worst case (computed now when it was not; None when it cannot be)."""
        if callable(self.worst):
            try:
                self.worst = self.worst()
            except Exception:   # the call is made and paid: its row goes without an estimate, never fails it
                self.worst = None
        return self.worst if isinstance(self.worst, Cost) else None

    def line(self, cost: Cost | None, *, status: str, request_id: str | None = None, error: str | None = None,
             answer=None, latency: float | None = None, texts: bool = True) -> dict:
        """This call's row as a journal record (what is unknown left out): its worst case, and
        `cost` once settled (None: not, or unknown)."""
        worst = self.worst_cost()
        details = cost.details if cost is not None else {}
        record = {"made_at": self.made_at, "surface": self.surface, "action": self.action,
                  "model": (cost.model if cost is not None else None) or (worst.model if worst else None),
                  "priced": int(worst is not None and worst.usd is not None),
                  "reserved_usd": worst.usd if worst is not None else None,
                  "settled_usd": cost.usd if cost is not None else None, "status": status,
                  "deadline_at": self.made_at + (self.hold_seconds or NO_DEADLINE_HOLD), "ref": self.ref,
                  "request_id": request_id, "error": error, "latency_s": latency,
                  "images": journal.images_in(answer)}
        for name in ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens"):
            record[name] = details.get(name)
        if texts:
            record["prompt_text"], record["output_text"] = self.texts(answer)
        return {name: value for name, value in record.items() if value is not None}

    def texts(self, answer) -> tuple[str | None, str | None]:
        if not self.text:
            return None, None
        return journal.prompt_text(self.params), journal.output_text(answer)


def _nothing_billed() -> Cost:
    """The cost of a call that was not billed (refused, or answered with an error status)."""
    return Cost(0.0, "usage", table().as_of)


class Hold:
    """One call: a reservation to settle with the real cost (while a cap is set), and its row
    of the call log. A hold without a reservation writes its row to the journal when it ends."""

    def __init__(self, booked: tuple[Ledger, int] | None = None, log: Log | None = None,
                 call_id: str | None = None):
        self.booked = booked   # the ledger and the reservation's row, or None
        self.log = log         # None: the call log is off (OPENAI_SKILL_CALL_LOG=0)
        self.call_id = call_id   # reserved through the running totals: its later lines name it
        self.started = time.monotonic()
        self.done = False

    def settle(self, cost: Cost, request_id: str | None = None, answer=None) -> Cost:
        """Record the real cost (unknown: the row stays at its worst case); return `cost`.
        `answer`: OpenAI's answer, for the images count and (text logging on) the output text."""
        self._finish(cost, status="settled" if cost.usd is not None else "cost_unknown", request_id=request_id,
                     answer=answer)
        return cost

    def attach(self, ref: str) -> None:
        """Name the reservation by what settles it later (a batch's ids); it stays open."""
        if self.done:
            return
        self.done = True
        if self.booked is not None:
            try:
                self.booked[0].attach(self.booked[1], ref)
            except BudgetError:
                pass  # unnamed, it still counts at its worst case
        elif self.log is not None:
            self.log.ref = ref
            self._journal(None, status="reserved")

    def fail(self, exc: BaseException) -> None:
        """The call failed. An answer with an HTTP status was not billed, nor a call that never
        left (no key, a refused URL): the row settles at 0. Anything else (a timeout, a broken
        stream, an interrupt) may have been billed: the row keeps its worst case."""
        if (isinstance(exc, APIError) and exc.status) or (isinstance(exc, (CredentialsError, InputError))
                                                          and not isinstance(exc, APIError)):
            self._finish(_nothing_billed(), status="failed", error=type(exc).__name__)
        else:
            self._finish(None, status="left", error=type(exc).__name__)

    def keep(self, exc: BaseException) -> None:
        """The call failed in a way that may still have been billed (a batch create whose
        answer was lost): the row keeps its worst case, whatever the error."""
        self._finish(None, status="left", error=type(exc).__name__)

    def refuse(self, exc: BudgetError) -> None:
        """A cap refused the call before anything was sent: its row says so, at no cost."""
        self._finish(_nothing_billed(), status="refused", error=type(exc).__name__)

    def _finish(self, cost: Cost | None, *, status: str, request_id: str | None = None,
                error: str | None = None, answer=None) -> None:
        if self.done:
            return
        self.done = True
        latency = round(time.monotonic() - self.started, 4)
        if self.booked is None:
            if self.log is not None:
                self._journal(cost, status=status, request_id=request_id, error=error, answer=answer,
                              latency=latency)
            return
        ledger, row = self.booked
        try:
            ledger.settle(row, cost, status=status, request_id=request_id, error=error, latency=latency,
                          images=journal.images_in(answer),
                          texts=self.log.texts(answer) if self.log is not None else (None, None))
        except BudgetError:
            pass  # the call is done and paid; its row stays reserved at the worst case

    def _journal(self, cost: Cost | None, *, status: str, request_id: str | None = None,
                 error: str | None = None, answer=None, latency: float | None = None) -> None:
        """This call's row, appended to the journal (never fails the call)."""
        log = self.log
        assert log is not None
        line = log.line(cost, status=status, request_id=request_id, error=error, answer=answer, latency=latency)
        if self.call_id is not None:
            line["call_id"] = self.call_id
        try:
            encoded = journal.encode(line)
        except (ValueError, TypeError):
            return    # a value JSON cannot hold (a NaN cost): no row rather than a broken call
        size = journal.append_line(log.journal, encoded)
        if journal.crossed_fold_mark(size, len(encoded)):
            log.guard.fold()

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self.fail(exc)
        elif not self.done:
            self._finish(None, status="left")


class Guard:
    """The caps, the ledger and the call log for one environment (the config folder it names)."""

    def __init__(self, env: Mapping | None = None):
        self.env = os.environ if env is None else env
        self._ledger: Ledger | None = None
        self._where: tuple | None = None   # the config-folder variables _caps_file was found for
        self._caps = ""
        self._journal = Path()
        self._totals = Path()

    def _caps_file(self) -> str:
        """The caps file's path, found again only when a variable naming the config folder
        changes (an MCP server follows OPENAI_SKILL_HOME; a call pays a few dict lookups)."""
        where = tuple(map(self.env.get, CONFIG_FOLDER_VARIABLES))
        if where != self._where:
            ledger = ledger_path(self.env)
            self._where, self._caps, self._journal = where, os.fspath(caps_path(ledger)), journal.journal_path(ledger)
            self._totals = totals_path(ledger)
        return self._caps

    def journal_file(self) -> Path:
        """The call journal's path (`journal.py`), beside the ledger."""
        self._caps_file()
        return self._journal

    @property
    def ledger(self) -> Ledger:
        """The ledger (imports SQLite; opening it creates nothing until it is written)."""
        from .ledger import Ledger

        # The config folder is looked up on each call: a long-lived client (the default one, an
        # MCP server) follows OPENAI_SKILL_HOME when it changes, never a stale ledger.
        path = ledger_path(self.env)
        if self._ledger is None or self._ledger.path != path:
            if self._ledger is not None:
                self._ledger.close()
            self._ledger = Ledger(path, env=self.env)
        return self._ledger

    def active(self) -> bool:
        """Whether a cap is set (stored, or in the environment): only then is a worst case
        needed. A job may skip pricing its lines when not; its hold asks again."""
        return bool(env_caps(self.env)) or os.path.exists(self._caps_file())

    def logging(self) -> bool:
        """Whether calls are logged (OPENAI_SKILL_CALL_LOG, on unless set to 0)."""
        return journal.enabled(self.env)

    def hold(self, worst: Worst, *, surface: str, action: str, hold_seconds: float | None,
             ref: str | None = None, params: dict | None = None) -> Hold:
        """Reserve the call's worst case against the caps (BudgetError when one refuses it, or
        when a cap is set and the ledger cannot record the reservation: nothing may be sent).
        `worst` may be a function: without a cap it is only computed when the call's row is
        written. `params`: the request's parameters, for the prompt text when it is logged."""
        caps_file = self._caps_file()
        env_set = env_caps(self.env)             # a malformed value is an InputError, never ignored
        log = (Log(self, surface, action, worst, hold_seconds, params, journal.text_enabled(self.env), ref)
               if self.logging() else None)
        if not env_set and not os.path.exists(caps_file):
            return Hold(log=log)                 # no cap anywhere: nothing to check; the row goes to the journal
        cost = worst() if callable(worst) else worst
        if log is not None:
            log.worst = cost
        if cost.basis == "free":
            return Hold(log=log)
        # A reserved call is a row even with the log off (the caps count it); its text never.
        booking = log or Log(self, surface, action, cost, hold_seconds, None, False, ref)
        try:
            call_id = self._book(cost, booking)
            if call_id is not None:
                return Hold(log=booking, call_id=call_id)
            ledger = self.ledger   # the totals cannot vouch: the ledger reserves (and rewrites them)
            row = ledger.reserve(cost, surface=surface, action=action, hold_seconds=hold_seconds, ref=ref)
        except BudgetError as exc:
            if exc.details.get("reason") != "ledger_unusable":
                Hold(log=log).refuse(exc)        # a cap refused it, or the caps file is unreadable
                raise
            if not env_set and not read_caps(Path(caps_file))["caps"]:
                return Hold(log=log)             # only the unpriced allowance is stored: no cap to keep
            refused = BudgetError(f"refused before sending: a spend cap is set and {exc.message}",
                                  reason="ledger_unusable")
            Hold(log=log).refuse(refused)
            raise refused from None
        return Hold((ledger, row), log=log)

    def _book(self, cost: Cost, log: Log) -> str | None:
        """Reserve `cost` through the running totals (`totals.py`, no SQLite): the call's id, or
        None when they cannot vouch for what is spent (the ledger decides). BudgetError when a
        cap refuses the call."""
        from . import totals   # on use: only a call made while a cap is set reserves

        call_id = os.urandom(12).hex()
        try:   # the row as its reservation: the worst case, no outcome, no text (its settlement has it)
            line = journal.encode({**log.line(None, status="reserved", texts=False), "call_id": call_id, "reserve": 1})
            with totals.locked(self._totals) as box:
                size = totals.reserve(box, journal_file=self._journal, caps_file=Path(self._caps), env=self.env,
                                      worst_usd=cost.usd, unknown=cost.unknown, made_at=log.made_at, line=line,
                                      what=f"{cost.model or log.action}, {log.action}")
        except (OSError, ValueError, TypeError):   # a value JSON cannot hold, a lock held too long
            return None
        if size is None:
            return None
        if journal.crossed_fold_mark(size, len(line)):
            self.fold()
        return call_id

    def settle_ref(self, ref: str, cost: Cost) -> None:
        """Settle the open reservation named `ref` (a `batch create`), if there is a ledger or a
        journal; a ledger that cannot be written leaves it at its worst case (never an
        underestimate)."""
        if not ledger_path(self.env).exists() and not self.journal_file().exists():
            return
        try:
            self.ledger.settle_ref(ref, cost, status="settled")
        except BudgetError:
            pass

    def fold(self) -> None:
        """Fold the journal into the ledger now; a ledger that cannot be written keeps the
        journal for later (this never fails a call)."""
        try:
            self.ledger.fold()
        except (SkillError, OSError):
            pass

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


__all__ = ["Guard", "Hold", "Log", "Cost", "cost_of", "worst_case", "table", "Worst"]
