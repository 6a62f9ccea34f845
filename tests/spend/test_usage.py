"""The usage report (spend/usage.py): windows of UTC days, groups by day, model, action or
surface, costs as the guard charges them (settled, else the worst case, marked; unknown adds
nothing), caps with their use; bad input refused before the ledger is read; rows treated as
untrusted (bad numbers, escapes, long names, too many rows or groups)."""

from __future__ import annotations

from datetime import date

import pytest

from openai_skill.errors import InputError
from openai_skill.manifest import load_manifest
from openai_skill.spend import Cost
from openai_skill.spend import usage
from openai_skill.spend.ledger import Ledger

AS_OF = "2026-12-02"
NOW = 1_796_220_000.0          # 2026-12-02 14:40 UTC
DAY = 86_400.0


@pytest.fixture
def ledger(tmp_path):
    clock = [NOW]
    book = Ledger(tmp_path / "cfg" / "spend.sqlite3", env={}, clock=lambda: clock[0])
    book.clock_value = clock
    yield book
    book.close()


def _call(ledger, usd, *, model="gpt-4o-mini", action="chat-completion", surface="cli", at=NOW, settle=True,
          details=None, error=None):
    """One call through the ledger's own methods: reserved at twice its cost, settled (or not)."""
    ledger.clock_value[0] = at
    row = ledger.reserve(Cost(None if usd is None else usd * 2, "worst_case", AS_OF, model), surface=surface,
                         action=action, hold_seconds=900)
    if settle:
        ledger.settle(row, Cost(usd, "usage", AS_OF, model, details=details or {}),
                      status="failed" if error else "settled", error=error)
    ledger.clock_value[0] = NOW
    return row


def test_windows_are_utc_calendar_days_today_included():
    window = usage.parse_window("7d", NOW)
    assert (window.first, window.last) == (date(2026, 11, 26), date(2026, 12, 2))
    assert window.days[0] == "2026-11-26" and window.days[-1] == "2026-12-02" and len(window.days) == 7
    assert window.start == 1_795_651_200.0           # 2026-11-26T00:00:00Z
    assert usage.parse_window("1d", NOW).days == ["2026-12-02"]
    assert usage.parse_window("2026-12-01", NOW).days == ["2026-12-01", "2026-12-02"]
    assert usage.parse_window("2026-12-02", NOW).start == 1_796_169_600.0
    assert len(usage.parse_window(f"{usage.MAX_DAYS}d", NOW).days) == usage.MAX_DAYS
    oldest = usage.parse_window(f"{usage.MAX_DAYS}d", NOW).first.isoformat()
    assert usage.parse_window(oldest, NOW).first.isoformat() == oldest


@pytest.mark.parametrize("given, why", [
    ("7x", "neither a number of days nor a date"), ("", "neither"), ("d", "neither"), (" 7d", "neither"),
    ("7", "neither"), ("-7d", "neither"), ("7D", "neither"), (7, "neither"), (None, "neither"),
    ("0d", "0 days is out of range"), ("367d", "367 days is out of range"), ("9999999d", "neither"),
    ("2026-02-30", "not a calendar date"), ("2026-12-03", "a date after today"),
    ("2025-12-01", "a date too far back"), ("2026-12-1", "neither"), ("2026-12-01T00:00", "neither"),
])
def test_a_bad_since_is_an_input_error_with_field_expected_given_and_fix(given, why):
    with pytest.raises(InputError) as refused:
        usage.parse_window(given, NOW)
    error = refused.value
    assert error.exit_code == 2 and why in error.message
    assert error.message.startswith("since: ") and repr(str(given)) in error.message
    assert error.details["field"] == "since" and error.details["given"] == str(given)
    assert "7d" in error.details["fix"] and "2026-12-01" in error.details["fix"]
    assert error.details["expected"] == "Nd (1d..366d) or YYYY-MM-DD (2025-12-02..2026-12-02)"


def test_a_bad_by_is_an_input_error_and_bad_input_reads_nothing(ledger):
    for by in usage.BY:
        assert usage.parse_by(by) == by
    with pytest.raises(InputError) as refused:
        usage.parse_by("week")
    assert refused.value.details == {"field": "by", "expected": list(usage.BY), "given": "week",
                                     "fix": "give --by day or --by model or --by action or --by surface"}
    ledger.rows_since = lambda *a: pytest.fail("the ledger was read for bad input")
    for since, by in (("7x", "day"), ("7d", "week")):
        with pytest.raises(InputError):
            usage.read(ledger, since, by)
    assert not ledger.path.exists()


def test_costs_are_settled_else_the_worst_case_marked_and_unknown_adds_nothing(ledger):
    ledger.set_caps({"daily": 10.0, "monthly": 100.0})
    _call(ledger, 0.25, details={"input_tokens": 1000, "cached_tokens": 200, "output_tokens": 50,
                                 "reasoning_tokens": 30})
    _call(ledger, 0.5, model="gpt-image-2", action="generate-image", details={"images": 2})
    _call(ledger, 0.75, settle=False)                                   # crashed: its worst case, 1.50
    _call(ledger, 0.0, error="RateLimitError", surface="mcp")           # failed with a status: settled at 0
    ledger.set_caps({}, allow_unpriced=True)
    ledger.set_caps({"daily": 10.0})
    _call(ledger, None, model="mystery", settle=False)                  # price unknown
    report = usage.read(ledger, "7d", "model")
    totals = report["totals"]
    assert totals == {"calls": 5, "errors": 1, "input_tokens": 1000, "cached_tokens": 200, "output_tokens": 50,
                      "reasoning_tokens": 30, "images": 2, "usd": 0.25 + 0.5 + 1.5 + 0.0,
                      "worst_case_calls": 1, "worst_case_usd": 1.5, "unpriced_calls": 1}
    assert totals["usd"] == ledger.summary()["caps"]["daily"]["spent_usd"]   # what the guard charges
    by_model = {g["key"]: g for g in report["groups"]}
    assert [g["key"] for g in report["groups"]] == ["gpt-4o-mini", "gpt-image-2", "mystery"]  # dearest first
    assert by_model["gpt-4o-mini"]["calls"] == 3 and by_model["gpt-4o-mini"]["usd"] == 1.75
    assert by_model["gpt-image-2"]["images"] == 2 and by_model["mystery"]["unpriced_calls"] == 1
    assert {g["key"]: g["calls"] for g in usage.read(ledger, "7d", "surface")["groups"]} == {"cli": 4, "mcp": 1}
    assert [g["key"] for g in usage.read(ledger, "7d", "action")["groups"]] == ["chat-completion",
                                                                                "generate-image"]
    assert report["days"][-1] == {"day": "2026-12-02", "usd": 2.25, "calls": 5, "worst_case_calls": 1}
    assert [d["calls"] for d in report["days"][:-1]] == [0] * 6


def test_by_day_only_the_window_in_order_and_the_chart_has_every_day(ledger):
    ledger.set_caps({"monthly": 100.0})
    _call(ledger, 1.0, at=NOW - 10 * DAY)                 # before the window
    _call(ledger, 0.1, at=NOW - 6 * DAY)                  # the window's first day
    _call(ledger, 0.2, at=NOW - 2 * DAY)
    _call(ledger, 0.3, at=NOW - 2 * DAY + 60)
    _call(ledger, 0.4, at=NOW)
    report = usage.read(ledger, "7d", "day")
    assert [(g["key"], g["calls"], round(g["usd"], 6)) for g in report["groups"]] == [
        ("2026-11-26", 1, 0.1), ("2026-11-30", 2, 0.5), ("2026-12-02", 1, 0.4)]
    assert [d["day"] for d in report["days"]] == usage.parse_window("7d", NOW).days
    assert [d["calls"] for d in report["days"]] == [1, 0, 0, 0, 2, 0, 1]
    assert report["since"] == "2026-11-26" and report["until"] == "2026-12-02" and report["days_in_window"] == 7
    assert report["rows_read"] == 4 and report["truncated"] is False and report["skipped_rows"] == 0
    assert round(report["totals"]["usd"], 6) == 1.0
    assert usage.read(ledger, "2026-11-22", "day")["totals"]["calls"] == 5


def test_caps_with_their_use(ledger):
    assert usage.read(ledger)["caps"]["set"] == {}                         # no budget: no file made
    assert not ledger.path.exists()
    ledger.set_caps({"daily": 2.0, "monthly": 0.0, "per_call": 1.0})
    ledger.env = {"OPENAI_SKILL_BUDGET_DAILY": "1.0"}
    ledger.set_caps({"monthly": 10.0})
    _call(ledger, 0.25)
    caps = usage.read(ledger)["caps"]
    assert caps["set"] == {
        "per_call": {"usd": 1.0, "period": "one call"},
        "daily": {"usd": 1.0, "period": "today (UTC)", "spent_usd": 0.25, "left_usd": 0.75, "used": 0.25,
                  "lowered_by": "OPENAI_SKILL_BUDGET_DAILY"},
        "monthly": {"usd": 10.0, "period": "this month (UTC)", "spent_usd": 0.25, "left_usd": 9.75,
                    "used": 0.025}}
    assert caps["day"] == "2026-12-02" and caps["month"] == "2026-12" and caps["allow_unpriced"] is False
    over = usage.caps_use({"day": "d", "month": "m", "allow_unpriced": False, "unsettled_calls": 0,
                           "unsettled_usd": 0.0,
                           "caps": {"daily": {"usd": 1.0, "spent_usd": 3.0, "left_usd": 0.0},
                                    "monthly": {"usd": 0.0, "spent_usd": 0.5, "left_usd": 0.0},
                                    "per_call": {"usd": 0.0, "spent_usd": 0.0}}})["set"]
    assert over["daily"]["used"] == 1.0 and over["monthly"]["used"] == 1.0
    assert over["per_call"] == {"usd": 0.0, "period": "one call", "spent_usd": 0.0, "left_usd": 0.0, "used": 0.0}


def _row(**values):
    row = {"made_at": NOW, "surface": "cli", "action": "chat-completion", "model": "gpt-4o-mini", "priced": 1,
           "reserved_usd": 0.5, "settled_usd": 0.25, "status": "settled", "error": None}
    return {**row, **values}


def test_rows_are_untrusted_numbers_and_names():
    window = usage.parse_window("7d", NOW)
    rows = [_row(model="evil\x1b[2J\x07\nname" + "x" * 500),
            _row(input_tokens="many", output_tokens=-5, images=float("nan"), cached_tokens=10**13,
                 reasoning_tokens=True, settled_usd=float("inf"), reserved_usd="1"),
            _row(settled_usd=-3, reserved_usd=float("nan")),
            _row(made_at="tomorrow"), _row(made_at=float("nan")), _row(made_at=1e300), _row(made_at=NOW + 3 * DAY),
            _row(model=None), _row(model=b"bytes"), _row(model=42)]
    report = usage.build(rows, window, "model")
    names = [g["key"] for g in report["groups"]]
    assert all(name.isprintable() and len(name) <= usage.MAX_TEXT for name in names)
    evil = next(name for name in names if name.startswith("evil"))
    assert evil == "evil\ufffd[2J\ufffd\ufffdname" + "x" * (usage.MAX_TEXT - 15) + "…"
    assert len(evil) == usage.MAX_TEXT
    assert set(names) == {evil, "gpt-4o-mini", "(no model)", "(not text)", "42"}
    assert report["skipped_rows"] == 4 and report["totals"]["calls"] == 6
    assert report["totals"]["input_tokens"] == report["totals"]["output_tokens"] == 0
    assert report["totals"]["images"] == report["totals"]["cached_tokens"] == report["totals"]["reasoning_tokens"] == 0
    assert report["totals"]["unpriced_calls"] == 2 and report["totals"]["worst_case_calls"] == 0   # no number: unknown
    assert report["totals"]["usd"] == 0.25 * 4


def test_the_rows_read_and_the_groups_shown_are_bounded(ledger):
    window = usage.parse_window("7d", NOW)
    rows = [_row(model=f"m{n:03d}", settled_usd=n / 1000) for n in range(usage.MAX_GROUPS + 20)]
    report = usage.build(rows, window, "model")
    assert len(report["groups"]) == usage.MAX_GROUPS
    assert report["groups"][0]["key"] == "m069" and report["other"]["groups"] == 20 and report["other"]["calls"] == 20
    assert round(report["other"]["usd"], 6) == round(sum(n / 1000 for n in range(20)), 6)
    assert report["totals"]["calls"] == usage.MAX_GROUPS + 20
    cut = usage.build(rows, window, "day", limit=10)
    assert cut["truncated"] is True and cut["rows_read"] == 10 and cut["totals"]["calls"] == 10
    assert "other" not in usage.build(rows[:3], window, "model")
    # the ledger is asked for one row more than a report shows, newest first
    ledger.set_caps({"daily": 100.0})
    for n in range(5):
        _call(ledger, 0.01, at=NOW - n * 60, model=f"m{n}")
    newest = ledger.rows_since(window.start, 3)
    assert [r["model"] for r in newest] == ["m0", "m1", "m2"]
    assert ledger.rows_since(NOW - 90, 10) == [r for r in newest[:2]]


def test_the_tool_schema_names_the_same_choices_and_defaults():
    schema = load_manifest().setup_tools["openai_usage"].input_schema["properties"]
    assert schema["by"]["enum"] == list(usage.BY) and schema["by"]["default"] == usage.DEFAULT_BY
    assert schema["since"]["default"] == usage.DEFAULT_SINCE
    assert f"{usage.MAX_DAYS} days" in schema["since"]["description"]
    import re

    assert re.fullmatch(schema["since"]["pattern"], "123456d") and usage._DAYS.fullmatch("123456d")
    assert not re.fullmatch(schema["since"]["pattern"], "1234567d") and not usage._DAYS.fullmatch("1234567d")


def test_every_report_is_what_the_output_schema_says(ledger):
    from jsonschema import Draft202012Validator

    schema = load_manifest().setup_tools["openai_usage"].output_schema
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    ledger.set_caps({"daily": 1.0, "per_call": 0.5})
    _call(ledger, 0.2, details={"input_tokens": 5})
    _call(ledger, 0.1, settle=False)
    many = [_row(model=f"m{n}") for n in range(usage.MAX_GROUPS + 1)]
    reports = [usage.read(ledger, since, by) for since in ("1d", "366d", "2026-12-01") for by in usage.BY]
    reports.append(usage.build(many, usage.parse_window("7d", NOW), "model", caps=reports[0]["caps"]))
    for report in reports:
        assert sorted(validator.iter_errors(report), key=str) == []


def test_the_bounds_on_a_rows_numbers_are_the_modules():
    window = usage.parse_window("1d", NOW)
    rows = [_row(input_tokens=usage.MAX_COUNT, output_tokens=usage.MAX_COUNT + 1, settled_usd=usage.MAX_USD),
            _row(settled_usd=usage.MAX_USD + 1, reserved_usd=usage.MAX_USD + 1)]
    totals = usage.build(rows, window, "day")["totals"]
    assert totals["input_tokens"] == usage.MAX_COUNT and totals["output_tokens"] == 0
    assert totals["usd"] == usage.MAX_USD and totals["unpriced_calls"] == 1
    assert (usage.MAX_COUNT, usage.MAX_USD) == (10**12, 10**9)
