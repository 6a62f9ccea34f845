"""The dashboard's Usage page: in headless Chromium, the page renders with its SVG chart (one bar
per day with calls), the top models and the caps, and its form raises and removes a cap (the
dashboard's session is the person); over raw HTTP, the form is refused without its CSRF token
or with a bad amount (nothing changed), and ledger text is escaped, never markup."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from support.browser import browser, click_and_wait, open_link, screenshot  # noqa: F401  (fixture)
from support.local_pages import START, DashboardProcess, base_of, call, csrf_of, login, serving
from support.ledgers import close_ledgers  # noqa: F401  (autouse: every ledger opened here is closed)
from support.ledgers import open_ledger as _ledger

DAY = 86_400.0


def _calls(spec) -> None:
    """Calls through the ledger's own reserve and settle: (days ago, USD, model), settled unless USD < 0."""
    from openai_skill.spend import Cost

    ledger = _ledger()
    now = time.time()
    for days_ago, usd, model in spec:
        ledger.clock = lambda at=now - days_ago * DAY: at
        row = ledger.reserve(Cost(abs(usd), "worst_case", "2026-12-02", model), surface="mcp",
                             action="chat-completion", hold_seconds=60)
        if usd >= 0:
            ledger.settle(row, Cost(usd, "usage", "2026-12-02", model, details={"input_tokens": 10}),
                          status="settled")
    ledger.close()


def _day(days_ago: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - days_ago * DAY))


@pytest.fixture
def dashboard():
    proc = DashboardProcess("--idle-timeout", "120")
    yield proc
    proc.kill()


def test_the_usage_page_charts_each_day_lists_models_and_its_form_changes_the_caps(browser, dashboard):  # noqa: F811
    _calls([(0, 0.40, "gpt-4o"), (0, 0.05, "gpt-4o-mini"), (3, 0.20, "gpt-4o-mini"), (12, -0.30, "gpt-image-2"),
            (45, 9.0, "gpt-4o")])                           # 45 days ago: outside the 30-day chart
    _ledger().set_caps({"daily": 5.0, "per_call": 1.0})
    open_link(browser, dashboard.url, "Vault")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Usage"))
    assert browser.title.startswith("Usage")

    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    assert sorted(bar.get_attribute("data-day") for bar in bars) == sorted([_day(12), _day(3), _day(0)])
    heights = {bar.get_attribute("data-day"): float(bar.get_attribute("height")) for bar in bars}
    assert heights[_day(0)] > heights[_day(12)] > heights[_day(3)] > 0         # $0.45, $0.30 (worst case), $0.20
    worst = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar.worst")
    assert [bar.get_attribute("data-day") for bar in worst] == [_day(12)]      # not settled: its worst case
    assert browser.find_element(By.CSS_SELECTOR, "svg.chart").size["width"] > 300   # drawn, not zero-sized

    models = [row.find_elements(By.TAG_NAME, "td")
              for row in browser.find_elements(By.CSS_SELECTOR, "#models tbody tr")]
    assert [cells[0].text for cells in models] == ["gpt-4o", "gpt-image-2", "gpt-4o-mini"]   # dearest first
    assert [cells[-1].text for cells in models] == ["$0.40", "$0.30*", "$0.25"]
    caps = {row.find_element(By.TAG_NAME, "th").text: row.text for row in
            browser.find_elements(By.CSS_SELECTOR, "#caps tbody tr")}
    assert set(caps) == {"per-call", "daily"} and "$0.45" in caps["daily"] and "$4.55" in caps["daily"]
    screenshot(browser, "usage.png")

    field = browser.find_element(By.ID, "cap_daily")
    assert field.get_attribute("value") == "5"
    field.clear()
    field.send_keys("7.5")                                   # raising: allowed here, the session is the person
    browser.find_element(By.ID, "cap_per_call").clear()      # empty: removed
    browser.find_element(By.ID, "cap_monthly").send_keys("40")
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Save the caps']"))
    assert "Saved the spend caps: per-call none, daily $7.50, monthly $40.00" in browser.find_element(
        By.CSS_SELECTOR, ".flash").text
    assert _ledger().stored_caps() == {"caps": {"daily": 7.5, "monthly": 40.0}, "allow_unpriced": False}
    caps = {row.find_element(By.TAG_NAME, "th").text
            for row in browser.find_elements(By.CSS_SELECTOR, "#caps tbody tr")}
    assert caps == {"daily", "monthly"}

    browser.find_element(By.ID, "cap_daily").clear()
    browser.find_element(By.ID, "cap_daily").send_keys("lots")
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Save the caps']"))
    assert "daily cap: expected an amount in USD" in browser.find_element(By.CSS_SELECTOR, ".flash.error").text
    assert _ledger().stored_caps()["caps"] == {"daily": 7.5, "monthly": 40.0}   # nothing changed


@pytest.fixture
def page():
    from openai_skill.surfaces.dashboard.app import build_app
    from openai_skill.surfaces.dashboard.server import LocalPage
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    app = build_app(VaultAccess(), idle_minutes=1, on_quit=lambda: None)
    local = LocalPage(app, idle_timeout=60, embedded=True)
    with serving(local):
        port, start = START.fullmatch(local.url).groups()
        cookie = login(int(port), start)
        yield {"port": int(port), "base": base_of(start), "cookie": cookie,
               "post": {**cookie, "Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}}


def _usage(d) -> tuple[int, dict, str]:
    return call(d["port"], "GET", d["base"] + "/usage", headers=d["cookie"])


def test_ledger_text_is_escaped_and_the_page_keeps_the_csp(page):
    _ledger().set_caps({"daily": 5.0})
    _calls([(0, 0.1, '<script>alert(1)</script>"><img src=x onerror=alert(2)>')])
    status, headers, html = _usage(page)
    assert status == 200
    assert "<script" not in html and "<img" not in html and "onerror=alert(2)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;" in html
    assert headers["content-security-policy"].startswith("default-src 'none'; style-src 'self'")
    assert "style=" not in html                                   # the CSP allows no inline style


def test_the_caps_form_needs_its_csrf_token_and_a_valid_amount(page):
    _ledger().set_caps({"daily": 5.0})
    csrf = csrf_of(_usage(page)[2])
    for form in ({"daily": "50"}, {"daily": "50", "csrf": "forged"}):
        status, _, _ = call(page["port"], "POST", page["base"] + "/caps", form=form, headers=page["post"])
        assert status == 403
    status, _, _ = call(page["port"], "POST", page["base"] + "/caps", form={"daily": "50", "csrf": csrf},
                        headers={**page["cookie"], "Origin": "http://evil.example"})
    assert status == 403
    for bad in ("-1", "nan", "1e999", "five"):
        status, headers, _ = call(page["port"], "POST", page["base"] + "/caps",
                                  form={"daily": "1", "monthly": bad, "csrf": csrf}, headers=page["post"])
        assert status == 303 and headers["location"].endswith("/usage")
        assert "monthly cap: expected an amount in USD" in _usage(page)[2]
    assert _ledger().stored_caps() == {"caps": {"daily": 5.0}, "allow_unpriced": False}   # nothing changed
    status, _, _ = call(page["port"], "POST", page["base"] + "/caps",
                        form={"daily": "50", "per_call": "", "monthly": "", "allow_unpriced": "1", "csrf": csrf},
                        headers=page["post"])
    assert status == 303
    assert _ledger().stored_caps() == {"caps": {"daily": 50.0}, "allow_unpriced": True}
    assert "calls of unknown price allowed" in _usage(page)[2]


def test_the_chart_is_one_bar_per_day_with_calls_inside_its_box():
    import re

    from openai_skill.surfaces.dashboard.usage_page import CHART_HEIGHT, CHART_WIDTH, PLOT_LEFT, chart_svg

    days = [{"day": f"2026-11-{n:02d}", "usd": n / 100, "calls": n % 3, "worst_case_calls": int(n == 29)}
            for n in range(1, 31)]
    svg = chart_svg(days)
    bars = [dict(re.findall(r'(\w[\w-]*)="([^"]*)"', rect)) for rect in re.findall(r"<rect [^>]*>", svg)]
    assert [b["data-day"] for b in bars] == [d["day"] for d in days if d["calls"]]
    assert [b["class"] for b in bars].count("bar worst") == 1 and bars[-1]["data-day"] == "2026-11-29"
    x = [float(b["x"]) for b in bars]
    assert x == sorted(x) and x[0] >= PLOT_LEFT
    assert all(float(b["x"]) + float(b["width"]) <= CHART_WIDTH and float(b["y"]) >= 0 for b in bars)
    assert all(float(b["y"]) + float(b["height"]) <= CHART_HEIGHT for b in bars)
    tallest = max(bars, key=lambda b: float(b["height"]))
    assert tallest["data-day"] == "2026-11-29"                      # the dearest day with calls ($0.29 < $0.30: none)
    heights = {b["data-day"]: float(b["height"]) for b in bars}
    assert abs(heights["2026-11-14"] / heights["2026-11-28"] - 14 / 28) < 0.01   # proportional to the cost
    assert "<title>2026-11-29: $0.29 (some at their worst case), 2 calls</title>" in svg
    assert "$0.30 on the dearest day" in svg and "2026-11-01 to 2026-11-30" in svg
    assert chart_svg([{"day": "2026-12-02", "usd": 0.0, "calls": 4, "worst_case_calls": 0}]).count("<rect") == 1


def test_the_models_table_shows_the_ten_dearest_and_says_the_rest_are_in_the_total():
    from openai_skill.spend import usage
    from openai_skill.surfaces.dashboard.usage_page import TOP_MODELS, models_table

    now = time.time()
    rows = [{"made_at": now, "model": f"m{n:02d}", "priced": 1, "reserved_usd": 1.0, "settled_usd": n / 100,
             "action": "chat-completion", "surface": "cli", "error": None} for n in range(TOP_MODELS + 2)]
    html = models_table(usage.build(rows, usage.parse_window("1d", now), "model"))
    assert html.count("<tr><td>") == TOP_MODELS and "m11" in html and "m01" not in html
    assert "the models not shown are in the total" in html and '<th scope="row">Total</th><td>12</td>' in html
    assert "the models not shown" not in models_table(usage.build(rows[:3], usage.parse_window("1d", now), "model"))
