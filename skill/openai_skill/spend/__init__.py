"""The spend guard: prices as data, the cost of every call, and caps checked before sending.

    guard = Guard(env)
    with guard.hold(lambda: worst_case(action, params), surface="cli", action=action,
                    hold_seconds=900) as hold:       # BudgetError here: nothing was sent
        answer = send(...)
        cost = hold.settle(cost_of(action, params, answer), request_id)

`openai_skill.Client` does this for every paid call (invoke, bulk requests, batch create), so
every surface passes through one place. Threat model: caps stop runaway and misled agents, not
a hostile program running as the user (which can edit the ledger or this code).

Cost of the guard: with no cap stored (no caps file) and none in the environment -- the
default -- a hold is one `stat`: the worst case is not computed, SQLite is not imported and no
file is written. While a cap is set, each paid call is one transaction to reserve and one to
settle in the ledger (`ledger.py`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CONFIG_FOLDER_VARIABLES
from ..errors import APIError, BudgetError
from .caps import caps_path, env_caps, ledger_path, read_caps
from .prices import Cost, cost_of, table

if TYPE_CHECKING:
    from .ledger import Ledger

# What a hold reserves: a Cost, or a function that computes it (called only when a cap is set).
Worst = Cost | Callable[[], Cost]


def worst_case(action: str, params: dict, *, batch: bool = False) -> Cost:
    """The most a call can cost by the price table (`estimate.worst_case`; imported on first
    use: without a cap, a plain call never asks for it)."""
    from .estimate import worst_case as _worst_case

    return _worst_case(action, params, batch=batch)


class Hold:
    """One reservation: settle it with the real cost, or let it fail. A hold without a row
    (no cap is set, or a free call) records nothing."""

    def __init__(self, booked: tuple[Ledger, int] | None = None):
        self.booked = booked   # the ledger and the reservation's row, or None
        self.started = time.monotonic()
        self.done = False

    def settle(self, cost: Cost, request_id: str | None = None) -> Cost:
        """Record the real cost (unknown: the row stays at its worst case); return `cost`."""
        self._finish(cost, status="settled" if cost.usd is not None else "cost_unknown", request_id=request_id)
        return cost

    def attach(self, ref: str) -> None:
        """Name the reservation by what settles it later (a batch's ids); it stays open."""
        if self.booked is not None:
            self.done = True
            try:
                self.booked[0].attach(self.booked[1], ref)
            except BudgetError:
                pass  # unnamed, it still counts at its worst case

    def fail(self, exc: BaseException) -> None:
        """The call failed. An answer with an HTTP status was not billed: the row settles at 0.
        Anything else (a timeout, a broken stream, an interrupt) may have been billed: the row
        keeps its worst case."""
        if isinstance(exc, APIError) and exc.status:
            self._finish(Cost(0.0, "usage", table().as_of), status="failed", error=type(exc).__name__)
        else:
            self._finish(None, status="left", error=type(exc).__name__)

    def keep(self, exc: BaseException) -> None:
        """The call failed in a way that may still have been billed (a batch create whose
        answer was lost): the row keeps its worst case, whatever the error."""
        self._finish(None, status="left", error=type(exc).__name__)

    def _finish(self, cost: Cost | None, *, status: str, request_id: str | None = None,
                error: str | None = None) -> None:
        if self.done or self.booked is None:
            return
        self.done = True
        ledger, row = self.booked
        try:
            ledger.settle(row, cost, status=status, request_id=request_id, error=error,
                               latency=round(time.monotonic() - self.started, 4))
        except BudgetError:
            pass  # the call is done and paid; its row stays reserved at the worst case

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self.fail(exc)
        elif not self.done:
            self._finish(None, status="left")


class Guard:
    """The caps and the ledger for one environment (the config folder it names)."""

    def __init__(self, env: Mapping | None = None):
        self.env = os.environ if env is None else env
        self._ledger: Ledger | None = None
        self._where: tuple | None = None   # the config-folder variables _caps_file was found for
        self._caps = ""

    def _caps_file(self) -> str:
        """The caps file's path, found again only when a variable naming the config folder
        changes (an MCP server follows OPENAI_SKILL_HOME; a call pays a few dict lookups)."""
        where = tuple(self.env.get(name) for name in CONFIG_FOLDER_VARIABLES)
        if where != self._where:
            self._where, self._caps = where, os.fspath(caps_path(ledger_path(self.env)))
        return self._caps

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

    def hold(self, worst: Worst, *, surface: str, action: str, hold_seconds: float | None,
             ref: str | None = None) -> Hold:
        """Reserve the call's worst case against the caps (BudgetError when one refuses it, or
        when a cap is set and the ledger cannot record the reservation: nothing may be sent).
        `worst` may be a function: it is only computed when a cap is set."""
        caps_file = self._caps_file()
        env_set = env_caps(self.env)             # a malformed value is an InputError, never ignored
        if not env_set and not os.path.exists(caps_file):
            return Hold()                        # no cap anywhere: nothing to check or record
        cost = worst() if callable(worst) else worst
        if cost.basis == "free":
            return Hold()
        ledger = self.ledger
        try:
            row = ledger.reserve(cost, surface=surface, action=action, hold_seconds=hold_seconds, ref=ref)
        except BudgetError as exc:
            if exc.details.get("reason") != "ledger_unusable":
                raise                            # a cap refused it, or the caps file is unreadable
            if not env_set and not read_caps(Path(caps_file))["caps"]:
                return Hold()                    # only the unpriced allowance is stored: no cap to keep
            raise BudgetError(f"refused before sending: a spend cap is set and {exc.message}",
                              reason="ledger_unusable") from None
        return Hold((ledger, row))

    def settle_ref(self, ref: str, cost: Cost) -> None:
        """Settle the open reservation named `ref` (a `batch create`), if there is a ledger; a
        ledger that cannot be written leaves it at its worst case (never an underestimate)."""
        if not ledger_path(self.env).exists():
            return
        try:
            self.ledger.settle_ref(ref, cost, status="settled")
        except BudgetError:
            pass

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


__all__ = ["Guard", "Hold", "Cost", "cost_of", "worst_case", "table", "Worst"]
