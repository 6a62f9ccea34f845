"""The local pages' gate, attacked over raw HTTP: every refusal is checked to store nothing,
and a positive control shows the same request succeeds when it is legitimate."""

from __future__ import annotations

import re
import time

import pytest

from support.canary import CANARY_KEY
from support.local_pages import START, base_of, call, csrf_of, login, serving


@pytest.fixture
def dashboard():
    from openai_skill.surfaces.dashboard.app import build_app
    from openai_skill.surfaces.dashboard.server import LocalPage
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    access = VaultAccess()
    pages = []
    app = build_app(access, idle_minutes=1, on_quit=lambda: pages[0].stop("quit"))
    page = LocalPage(app, idle_timeout=60, embedded=True)
    pages.append(page)
    with serving(page):
        port, start = START.fullmatch(page.url).groups()
        yield {"page": page, "access": access, "port": int(port), "start": start, "base": base_of(start)}


def _session(d) -> tuple[dict, str]:
    cookie = login(d["port"], d["start"])
    status, _, html = call(d["port"], "GET", d["base"] + "/", headers=cookie)
    assert status == 200
    return cookie, csrf_of(html)


def _set(d) -> str:
    return d["base"] + "/set"


def _store_form(csrf: str | None) -> dict:
    form = {"name": "openai_api_key", "value": CANARY_KEY}
    if csrf is not None:
        form["csrf"] = csrf
    return form


def _origin(d) -> dict:
    return {"Origin": f"http://127.0.0.1:{d['port']}"}


def _nothing_stored(d) -> None:
    assert not d["access"].store.paths.vault.exists()


def test_a_legitimate_post_stores_the_key(dashboard):
    cookie, csrf = _session(dashboard)
    status, headers, _ = call(dashboard["port"], "POST", _set(dashboard), form=_store_form(csrf),
                              headers={**cookie, **_origin(dashboard), "Sec-Fetch-Site": "same-origin"})
    assert (status, headers["location"]) == (303, dashboard["base"] + "/")
    assert dashboard["access"].store.lookup("openai_api_key") == CANARY_KEY
    status, _, html = call(dashboard["port"], "GET", dashboard["base"] + "/", headers=cookie)
    fingerprint = dashboard["access"].store.open().fingerprint("openai_api_key")
    assert re.search(rf"<code>openai_api_key</code></td><td><code>{fingerprint}</code>", html)
    assert CANARY_KEY not in html


def test_no_token_no_page(dashboard):
    status, _, html = call(dashboard["port"], "GET", dashboard["base"] + "/")
    assert status == 403 and "one-time link" in html and "Entries" not in html
    status, _, _ = call(dashboard["port"], "POST", _set(dashboard), form=_store_form("x"), headers=_origin(dashboard))
    assert status == 403
    _nothing_stored(dashboard)


def test_a_wrong_token_opens_nothing_and_sets_no_cookie(dashboard):
    wrong = dashboard["start"][:-4] + ("AAAA" if not dashboard["start"].endswith("AAAA") else "BBBB")
    status, headers, _ = call(dashboard["port"], "GET", wrong)
    assert status == 403 and "set-cookie" not in headers
    status, _, _ = call(dashboard["port"], "GET", dashboard["base"] + "/start/")
    assert status == 403


def test_the_one_time_token_works_once(dashboard):
    login(dashboard["port"], dashboard["start"])
    status, headers, html = call(dashboard["port"], "GET", dashboard["start"])
    assert status == 403 and "set-cookie" not in headers and "used already" in html


def test_an_expired_token_opens_nothing():
    from openai_skill.surfaces.dashboard.guard import Guard

    async def app(scope, receive, send):  # pragma: no cover - must never be reached
        raise AssertionError("reached the page")

    clock = [100.0]
    guard = Guard(app, port=5, token_ttl=30, clock=lambda: clock[0])
    clock[0] += 31
    sent = []

    async def send(message):
        sent.append(message)

    import asyncio

    path = guard.start_url.split("127.0.0.1:5", 1)[1]
    scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"host", b"127.0.0.1:5")]}
    asyncio.run(guard(scope, None, send))
    assert sent[0]["status"] == 403 and not guard.sessions


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost:{port}", "127.0.0.1",
                                  "127.0.0.1:1", "[::1]:{port}", ""])
def test_a_foreign_host_header_is_refused_even_with_a_valid_token(dashboard, host):
    status, headers, _ = call(dashboard["port"], "GET", dashboard["start"], host=host.format(port=dashboard["port"]))
    assert status == 421 and "set-cookie" not in headers
    login(dashboard["port"], dashboard["start"])  # the refused request did not use the token up


def test_a_foreign_host_header_is_refused_with_a_valid_session(dashboard):
    cookie, csrf = _session(dashboard)
    status, _, _ = call(dashboard["port"], "POST", _set(dashboard), form=_store_form(csrf), host="rebound.example",
                        headers={**cookie, "Origin": "http://rebound.example"})
    assert status == 421
    _nothing_stored(dashboard)


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_a_post_without_the_right_csrf_token_is_refused(dashboard, csrf):
    cookie, _ = _session(dashboard)
    status, _, html = call(dashboard["port"], "POST", _set(dashboard), form=_store_form(csrf),
                           headers={**cookie, **_origin(dashboard)})
    assert status == 403 and "did not come from this page" in html
    _nothing_stored(dashboard)


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {},                                                              # no Origin at all
    {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-site"},
])
def test_a_cross_origin_post_is_refused_even_with_cookie_and_csrf(dashboard, headers):
    cookie, csrf = _session(dashboard)
    sent = {k: v.format(port=dashboard["port"]) for k, v in headers.items()}
    status, _, _ = call(dashboard["port"], "POST", _set(dashboard), form=_store_form(csrf), headers={**cookie, **sent})
    assert status == 403
    _nothing_stored(dashboard)


def test_only_forms_of_bounded_size_are_read(dashboard):
    cookie, csrf = _session(dashboard)
    base = {**cookie, **_origin(dashboard)}
    status, _, _ = call(dashboard["port"], "POST", _set(dashboard),
                        headers={**base, "Content-Type": "application/json"},
                        body=b'{"csrf": "%s"}' % csrf.encode())
    assert status == 415
    status, _, _ = call(dashboard["port"], "POST", _set(dashboard), form={**_store_form(csrf), "pad": "x" * 20000},
                        headers=base)
    assert status == 413
    _nothing_stored(dashboard)


def test_no_cors_no_preflight_no_other_methods(dashboard):
    cookie, _ = _session(dashboard)
    for method in ("OPTIONS", "PUT", "DELETE", "PATCH"):
        status, headers, _ = call(dashboard["port"], method, dashboard["base"] + "/set",
                                  headers={**cookie, "Origin": "http://evil.example",
                                           "Access-Control-Request-Method": "POST"})
        assert status == 405
        assert not [h for h in headers if h.startswith("access-control-")]
    status, headers, _ = call(dashboard["port"], "GET", dashboard["base"] + "/", headers={**cookie, "Origin": "http://evil.example"})
    assert status == 200 and not [h for h in headers if h.startswith("access-control-")]


def test_every_answer_carries_the_security_headers(dashboard):
    opened = call(dashboard["port"], "GET", dashboard["start"])[1]
    status, headers, _ = call(dashboard["port"], "POST", dashboard["start"], form={}, headers=_origin(dashboard))
    cookie = headers["set-cookie"]
    assert re.fullmatch(rf"openai_skill_{dashboard['port']}=[A-Za-z0-9_-]{{40,}}; Path={dashboard['base']}; HttpOnly; "
                        "SameSite=Strict", cookie)
    answers = [opened, headers, call(dashboard["port"], "GET", dashboard["base"] + "/")[1],
               call(dashboard["port"], "GET", dashboard["base"] + "/", headers={"Cookie": cookie.split(";")[0]})[1],
               call(dashboard["port"], "GET", dashboard["base"] + "/static/style.css")[1],
               call(dashboard["port"], "GET", dashboard["base"] + "/", host="evil.example")[1]]
    for h in answers:
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert h["cache-control"] == "no-store"
        assert h["x-frame-options"] == "DENY" and h["referrer-policy"] == "same-origin"
        assert "server" not in h


def test_no_page_has_a_script_or_inline_handler(dashboard):
    cookie, csrf = _session(dashboard)
    call(dashboard["port"], "POST", _set(dashboard), form=_store_form(csrf), headers={**cookie, **_origin(dashboard)})
    pages = [call(dashboard["port"], "GET", dashboard["base"] + path, headers=cookie)[2]
             for path in ("/", "/remove?name=openai_api_key")]
    for html in pages:
        assert "<script" not in html.lower() and not re.search(r"\son[a-z]+=", html, re.I)
        assert 'type="password"' in html or "Remove" in html


def test_idle_timeout_stops_the_page():
    from openai_skill.surfaces.dashboard.app import build_app
    from openai_skill.surfaces.dashboard.server import LocalPage
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    page = LocalPage(build_app(VaultAccess(), idle_minutes=1, on_quit=lambda: None), idle_timeout=0.6,
                     embedded=True)
    started = time.monotonic()
    with serving(page) as result:
        while "reason" not in result and time.monotonic() - started < 60:   # a cap, not a bound
            time.sleep(0.05)
    assert result.get("reason") == "idle"
    assert time.monotonic() - started > 0.5      # not before its idle timeout


def test_without_the_mcp_extra_the_command_says_how_to_get_it(cli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)   # as if the extra were not installed
    for name in [m for m in sys.modules if m.startswith("openai_skill.surfaces.dashboard")]:
        monkeypatch.delitem(sys.modules, name)
    result = cli("dashboard", "--no-browser")
    assert result.code == 2 and "pip install 'openai-skill[mcp]'" in result.err
    assert "Traceback" not in result.err
