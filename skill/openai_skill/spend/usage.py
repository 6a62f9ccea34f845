"""What the ledger says was spent, grouped: `openai-skill usage`, the dashboard's Usage page and
the MCP tool `openai_usage` all show the report built here.

    window = parse_window("7d", now)               # InputError for "7x", a future date, ...
    by = parse_by("model")                         # InputError for anything but BY
    rows = ledger.rows_since(window.start, MAX_ROWS + 1)
    report = build(rows, window, by, caps=caps_use(ledger.summary()))

Pure functions of rows in, a report dict out (`read` does the two ledger reads). A row's
values are untrusted: the file is the user's and anything can edit it, so every number is
checked (a non-number, NaN or a negative count adds nothing), every text is cut to MAX_TEXT
printable characters (no terminal escape, no newline), at most MAX_ROWS rows are read and at
most MAX_GROUPS groups (MAX_DAYS days) are shown; the rest are summed into `other`.

What a call costs here is what the spend guard charges: its settled cost once known, its worst
case until then (counted in `worst_case_calls`/`worst_case_usd`, so a reader sees which part of
the total is an upper bound), nothing for a call whose price is unknown (`unpriced_calls`).
A window of N days is the last N UTC calendar days, today included; a date starts at that
UTC day's midnight.
"""

from __future__ import annotations

import math
import re
import time
from datetime import date, datetime, timedelta, timezone

from ..errors import InputError

BY = ("day", "model", "action", "surface")
DEFAULT_SINCE = "30d"
DEFAULT_BY = "day"
MAX_DAYS = 366          # how far back a window may reach (one bar or row per day at most)
MAX_ROWS = 100_000      # rows read for one report; beyond, the oldest are left out (`truncated`)
MAX_GROUPS = 50         # groups by model, action or surface; the rest are summed into `other`
MAX_TEXT = 64           # characters of a model, action or surface name shown
MAX_COUNT = 10**12      # a token or image count above this is not a count
MAX_USD = 10**9         # nor a cost above this
COUNTS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "images")
SINCE_FIX = "give a number of days, e.g. --since 7d, or a UTC date, e.g. --since 2026-12-01"
_DAYS = re.compile(r"([0-9]{1,6})d")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CAP_PERIODS = {"per_call": "one call", "daily": "today (UTC)", "monthly": "this month (UTC)"}


class Window:
    """The UTC days a report covers: `first`..`last` (today), `start` the epoch second of the
    first day's midnight."""

    __slots__ = ("first", "last", "start", "days")

    def __init__(self, first: date, last: date):
        self.first, self.last = first, last
        self.start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc).timestamp()
        self.days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _since_error(given, why: str, today: date) -> InputError:
    oldest = (today - timedelta(days=MAX_DAYS - 1)).isoformat()
    return InputError(f"since: {why}, got {str(given)[:100]!r}; expected a number of days from 1d to {MAX_DAYS}d "
                      f"(e.g. 7d) or a UTC date from {oldest} to {today.isoformat()} (e.g. {today.isoformat()})",
                      field="since", expected=f"Nd (1d..{MAX_DAYS}d) or YYYY-MM-DD ({oldest}..{today.isoformat()})",
                      given=str(given)[:100], fix=SINCE_FIX)


def parse_window(since, now: float) -> Window:
    """The window `since` names ("7d": the last 7 UTC days, today included; "2026-12-01": that
    UTC day to today)."""
    today = datetime.fromtimestamp(now, timezone.utc).date()
    text = since if isinstance(since, str) else None
    if text is not None and (match := _DAYS.fullmatch(text)):
        days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise _since_error(since, f"{days} days is out of range", today)
        return Window(today - timedelta(days=days - 1), today)
    if text is not None and _DATE.fullmatch(text):
        try:
            first = date.fromisoformat(text)
        except ValueError:
            raise _since_error(since, "not a calendar date", today) from None
        if first > today:
            raise _since_error(since, "a date after today", today)
        if (today - first).days >= MAX_DAYS:
            raise _since_error(since, "a date too far back", today)
        return Window(first, today)
    raise _since_error(since, "neither a number of days nor a date", today)


def parse_by(by) -> str:
    if by not in BY:
        raise InputError(f"by: expected one of {', '.join(BY)}, got {str(by)[:100]!r}", field="by",
                         expected=list(BY), given=str(by)[:100], fix=f"give --by {' or --by '.join(BY)}")
    return by


def text_of(value, missing: str = "(none)") -> str:
    """A name from a row as safe text: printable characters only, at most MAX_TEXT of them."""
    if value is None or value == "":
        return missing
    text = value if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else "(not text)"
    text = "".join(c if c.isprintable() else "\ufffd" for c in text[:MAX_TEXT + 1])
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) if math.isfinite(value) and 0 <= value <= MAX_COUNT else 0


def _usd(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= MAX_USD else None


def _day(value) -> str | None:
    """The UTC day of a row's `made_at`; None when it is not a time."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(value))
    except (OverflowError, OSError, ValueError):
        return None


def _empty() -> dict:
    return {"calls": 0, "errors": 0, **dict.fromkeys(COUNTS, 0), "usd": 0.0, "worst_case_calls": 0,
            "worst_case_usd": 0.0, "unpriced_calls": 0}


def _add(total: dict, row: dict) -> None:
    total["calls"] += 1
    total["errors"] += 1 if row.get("error") else 0
    for name in COUNTS:
        total[name] += _count(row.get(name))
    settled, reserved = _usd(row.get("settled_usd")), _usd(row.get("reserved_usd"))
    if settled is not None:
        total["usd"] += settled
    elif row.get("priced") == 1 and reserved is not None:
        total["usd"] += reserved
        total["worst_case_calls"] += 1
        total["worst_case_usd"] += reserved
    else:
        total["unpriced_calls"] += 1


def _merge(into: dict, group: dict) -> None:
    for name, value in group.items():
        if name != "key":
            into[name] += value


def _rounded(group: dict) -> dict:
    return {**group, "usd": round(group["usd"], 8), "worst_case_usd": round(group["worst_case_usd"], 8)}


def _key(row: dict, by: str, day: str) -> str:
    if by == "day":
        return day
    return text_of(row.get(by), "(no model)" if by == "model" else "(none)")


def build(rows: list[dict], window: Window, by: str, *, caps: dict | None = None,
          limit: int = MAX_ROWS) -> dict:
    """The report: the window, one group per `by` value (days in order, others by cost, at most
    MAX_GROUPS and the rest in `other`), totals, every day's cost and calls (the chart) and,
    when given, the caps with their use (`caps_use`)."""
    truncated = len(rows) > limit
    groups: dict[str, dict] = {}
    days = {day: _empty() for day in window.days}
    totals, skipped = _empty(), 0
    for row in rows[:limit]:
        day = _day(row.get("made_at"))
        if day not in days:      # not a time, or outside the window (a clock set ahead)
            skipped += 1
            continue
        key = _key(row, by, day)
        if key not in groups:
            groups[key] = {"key": key, **_empty()}
        for target in (groups[key], days[day], totals):
            _add(target, row)
    if by == "day":
        ordered = sorted(groups.values(), key=lambda g: g["key"])
        shown, rest = ordered, []
    else:
        ordered = sorted(groups.values(), key=lambda g: (-g["usd"], -g["calls"], g["key"]))
        shown, rest = ordered[:MAX_GROUPS], ordered[MAX_GROUPS:]
    report = {
        "since": window.first.isoformat(), "until": window.last.isoformat(), "days_in_window": len(window.days),
        "by": by, "groups": [_rounded(g) for g in shown], "totals": _rounded(totals),
        "days": [{"day": day, "usd": round(d["usd"], 8), "calls": d["calls"], "worst_case_calls": d["worst_case_calls"]}
                 for day, d in days.items()],
        "rows_read": min(len(rows), limit), "truncated": truncated, "skipped_rows": skipped,
    }
    if rest:
        other = _empty()
        for group in rest:
            _merge(other, group)
        report["other"] = {"groups": len(rest), **_rounded(other)}
    if caps is not None:
        report["caps"] = caps
    return report


def caps_use(summary: dict) -> dict:
    """The caps that are set, from `Ledger.summary()`, with how much of each is used."""
    caps = {}
    for name, entry in summary["caps"].items():
        cap = entry.get("usd")
        if cap is None:
            continue
        out = {"usd": cap, "period": CAP_PERIODS.get(name, name)}
        if "spent_usd" in entry:
            spent = entry["spent_usd"]
            out["spent_usd"] = spent
            out["left_usd"] = entry.get("left_usd", max(0.0, cap - spent))
            out["used"] = round(min(spent / cap, 1.0), 4) if cap > 0 else (1.0 if spent > 0 else 0.0)
        if "lowered_by" in entry:
            out["lowered_by"] = entry["lowered_by"]
        caps[name] = out
    return {"set": caps, "day": summary["day"], "month": summary["month"],
            "allow_unpriced": summary["allow_unpriced"], "unsettled_calls": summary["unsettled_calls"],
            "unsettled_usd": summary["unsettled_usd"]}


def read(ledger, since=DEFAULT_SINCE, by=DEFAULT_BY, *, now: float | None = None) -> dict:
    """The report from a ledger (`spend.ledger.Ledger`): input checked first, so bad input
    reads nothing; the rows through `rows_since`, the caps through `summary`."""
    window = parse_window(since, ledger.clock() if now is None else now)
    by = parse_by(by)
    rows = ledger.rows_since(window.start, MAX_ROWS + 1)
    return build(rows, window, by, caps=caps_use(ledger.summary()))
