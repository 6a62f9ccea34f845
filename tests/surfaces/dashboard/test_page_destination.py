"""A local page names where the key goes before it is typed (issue 16, item 4).

An MCP client could start the server with its own OPENAI_BASE_URL: the one-key page then sent
the key there at "verify", said "OpenAI accepted it", and silently added that origin to the
stored entry. Now the page names the destination origin above the key field; a non-default
origin, or one the stored entry does not have, needs a tick on the page naming it, checked by
the server before the key goes anywhere. Proven with headless Chromium and a second local
server standing for the hostile API base.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from support.browser import browser, click_and_wait, open_link  # noqa: F401  (fixture)
from support.canary import CANARY_KEY
from support.local_pages import START, call, csrf_of, login, serving
from support.recording_server import RecordingServer

MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "system"}]}


@pytest.fixture
def hostile(monkeypatch):
    """A server that would gladly take the key, set as the API base of the page's process."""
    with RecordingServer() as server:
        server.answer_json("/v1/models", MODELS)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        yield server


def _one_key_page():
    from openai_skill.surfaces.dashboard.one_key import OneKeyPage

    return OneKeyPage(lifetime=120, embedded=True)


def _store():
    from openai_skill.secrets.store import VaultStore

    return VaultStore()


def _text_above_the_key_field(driver) -> str:
    """Everything the page shows before the key field, in reading order."""
    return driver.execute_script(
        "const field = document.getElementById('value'); const range = document.createRange();"
        "range.setStart(document.body, 0); range.setEndBefore(field); return range.toString();")


def _type_key_and_submit(driver, *, verify: bool, tick: bool | None) -> str:
    driver.find_element(By.ID, "value").send_keys(CANARY_KEY)
    if verify:
        driver.find_element(By.ID, "verify").click()
    if tick:
        driver.find_element(By.ID, "confirm_origin").click()
    elif tick is False:   # a page that skipped the browser's own check: the server must refuse it
        driver.execute_script("document.getElementById('confirm_origin').removeAttribute('required')")
    click_and_wait(driver, driver.find_element(By.XPATH, "//button[text()='Store the key']"))
    return driver.find_element(By.TAG_NAME, "main").text


def test_the_one_key_page_names_a_hostile_destination_and_sends_nothing_unconfirmed(browser, hostile):  # noqa: F811
    one = _one_key_page()
    with serving(one.page):
        open_link(browser, one.url, "Connect OpenAI")
        above = _text_above_the_key_field(browser)
        assert f"This key will be sent only to {hostile.url}." in above
        assert "That is not OpenAI's API" in above
        assert browser.find_element(By.ID, "confirm_origin").get_attribute("required") == "true"

        text = _type_key_and_submit(browser, verify=True, tick=False)
        assert "confirm on the page that this key may be sent to " + hostile.url in text
        assert not [r for r in hostile.seen() if "authorization" in r["headers"]]   # nothing was sent
        assert not _store().exists()

        text = _type_key_and_submit(browser, verify=True, tick=True)                # the person ticks it
        assert "Key stored" in text and f"{hostile.url} accepted it" in text and "OpenAI accepted" not in text
    (request,) = [r for r in hostile.seen() if "authorization" in r["headers"]]
    assert request["headers"]["authorization"] == f"Bearer {CANARY_KEY}"
    assert _store().open().origins("openai_api_key") == (hostile.url,)


def test_the_page_never_adds_an_origin_to_a_stored_entry_silently(browser, hostile):  # noqa: F811
    _store().put("openai_api_key", "sk-proj-" + "0" * 40)                   # bound to api.openai.com
    one = _one_key_page()
    with serving(one.page):
        open_link(browser, one.url, "Connect OpenAI")
        above = _text_above_the_key_field(browser)
        assert "goes only to https://api.openai.com; storing here would let it go to " + hostile.url in above
        text = _type_key_and_submit(browser, verify=False, tick=False)
        assert "the stored entry goes only to https://api.openai.com" in text
    assert _store().open().origins("openai_api_key") == ("https://api.openai.com",)
    assert _store().lookup("openai_api_key") != CANARY_KEY and hostile.seen() == []


def test_openais_own_api_needs_no_tick_and_is_named(browser, monkeypatch):  # noqa: F811
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    one = _one_key_page()
    with serving(one.page):
        open_link(browser, one.url, "Connect OpenAI")
        above = _text_above_the_key_field(browser)
        assert "This key will be sent only to https://api.openai.com (OpenAI's API)." in above
        assert browser.find_elements(By.ID, "confirm_origin") == []
        text = _type_key_and_submit(browser, verify=False, tick=None)
    assert "Key stored" in text and _store().open().origins("openai_api_key") == ("https://api.openai.com",)


def test_the_dashboard_form_asks_the_same_and_the_server_checks_the_origin_named(hostile):
    from openai_skill.surfaces.dashboard.app import build_app
    from openai_skill.surfaces.dashboard.server import LocalPage
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    page = LocalPage(build_app(VaultAccess(), idle_minutes=1, on_quit=lambda: None), idle_timeout=60, embedded=True)
    with serving(page):
        port, start = START.fullmatch(page.url).groups()
        port, base = int(port), page.guard.prefix
        cookie = login(port, start)
        _, _, html = call(port, "GET", base + "/", headers=cookie)
        assert f"This key will be sent only to <code>{hostile.url}</code>" in html and 'id="confirm_origin"' in html
        headers = {**cookie, "Origin": f"http://127.0.0.1:{port}"}
        form = {"csrf": csrf_of(html), "name": "openai_api_key", "value": CANARY_KEY, "verify": "1"}
        for confirmed in (None, "", "https://api.openai.com", hostile.url + "/v1", hostile.url.upper()):
            sent = form if confirmed is None else {**form, "confirm_origin": confirmed}
            call(port, "POST", base + "/set", headers=headers, form=sent)
            _, _, html = call(port, "GET", base + "/", headers=cookie)
            assert "confirm on the page that this key may be sent to" in html, confirmed
        assert hostile.seen() == [] and not _store().exists()
        call(port, "POST", base + "/set", headers=headers, form={**form, "confirm_origin": hostile.url})
        _, _, html = call(port, "GET", base + "/", headers=cookie)
        assert f"{hostile.url} accepted it (1 models visible)" in html
    assert _store().open().origins("openai_api_key") == (hostile.url,)
