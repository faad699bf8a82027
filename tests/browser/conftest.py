"""Shared fixtures for tests in a real headless Chromium (Selenium, the Debian `chromium` and
`chromium-driver` packages) against Django's live server with static files.

- `driver`: one Chromium for the session, cookies cleared before each test;
- `admin_url(path)`: the live server's URL of an admin path (a `reverse()` result);
- `login_as(role, accounts=None)`: a staff user in that role ("viewer", "operator",
  "head_of_sales"), linked to those accounts (default: the `default` one), logged in through
  the admin's own login form; returns the user.

The tests run on the real clock (`real_clock`): the browser's clock cannot be pinned, and a
session cookie set at a pinned date would read as expired. Without Chromium they fail, saying
what to install, unless FOLLOWUPS_SKIP_BROWSER=1 says to skip them.
"""

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from followups.models import default_account_id
from followups.roles import HEAD_OF_SALES, OPERATORS, VIEWERS

CHROMIUM = os.environ.get("FOLLOWUPS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FOLLOWUPS_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without the background-networking flags Chromium's own connections (updates, sync, QUIC)
# are refused by a closed network and slow every page down.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)
ROLES = {"viewer": VIEWERS, "operator": OPERATORS, "head_of_sales": HEAD_OF_SALES}
PASSWORD = "browser-test-pw"
BROWSER = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER in item.path.parents:
            item.add_marker(pytest.mark.real_clock)
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session")
def driver(django_db_setup, live_server) -> Iterator[object]:
    """Chromium, quit before the live server stops and the test database is dropped (the
    server's threads for its kept-alive connections hold database connections)."""
    if os.environ.get("FOLLOWUPS_SKIP_BROWSER") == "1":
        pytest.skip("FOLLOWUPS_SKIP_BROWSER=1: the browser tests are skipped")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"the browser tests need Chromium and its driver; missing: {', '.join(missing)}. "
            "Install them (apt-get install chromium chromium-driver), point FOLLOWUPS_CHROMIUM "
            "and FOLLOWUPS_CHROMEDRIVER at them, or set FOLLOWUPS_SKIP_BROWSER=1 to skip.",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="followups-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.implicitly_wait(0)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
        for thread in threading.enumerate():  # each closes its database connection as it ends
            if thread.name.endswith("(process_request_thread)"):
                thread.join(timeout=10)


@pytest.fixture
def admin_url(live_server) -> Callable[[str], str]:
    """The live server's address of a path (e.g. `reverse("admin:index")`)."""
    return lambda path: f"{live_server.url}{path}"


@pytest.fixture
def browser(driver, live_server, transactional_db):
    """The session's Chromium, with no cookies from an earlier test."""
    driver.get(f"{live_server.url}/admin/login/")
    driver.delete_all_cookies()
    return driver


# Generous: Chromium on a loaded 2-core machine can take seconds to load an admin page.
WAIT_S = 30


def wait_for(browser, css: str, timeout: float = WAIT_S):
    """The element `css` selects, once the page has it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    located = expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    return WebDriverWait(browser, timeout).until(located, f"{css!r} not on the page")


def wait_for_text(browser, text: str, timeout: float = WAIT_S) -> str:
    """The page's text once it contains `text` (after a click that loads a page: the old
    page's body may go stale between finding it and reading it, which is waited out)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(b):
        body = b.find_element(By.TAG_NAME, "body").text
        return body if text in body else False

    stale = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, timeout, ignored_exceptions=stale).until(
        shown, f"{text!r} not shown"
    )


@pytest.fixture
def login_as(browser, admin_url, transactional_db) -> Callable[..., User]:
    """Log in as a new staff user of `role` ("viewer", "operator" or "head_of_sales") through
    the login form, linked to `accounts` (by default the `default` account, the tests'
    prospects'; the head of sales sees every account linked or not)."""
    from selenium.webdriver.common.by import By

    def login(role: str, accounts=None) -> User:
        user = User.objects.create_user(role, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role]))
        user.followup_accounts.set(accounts if accounts is not None else [default_account_id()])
        browser.get(admin_url("/admin/login/"))
        browser.find_element(By.NAME, "username").send_keys(role)
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait_for(browser, "#logout-form")
        return user

    return login
