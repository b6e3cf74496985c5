"""The combined demo in a real browser: a headless Chromium (Debian's, driven through its
chromedriver) clicks through the demo as ``scripts/demo`` serves it under uvicorn, as a new user
would. On a failure the test saves a screenshot and the page source under ``test-artifacts/browser/``
(git-ignored) and names them in its message."""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from .live_server import ROOT, Server, running_combined_demo

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: with the network closed, they are refused and can stall the browser.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = pathlib.Path(ROOT) / "test-artifacts" / "browser"
ROUNDS = 20
PATIENCE = 60  # seconds a page may take to show what it should, on a busy machine

STARLETTE = "dualsessions on Starlette"  # the headings of the demo's two pages
FLASK = "dualsessions on Flask"


@pytest.fixture
def demo() -> Iterator[Server]:
    with running_combined_demo() as server:
        yield server


@pytest.fixture
def browser(tmp_path: pathlib.Path) -> Iterator[WebDriver]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        raise RuntimeError(f"{CHROMIUM} and {CHROMEDRIVER} are needed: scripts/ensure-chromium installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_log_in_on_starlette_and_out_on_flask_in_a_real_browser(demo: Server, browser: WebDriver) -> None:
    """Log in on the Starlette page, follow the link to the Flask page, which knows the user; log out
    there, and both pages forget them. Round after round, in one browser keeping its connections."""
    browser.get(f"{demo.url}/")
    for round_ in range(ROUNDS):
        user = f"ada {round_}"  # a new name each round: no page of an earlier round can pass for this one
        step = "the Starlette page, logged out"
        try:
            shows(browser, STARLETTE, "Not logged in.")
            step = "log in on the Starlette page"
            browser.find_element(By.NAME, "user").send_keys(user)
            browser.find_element(By.XPATH, "//button[text()='Log in']").click()
            shows(browser, STARLETTE, f"Logged in as {user}.")
            step = "follow the link to the Flask page"
            browser.find_element(By.LINK_TEXT, "The Flask side of this session").click()
            shows(browser, FLASK, f"Logged in as {user}.")
            step = "log out on the Flask page"
            browser.find_element(By.XPATH, "//button[text()='Log out']").click()
            shows(browser, FLASK, "Not logged in.")
            step = "follow the link back to the Starlette page"
            browser.find_element(By.LINK_TEXT, "The Starlette side of this session").click()
            shows(browser, STARLETTE, "Not logged in.")
        except Exception as error:
            saved = save_page(browser, f"round{round_}")
            raise AssertionError(
                f"round {round_} of {ROUNDS}, at {step!r}: {error}\nScreenshot and page source: {saved}"
                f"\nThe server printed:\n{demo.output_once_stopped()}"
            ) from error


# The page's heading and text in one read of one document, with no element handle to go stale.
READ_PAGE = """
const heading = document.querySelector("h1");
return [heading ? heading.textContent : "", document.body ? document.body.innerText : ""];
"""


def shows(browser: WebDriver, heading: str, status: str) -> None:
    """Wait until the browser shows the page headed ``heading`` saying ``status``; fail at once on an
    error page. While a click's navigation is under way, a read can fail (Chromium answers that the
    document it was reading is gone): that is a page not there yet, so the wait goes on."""

    def page_is_there(driver: WebDriver) -> bool:
        shown_heading, text = driver.execute_script(READ_PAGE)
        if "Internal Server Error" in text:
            raise AssertionError(f"the server answered an error page: {text!r}")
        return bool(shown_heading == heading and status in text)

    waiting = WebDriverWait(browser, PATIENCE, poll_frequency=0.1, ignored_exceptions=[WebDriverException])
    waiting.until(page_is_there, f"no page {heading!r} saying {status!r} within {PATIENCE} s")


def save_page(browser: WebDriver, name: str) -> str:
    """Save a screenshot and the page source for a failure; say where they are (or why not)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    try:
        browser.save_screenshot(f"{stem}.png")
        pathlib.Path(f"{stem}.html").write_text(browser.page_source)
    except Exception as error:  # a browser that crashed can't give either
        return f"not saved ({error})"
    return f"{stem}.png, {stem}.html"
