"""`openai-skill dashboard` driven by a real headless Chromium: store a canary key through the
form, see its fingerprint, verify one, rotate, remove with confirmation, stop. The canary
must never show up in the page, the process output or any file in plain text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from support.browser import browser, click_and_wait, open_link, screenshot  # noqa: F401  (fixture)
from support.canary import CANARY_KEY
from support.local_pages import DashboardProcess, listening_addresses

MODELS = {"object": "list", "data": [
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"}]}
LOOPBACK_HEX = "0100007F"   # 127.0.0.1 as /proc/net/tcp writes it


@pytest.fixture
def dashboard():
    proc = DashboardProcess("--idle-timeout", "120")
    yield proc
    proc.kill()


def _store():
    from openai_skill.secrets.store import VaultStore

    return VaultStore()


# Read in one script, not element by element: a page that a refresh or redirect replaces
# between two WebDriver round trips made one such read fail under load ("Node ... does not
# belong to the document"); a script sees one document.
def _flash(driver) -> str:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.flash'), e => e.innerText).join(' ')")


def _submit_key(driver, value: str, verify: bool = False) -> None:
    field = driver.find_element(By.ID, "value")
    field.clear()
    field.send_keys(value)
    if verify:
        driver.find_element(By.ID, "verify").click()
    for tick in driver.find_elements(By.ID, "confirm_origin"):  # the loopback fake as the API base: confirmed
        tick.click()
    click_and_wait(driver, driver.find_element(By.XPATH, "//button[text()='Store']"))


def _rows(driver) -> dict:
    return dict(driver.execute_script(
        "return Array.from(document.querySelectorAll('tbody tr'), r => "
        "Array.from(r.querySelectorAll('td'), c => c.innerText.trim()).slice(0, 2))"))


def _no_canary_in_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert CANARY_KEY.encode() not in path.read_bytes(), path


def test_store_see_fingerprint_remove_stop(browser, dashboard):  # noqa: F811
    assert listening_addresses(dashboard.port) == {LOOPBACK_HEX}
    open_link(browser, dashboard.url, "Vault")
    assert browser.current_url == f"http://127.0.0.1:{dashboard.port}{dashboard.base}/"   # the token left the bar
    assert "no entries yet" in browser.page_source

    _submit_key(browser, "not-a-key")
    assert "does not look like an OpenAI API key" in _flash(browser)
    assert not _store().exists()

    _submit_key(browser, CANARY_KEY)
    fingerprint = _store().open().fingerprint("openai_api_key")
    assert (f"Stored openai_api_key (fingerprint {fingerprint}), to be sent only to https://api.openai.com."
            in _flash(browser))
    assert _rows(browser) == {"openai_api_key": fingerprint}
    assert "a random key file beside the vault" in browser.page_source
    assert CANARY_KEY not in browser.page_source
    screenshot(browser, "dashboard.png")
    browser.refresh()                                   # post/redirect/get: nothing is posted again
    assert _flash(browser) == "" and _rows(browser) == {"openai_api_key": fingerprint}

    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Remove…"))
    assert "Remove an entry" in browser.title and fingerprint in browser.page_source
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "No, keep it"))
    assert _store().lookup("openai_api_key") == CANARY_KEY
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Remove…"))
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "button.danger"))
    assert "Removed openai_api_key." in _flash(browser)
    assert _rows(browser) == {} and _store().open().entries == {}

    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Stop the dashboard']"))
    assert "Dashboard stopped" in browser.page_source
    code, out, err = dashboard.finish()
    assert code == 0 and "Dashboard stopped (stopped from the page)" in out
    assert CANARY_KEY not in out + err and "Traceback" not in err
    _no_canary_in_files(_store().paths.folder)


def test_verify_with_list_models_then_rotate_to_a_passphrase(browser, openai):  # noqa: F811
    openai.reply("GET", "/models", MODELS)                    # OPENAI_BASE_URL points at it
    proc = DashboardProcess("--idle-timeout", "120")
    try:
        open_link(browser, proc.url, "Vault")
        from openai_skill.urls import origin_of

        origin = origin_of(os.environ["OPENAI_BASE_URL"])              # the API base in effect
        assert f"This key will be sent only to {origin}." in browser.page_source.replace("<code>", "").replace(
            "</code>", "")
        _submit_key(browser, CANARY_KEY, verify=True)
        assert f"{origin} accepted it (2 models visible)" in _flash(browser)
        assert f"to be sent only to {origin}." in _flash(browser)
        assert _store().open().origins("openai_api_key") == (origin,)
        sent = openai.requests[-1]
        assert (sent.path, sent.headers["Authorization"]) == ("/v1/models", f"Bearer {CANARY_KEY}")

        browser.find_element(By.ID, "to-pass").click()
        browser.find_element(By.ID, "new1").send_keys("correct horse battery")
        browser.find_element(By.ID, "new2").send_keys("correct horse battery")
        click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Rotate']"))
        assert "Rotated: 1 entries re-encrypted; unlocked by a passphrase" in _flash(browser)
        from openai_skill.secrets.store import VaultStore

        assert VaultStore({**os.environ, "OPENAI_SKILL_VAULT_PASSPHRASE": "correct horse battery"}
                          ).lookup("openai_api_key") == CANARY_KEY
        assert "a passphrase (stretched with scrypt)" in browser.page_source
        assert len(_rows(browser)["openai_api_key"]) == 8
    finally:
        _, out, err = proc.kill()
    assert "Traceback" not in err
    assert CANARY_KEY not in out + err and "correct horse battery" not in out + err


def test_a_rejected_key_is_not_stored(browser, openai):  # noqa: F811
    openai.reply("GET", "/models", {"error": {"message": f"Incorrect API key provided: {CANARY_KEY[:8]}***",
                                              "type": "invalid_request_error", "param": None,
                                              "code": "invalid_api_key"}}, status=401)
    proc = DashboardProcess("--idle-timeout", "120")
    try:
        open_link(browser, proc.url, "Vault")
        _submit_key(browser, CANARY_KEY, verify=True)
        flash = _flash(browser)
        assert "Incorrect API key provided" in flash and "sk-proj-" not in flash
        assert not _store().exists()
    finally:
        proc.kill()


def test_the_dashboard_stops_itself_when_idle():
    proc = DashboardProcess("--idle-timeout", "1")
    code, out, _ = proc.finish(timeout=60)   # a dashboard that never stops itself fails here
    assert code == 0 and re.search(r"Dashboard stopped \(idle\)", out)
