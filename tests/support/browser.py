"""Headless Chromium for the page tests, fully offline.

The driver is given explicitly (Selenium Manager would otherwise try to download one) and
Chromium starts with its background networking, component updates, sync and first-run
checks off, and a resolver that knows no name but the loopback address: nothing it does can
reach a machine but this one. Under CI=true a missing Chromium fails the test; elsewhere it
skips with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = "apt-get install chromium chromium-driver (and pip install selenium)"
# Each run saves fresh screenshots here (git-ignored); docs/ keeps the copies the README shows.
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "build" / "screenshots")
OFFLINE_FLAGS = (
    "--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--no-default-browser-check", "--disable-sync", "--disable-extensions",
    "--disable-client-side-phishing-detection", "--disable-domain-reliability",
    "--metrics-recording-only", "--no-pings", "--password-store=basic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=900,1000", "--lang=en-US",
)


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(os.path.basename(path))):
            return f"{path} is missing"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is missing"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: the browser tests need it in CI ({INSTALL_HINT})")
        pytest.skip(f"{missing} ({INSTALL_HINT})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    for flag in OFFLINE_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run its sandbox as root
    driver_path = CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else shutil.which("chromedriver")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """Save a PNG of the whole page (kept small: one column, no images)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    from selenium.webdriver.common.by import By

    height = driver.find_element(By.TAG_NAME, "html").size["height"]
    driver.set_window_size(900, min(max(int(height) + 140, 400), 2400))  # + the window's own frame
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    driver.set_window_size(900, 1000)
    return path


def click_and_wait(driver, element, timeout: float = 15) -> None:
    """Click something that loads a new page, and wait until the new page has replaced the old."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, timeout).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")


def open_link(driver, url: str, title: str, timeout: float = 15) -> None:
    """Open a one-time link, press its button (the click spends the link), and wait for the page
    it leads to (the start page refreshes onward)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(lambda d: d.title.startswith("Open the local page"))
    click_and_wait(driver, driver.find_element(By.XPATH, "//button[text()='Open the page']"), timeout)
    WebDriverWait(driver, timeout).until(
        lambda d: d.title.startswith(title) and d.execute_script("return document.readyState") == "complete")


def fill_one_key_page(driver, url: str, value: str, shot: str | None = None) -> str:
    """What the user does: open the link, type the key, submit; returns the final page's text."""
    from selenium.webdriver.common.by import By

    open_link(driver, url, "Connect OpenAI")
    if shot:
        screenshot(driver, shot)
    driver.find_element(By.ID, "value").send_keys(value)
    for tick in driver.find_elements(By.ID, "confirm_origin"):  # the tests' API base is a loopback fake
        tick.click()
    click_and_wait(driver, driver.find_element(By.XPATH, "//button[text()='Store the key']"))
    return driver.find_element(By.TAG_NAME, "main").text
