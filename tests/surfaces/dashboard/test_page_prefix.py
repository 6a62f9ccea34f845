"""Another local web app cannot take over a local page (issue 16, item 2).

Cookies are scoped by host, not port: with `Path=/`, a server on any other 127.0.0.1 port
received the dashboard's session cookie from the browser (every navigation between two
127.0.0.1 ports is same-site, so SameSite=Strict did not help), and with it a plain HTTP
client read the CSRF token and ran the dashboard. Now every page URL lives under an
unguessable per-page prefix, the cookie's Path is that prefix, and a request outside it is
refused. Proven with headless Chromium and a second local server; then over raw HTTP with
the cookie in hand.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from support.browser import browser, open_link  # noqa: F401  (fixture)
from support.canary import CANARY_KEY
from support.local_pages import START, base_of, call, csrf_of, login, serving
from support.recording_server import RecordingServer


def _dashboard():
    from openai_skill.surfaces.dashboard.app import build_app
    from openai_skill.surfaces.dashboard.server import LocalPage
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    holder = []
    page = LocalPage(build_app(VaultAccess(), idle_minutes=1, on_quit=lambda: holder[0].stop("quit")),
                     idle_timeout=120, embedded=True)
    holder.append(page)
    return page, "Vault"


def _one_key():
    from openai_skill.surfaces.dashboard.one_key import OneKeyPage

    return OneKeyPage(lifetime=120).page, "Connect OpenAI"


PAGES = {"dashboard": _dashboard, "one-key page": _one_key}


def _visit(driver, url: str, title: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 15).until(
        lambda d: d.title.startswith(title) and d.execute_script("return document.readyState") == "complete")


@pytest.mark.parametrize("kind", PAGES)
def test_another_local_server_never_receives_the_session_cookie(browser, kind):  # noqa: F811
    page, title = PAGES[kind]()
    cookie_name = f"openai_skill_{page.port}"
    with serving(page), RecordingServer() as other:
        open_link(browser, page.url, title)
        base = base_of(START.fullmatch(page.url).group(2))
        (cookie,) = [c for c in browser.get_cookies() if c["name"] == cookie_name]
        assert cookie["path"] == base and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # The user opens the other app (typed, and from our page), which loads its own
        # sub-resources; it also lists the paths our pages use without the prefix.
        _visit(browser, other.url + "/", "Another local app")
        _visit(browser, f"http://127.0.0.1:{page.port}{base}/", title)
        browser.execute_script("window.location.href = arguments[0]", other.url + "/from-the-page")
        WebDriverWait(browser, 15).until(lambda d: d.title.startswith("Another local app"))
        for path in ("/set", "/static/style.css", f"/start/{'x' * 43}", "/remove?name=openai_api_key"):
            _visit(browser, other.url + path, "Another local app")
        WebDriverWait(browser, 15).until(lambda _: any(r["path"] == "/pixel.png" for r in other.seen()))

        # Positive control: the browser still holds the cookie and sends it where it belongs.
        _visit(browser, f"http://127.0.0.1:{page.port}{base}/", title)
        assert "one-time link" not in browser.page_source

    paths = [r["path"] for r in other.seen()]
    assert {"/", "/from-the-page", "/pixel.png", "/set", "/static/style.css"} <= set(paths), paths
    leaked = [c for c in other.cookies_seen() if cookie_name in c]
    assert leaked == [], f"the other server received the session cookie on {len(leaked)} of {len(paths)} requests"


@pytest.fixture
def dashboard():
    page, _ = _dashboard()
    with serving(page):
        port, start = START.fullmatch(page.url).groups()
        yield {"page": page, "port": int(port), "start": start, "base": base_of(start)}


def _outside(base: str, start: str) -> list[str]:
    token = start.rsplit("/", 1)[1]
    return ["/", "/set", "/quit", "/unlock", "/rotate", "/remove?name=openai_api_key", "/static/style.css",
            f"/start/{token}", base, base + "x/", base[:-1] + "/", "/" + base[2:] + "/", base.upper() + "/",
            "//" + base[1:] + "/", "/x" + base + "/", "/%2F" + base[1:] + "/"]


def test_a_request_outside_the_prefix_is_refused_even_with_the_cookie(dashboard):
    d = dashboard
    cookie = login(d["port"], d["start"])
    origin = {"Origin": f"http://127.0.0.1:{d['port']}", **cookie}
    _, _, html = call(d["port"], "GET", d["base"] + "/", headers=cookie)
    csrf = csrf_of(html)   # as if it had leaked too
    for path in _outside(d["base"], d["start"]):
        for method in ("GET", "POST"):
            form = {"csrf": csrf, "name": "openai_api_key", "value": CANARY_KEY, "to": "same"}
            status, headers, body = call(d["port"], method, path, headers=origin,
                                         form=form if method == "POST" else None)
            assert status == 404, (method, path, status)
            assert d["base"] not in body and csrf not in body and "set-cookie" not in headers
            assert "location" not in headers
    from openai_skill.secrets.store import VaultStore

    assert not VaultStore().exists()                        # nothing stored, nothing rotated
    assert d["page"].stop_reason is None                    # and /quit did not stop it
    status, _, html = call(d["port"], "GET", d["base"] + "/", headers=cookie)
    assert status == 200 and "Entries" in html              # the same cookie works inside the prefix


def test_each_page_gets_its_own_prefix_and_refusals_never_name_it():
    first, _ = _dashboard()
    second, _ = _one_key()
    bases = {base_of(START.fullmatch(p.url).group(2)) for p in (first, second)}
    assert len(bases) == 2
    with serving(first):
        port = first.port
        base = first.guard.prefix
        for host in ("evil.example", f"localhost:{port}"):
            status, _, body = call(port, "GET", base + "/", host=host)       # DNS rebinding reads this body
            assert status == 421 and base not in body
        status, _, body = call(port, "OPTIONS", base + "/")
        assert status == 405 and base not in body
        status, _, body = call(port, "GET", base + "/")                      # inside, no cookie: styled
        assert status == 403 and f'href="{base}/static/style.css"' in body


def test_opening_the_link_spends_nothing_until_the_button_is_pressed(dashboard):
    """A link previewer or a prefetch GETs the one-time link (issue 16, item 14): that must not use
    it up. The GET shows a button; only its same-origin POST exchanges the token for the cookie."""
    d = dashboard
    for _ in range(3):                                    # a previewer, a prefetch, the user
        status, headers, html = call(d["port"], "GET", d["start"])
        assert status == 200 and "set-cookie" not in headers and "Open the page" in html
        assert f'action="{d["start"]}"' in html and "<script" not in html
    for origin in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                   {"Origin": f"http://127.0.0.1:{d['port']}", "Sec-Fetch-Site": "cross-site"}):
        status, headers, _ = call(d["port"], "POST", d["start"], form={}, headers=origin)
        assert status == 403 and "set-cookie" not in headers, origin
    cookie = login(d["port"], d["start"])                 # the button, from the page itself
    status, _, html = call(d["port"], "GET", d["base"] + "/", headers=cookie)
    assert status == 200 and "Entries" in html
    status, _, html = call(d["port"], "GET", d["start"])  # now it is spent
    assert status == 403 and "used already" in html
