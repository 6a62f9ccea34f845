"""The dashboard's Usage page: a chart of the last days' cost, the top models, the spend caps
with their use, and the form that changes the caps.

Pure functions from the report (`spend.usage.build`) to HTML, like `pages.py`. The chart is
SVG written here on the server: no script, nothing but markup and the page's own stylesheet
(the CSP allows no inline style, so the SVG is styled by class). Every value from the ledger
goes through `pages.escape`; names arrive already cut to printable text (`usage.text_of`).

The caps form is the person's way to change caps in a browser: the dashboard's session (its
one-time link, cookie, CSRF token and Origin check) stands for the person at a terminal that
`openai-skill budget` asks for, so raising and clearing are allowed here. `parse_caps` checks
the whole form before anything changes.
"""

from __future__ import annotations

from ...spend.caps import CAP_LABELS, CAPS, parse_usd, usd
from .pages import Html, escape, nav, page

CHART_WIDTH, CHART_HEIGHT = 720, 220        # the SVG's own coordinates (it scales to the page)
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM = 64, 16, 36   # room for the axis labels
TOP_MODELS = 10                             # rows of the models table
CAP_HELP = {"per_call": "the most one request may cost", "daily": "per UTC day", "monthly": "per UTC month"}


def chart_svg(days: list[dict]) -> Html:
    """One bar per day with calls (height: its cost against the dearest day), a baseline, the
    first and last dates and the top cost; each bar's <title> says its day, cost and calls."""
    plot_w = CHART_WIDTH - PLOT_LEFT - 8
    plot_h = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    base_y = PLOT_TOP + plot_h
    top = max((d["usd"] for d in days), default=0.0)
    step = plot_w / max(len(days), 1)
    total = sum(d["usd"] for d in days)
    parts = []
    for n, d in enumerate(days):
        if not d["calls"]:
            continue
        height = max(1.0, plot_h * d["usd"] / top) if top > 0 else 1.0
        x = PLOT_LEFT + n * step + step * 0.15
        kind = "bar worst" if d.get("worst_case_calls") else "bar"
        mark = " (some at their worst case)" if d.get("worst_case_calls") else ""
        parts.append(f'<rect class="{kind}" data-day="{escape(d["day"])}" x="{x:.1f}" y="{base_y - height:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{height:.1f}"><title>{escape(d["day"])}: '
                     f'{escape(usd(d["usd"]))}{mark}, {d["calls"]} call{"s" if d["calls"] != 1 else ""}</title></rect>')
    first, last = (days[0]["day"], days[-1]["day"]) if days else ("", "")
    label = f"Cost per UTC day from {first} to {last}: {usd(total)} in all, {usd(top)} on the dearest day"
    return Html(
        f'<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{escape(label)}</title>'
        f'<line class="axis" x1="{PLOT_LEFT}" y1="{base_y}" x2="{CHART_WIDTH - 8}" y2="{base_y}"/>'
        f'<line class="grid" x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{CHART_WIDTH - 8}" y2="{PLOT_TOP}"/>'
        f'<text class="label" x="{PLOT_LEFT - 6}" y="{PLOT_TOP + 4}" text-anchor="end">{escape(usd(top))}</text>'
        f'<text class="label" x="{PLOT_LEFT - 6}" y="{base_y + 4}" text-anchor="end">$0</text>'
        f'<text class="label" x="{PLOT_LEFT}" y="{base_y + 22}">{escape(first)}</text>'
        f'<text class="label" x="{CHART_WIDTH - 8}" y="{base_y + 22}" text-anchor="end">{escape(last)}</text>'
        + "".join(parts) + "</svg>")


def _cost(group: dict) -> str:
    return usd(group["usd"]) + ("*" if group["worst_case_calls"] else "")


def models_table(report: dict) -> Html:
    groups = report["groups"][:TOP_MODELS]
    if not groups:
        return Html("<p>No calls recorded in this window. Calls are recorded while a spend cap is set.</p>")
    rows = "".join(
        f"<tr><td><code>{escape(g['key'])}</code></td><td>{g['calls']:,}</td><td>{g['errors']:,}</td>"
        f"<td>{g['input_tokens']:,}</td><td>{g['output_tokens']:,}</td><td>{g['images']:,}</td>"
        f"<td>{escape(_cost(g))}</td></tr>" for g in groups)
    totals = report["totals"]
    notes = []
    if len(report["groups"]) > TOP_MODELS or "other" in report:
        notes.append("the models not shown are in the total")
    if totals["worst_case_calls"]:
        notes.append(f"* includes {totals['worst_case_calls']} unsettled call(s) at their worst case")
    if totals["unpriced_calls"]:
        notes.append(f"{totals['unpriced_calls']} call(s) of unknown price are not in the cost")
    return Html(
        '<table id="models"><caption>The dearest models first'
        + (f" ({escape('; '.join(notes))})" if notes else "") + '.</caption><thead><tr><th scope="col">Model</th>'
        '<th scope="col">Calls</th><th scope="col">Errors</th><th scope="col">Input tokens</th>'
        '<th scope="col">Output tokens</th><th scope="col">Images</th><th scope="col">Cost</th></tr></thead><tbody>'
        + rows + f'</tbody><tfoot><tr><th scope="row">Total</th><td>{totals["calls"]:,}</td>'
        f'<td>{totals["errors"]:,}</td><td>{totals["input_tokens"]:,}</td><td>{totals["output_tokens"]:,}</td>'
        f'<td>{totals["images"]:,}</td><td>{escape(_cost(totals))}</td></tr></tfoot></table>')


def caps_table(caps: dict) -> Html:
    if not caps["set"]:
        return Html("<p>No spend cap is set: calls are neither limited nor recorded.</p>")
    rows = []
    for name, cap in caps["set"].items():
        if "spent_usd" in cap:
            used = (f'<meter min="0" max="1" value="{cap["used"]}" aria-label="{escape(CAP_LABELS[name])} cap used">'
                    f'</meter> {cap["used"] * 100:.0f}%')
            spent, left = usd(cap["spent_usd"]), usd(cap["left_usd"])
        else:
            used, spent, left = "—", "—", "—"
        lowered = f" (lowered by <code>{escape(cap['lowered_by'])}</code>)" if "lowered_by" in cap else ""
        rows.append(f'<tr id="cap-{escape(name)}"><th scope="row">{escape(CAP_LABELS[name])}</th>'
                    f"<td>{escape(usd(cap['usd']))}{lowered}</td><td>{escape(cap['period'])}</td>"
                    f"<td>{escape(spent)}</td><td>{escape(left)}</td><td>{used}</td></tr>")
    unsettled = (f"<p>{caps['unsettled_calls']} call(s) never settled count at their worst case "
                 f"({escape(usd(caps['unsettled_usd']))}).</p>" if caps["unsettled_calls"] else "")
    return Html('<table id="caps"><thead><tr><th scope="col">Cap</th><th scope="col">Set to</th>'
                '<th scope="col">For</th><th scope="col">Spent</th><th scope="col">Left</th><th scope="col">Used</th>'
                "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + unsettled)


def caps_form(stored: dict, csrf: str, base: str) -> Html:
    """The stored caps as editable fields (empty: no cap) and the unpriced allowance."""
    fields = []
    for name in CAPS:
        value = stored["caps"].get(name)
        shown = "" if value is None else f"{value:g}"
        fields.append(f'<p><label for="cap_{name}">{escape(CAP_LABELS[name].capitalize())} cap in USD</label>'
                      f'<input id="cap_{name}" name="{name}" value="{escape(shown)}" inputmode="decimal" '
                      f'autocomplete="off" aria-describedby="cap_{name}-help"><span id="cap_{name}-help" '
                      f'class="help">{escape(CAP_HELP[name])}; empty: no cap</span></p>')
    checked = " checked" if stored["allow_unpriced"] else ""
    return Html(
        f'<form method="post" action="{escape(base)}/caps" id="caps-form">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">' + "".join(fields)
        + f'<p><input id="allow_unpriced" name="allow_unpriced" type="checkbox" value="1"{checked}>'
        '<label for="allow_unpriced" class="inline">Allow calls whose price is unknown while a cap is set</label></p>'
        '<p><button type="submit">Save the caps</button></p></form>')


def parse_caps(form: dict) -> tuple[dict, bool]:
    """({cap: USD or None to remove}, allow_unpriced) from the caps form; InputError naming the
    field for a bad amount, before anything is changed."""
    caps = {}
    for name in CAPS:
        raw = form.get(name, "").strip()
        caps[name] = None if raw == "" else parse_usd(raw, f"{CAP_LABELS[name]} cap")
    return caps, form.get("allow_unpriced") == "1"


def usage_page(report: dict, stored: dict, csrf: str, flash: list, *, base: str) -> str:
    """The whole page: the chart, the top models, the caps with their use, the caps form."""
    body = Html(
        nav(base, "/usage")
        + f'<section aria-labelledby="chart-h"><h2 id="chart-h">Cost per day, {escape(report["since"])} to '
        f'{escape(report["until"])} (UTC)</h2>' + chart_svg(report["days"])
        + (f'<p>{escape(usd(report["totals"]["usd"]))} for {report["totals"]["calls"]:,} calls in this window.'
           + (" Orange bars: days with calls not settled, counted at their worst case." if
              report["totals"]["worst_case_calls"] else "") + "</p>" if report["totals"]["calls"] else "")
        + ('<p class="flash error" role="alert">The ledger holds more calls than one page reads: the oldest days '
           "are incomplete.</p>" if report["truncated"] else "")
        + '</section><section aria-labelledby="models-h"><h2 id="models-h">Top models</h2>' + models_table(report)
        + '</section><section aria-labelledby="caps-h"><h2 id="caps-h">Spend caps</h2>' + caps_table(report["caps"])
        + "<p>A call whose worst case would pass a cap is refused before it is sent. Here you may raise, lower or "
          "remove a cap; an agent cannot (at a terminal, raising one asks for a person).</p>"
        + caps_form(stored, csrf, base) + "</section>")
    return page("Usage", body, flash, base=base)
