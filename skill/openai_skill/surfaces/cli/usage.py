"""`openai-skill usage`: what the spend ledger holds, as a table with totals (and a bar per day
on a terminal), or as the report's JSON (`--json`).

The report is `spend.usage`'s, read through the ledger's own methods; this module only draws
it. Names from the ledger arrive as printable text of bounded length (`usage.text_of`), so a
row cannot put a terminal escape on the screen.
"""

from __future__ import annotations

import shutil
import sys

from ...spend.caps import CAP_LABELS, usd
from ...spend.usage import BY, DEFAULT_BY, DEFAULT_SINCE, MAX_DAYS
from .commands import add_command
from .output import emit, write_text

CHART_WIDTH = (10, 60)      # the bars' width on a terminal: at least, at most (columns)
EIGHTHS = " ▏▎▍▌▋▊▉█"       # a bar's last cell, in eighths
COLUMNS = (("calls", "calls"), ("errors", "errors"), ("input_tokens", "input"), ("cached_tokens", "cached"),
           ("output_tokens", "output"), ("images", "images"))


def cmd_usage(args) -> int:
    """Show what the spend ledger recorded: calls, errors, tokens, images and cost per day, model,
    action or surface, with totals and each spend cap's use."""
    from ...spend import Guard
    from ...spend.usage import read

    guard = Guard()
    try:
        report = read(guard.ledger, args.since, args.by)
    finally:
        guard.close()   # in someone's process (tests, embedders) no connection is left behind
    if args.report_json or getattr(args, "json", False):
        emit(report)
        return 0
    out = sys.stdout
    tty = _isatty(out)
    text = ""
    if tty:
        text += chart(report["days"], _chart_width(), unicode=_unicode(out)) + "\n"
    text += table(report) + "\n" + caps_text(report.get("caps")) + "\n"
    write_text(out, text)
    return 0


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _unicode(stream) -> bool:
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "") in ("utf8", "utf16", "utf32")


def _chart_width() -> int:
    columns = shutil.get_terminal_size((80, 24)).columns
    return max(CHART_WIDTH[0], min(CHART_WIDTH[1], columns - 36))


def bar(value: float, top: float, width: int, unicode: bool = True) -> str:
    """A horizontal bar of `value` against `top` in at most `width` cells (eighths with unicode,
    whole cells of `#` without); a value above nothing shows at least a sliver."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(min(value / top, 1.0) * width * 8))
    if not unicode:
        return "#" * max(1, eighths // 8)
    return EIGHTHS[8] * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def chart(days: list[dict], width: int, unicode: bool = True) -> str:
    """One line per day: the date, a bar of its cost against the dearest day, the cost and calls."""
    top = max((d["usd"] for d in days), default=0.0)
    lines = []
    for d in days:
        marked = "*" if d.get("worst_case_calls") else ""
        lines.append(f"{d['day']}  {bar(d['usd'], top, width, unicode):<{width}}  {usd(d['usd'])}{marked}"
                     f"  ({d['calls']} call{'s' if d['calls'] != 1 else ''})")
    return "\n".join(lines)


def _cost(group: dict) -> str:
    return usd(group["usd"]) + ("*" if group["worst_case_calls"] else "")


def table(report: dict) -> str:
    """The groups and their totals as aligned columns, then the footnotes that apply."""
    head = [report["by"], *(label for _, label in COLUMNS), "cost"]
    body = [[g["key"], *(f"{g[name]:,}" for name, _ in COLUMNS), _cost(g)] for g in report["groups"]]
    if "other" in report:
        other = report["other"]
        body.append([f"({other['groups']} more)", *(f"{other[name]:,}" for name, _ in COLUMNS), _cost(other)])
    totals = report["totals"]
    body.append(["total", *(f"{totals[name]:,}" for name, _ in COLUMNS), _cost(totals)])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [f"usage {report['since']} to {report['until']} (UTC), by {report['by']}"]
    for n, row in enumerate([head, *body]):
        if n == len(body):   # the totals: a rule above them
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))).rstrip())
    if not report["groups"]:
        lines.append("no calls recorded in this window (calls are recorded while a spend cap is set)")
    if totals["worst_case_calls"]:
        lines.append(f"* includes {totals['worst_case_calls']} unsettled call(s) at their worst case "
                     f"({usd(totals['worst_case_usd'])})")
    if totals["unpriced_calls"]:
        lines.append(f"{totals['unpriced_calls']} call(s) of unknown price are not in the cost")
    if report["truncated"]:
        lines.append(f"only the newest {report['rows_read']:,} calls were read: the oldest days are incomplete")
    return "\n".join(lines)


def caps_text(caps: dict | None) -> str:
    """Each cap set, and how much of it is used."""
    if not caps or not caps["set"]:
        return "no spend cap is set (`openai-skill budget set --daily USD` sets one)"
    lines = ["spend caps:"]
    for name, cap in caps["set"].items():
        line = f"  {CAP_LABELS.get(name, name):<9} {usd(cap['usd'])}"
        if "spent_usd" in cap:
            line += (f": {usd(cap['spent_usd'])} spent {cap['period']}, {usd(cap['left_usd'])} left "
                     f"({cap['used'] * 100:.0f}% used)")
        else:
            line += f" for {cap['period']}"
        if "lowered_by" in cap:
            line += f" (lowered by {cap['lowered_by']})"
        lines.append(line)
    if caps["unsettled_calls"]:
        lines.append(f"  {caps['unsettled_calls']} call(s) never settled count at their worst case "
                     f"({usd(caps['unsettled_usd'])})")
    return "\n".join(lines)


def register(subparsers, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's one parser is cheap to build
    p = add_command(subparsers, cmd_usage)
    p.add_argument("--since", default=DEFAULT_SINCE, metavar="Nd|YYYY-MM-DD",
                   help=f"the last N UTC days, today included, or from a UTC date (default: {DEFAULT_SINCE}; "
                        f"at most {MAX_DAYS} days)")
    p.add_argument("--by", default=DEFAULT_BY, metavar="|".join(BY),
                   help=f"one row per {', '.join(BY)} (default: {DEFAULT_BY})")
    p.add_argument("--json", dest="report_json", action="store_true", help="print the report as JSON")
