"""The spend guard: prices as data, the cost of every call, and caps checked before sending.

    guard = Guard(env)
    with guard.hold(worst_case("chat-completion", params), surface="cli", action="chat-completion",
                    hold_seconds=900) as hold:       # BudgetError here: nothing was sent
        answer = send(...)
        cost = hold.settle(cost_of("chat-completion", params, answer), request_id)

`openai_skill.Client` does this for every paid call (invoke, bulk requests, batch create), so
every surface passes through one place. Threat model: caps stop runaway and misled agents, not
a hostile program running as the user (which can edit the ledger or this code).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from ..errors import APIError, BudgetError
from .estimate import worst_case
from .ledger import Ledger, env_caps, ledger_path
from .prices import Cost, cost_of, table


class Hold:
    """One reservation: settle it with the real cost, or let it fail. A hold without a row
    (no ledger could be made and no cap is set) only carries the cost."""

    def __init__(self, ledger: Ledger | None, row: int | None, worst: Cost):
        self.ledger, self.row, self.worst = ledger, row, worst
        self.started = time.monotonic()
        self.done = False

    def settle(self, cost: Cost, request_id: str | None = None) -> Cost:
        """Record the real cost (unknown: the row stays at its worst case); return `cost`."""
        self._finish(cost, status="settled" if cost.usd is not None else "cost_unknown", request_id=request_id)
        return cost

    def attach(self, ref: str) -> None:
        """Name the reservation by what settles it later (a batch's ids); it stays open."""
        if self.ledger is not None and self.row is not None:
            self.done = True
            try:
                self.ledger.attach(self.row, ref)
            except BudgetError:
                pass  # unnamed, it still counts at its worst case

    def fail(self, exc: BaseException) -> None:
        """The call failed. An answer with an HTTP status was not billed: the row settles at 0.
        Anything else (a timeout, a broken stream, an interrupt) may have been billed: the row
        keeps its worst case."""
        if isinstance(exc, APIError) and exc.status:
            self._finish(Cost(0.0, "usage", self.worst.as_of), status="failed", error=type(exc).__name__)
        else:
            self._finish(None, status="left", error=type(exc).__name__)

    def keep(self, exc: BaseException) -> None:
        """The call failed in a way that may still have been billed (a batch create whose
        answer was lost): the row keeps its worst case, whatever the error."""
        self._finish(None, status="left", error=type(exc).__name__)

    def _finish(self, cost: Cost | None, *, status: str, request_id: str | None = None,
                error: str | None = None) -> None:
        if self.done or self.ledger is None or self.row is None:
            return
        self.done = True
        try:
            self.ledger.settle(self.row, cost, status=status, request_id=request_id, error=error,
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

    @property
    def ledger(self) -> Ledger:
        # The config folder is looked up on each call: a long-lived client (the default one, an
        # MCP server) follows OPENAI_SKILL_HOME when it changes, never a stale ledger.
        path = ledger_path(self.env)
        if self._ledger is None or self._ledger.path != path:
            if self._ledger is not None:
                self._ledger.close()
            self._ledger = Ledger(path, env=self.env)
        return self._ledger

    def hold(self, worst: Cost, *, surface: str, action: str, hold_seconds: float | None,
             ref: str | None = None) -> Hold:
        """Reserve `worst` (BudgetError when a cap refuses it: nothing may be sent)."""
        if worst.basis == "free":
            return Hold(None, None, worst)
        ledger = self.ledger
        try:
            row = ledger.reserve(worst, surface=surface, action=action, hold_seconds=hold_seconds, ref=ref)
        except BudgetError as exc:
            # No ledger can be made where none exists and no cap is in the environment: no cap
            # can be set either, so the call goes on unrecorded. Otherwise refuse (fail closed).
            if exc.details.get("reason") == "ledger_unusable" and not ledger.path.exists() \
                    and not env_caps(self.env):
                return Hold(None, None, worst)
            raise
        return Hold(ledger, row, worst)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


__all__ = ["Guard", "Hold", "Cost", "cost_of", "worst_case", "table", "Ledger"]
