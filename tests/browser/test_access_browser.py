"""Staff isolation in a real headless Chromium (docs/design.md, "Accounts and staff"): a manager
sees only their account's clients and gets a 404 on another account's action; the head of sales sees
both."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.by import By

from followups import services
from followups.models import Account, ActionStatus, ActionType
from tests.browser.conftest import wait_for, wait_for_text

ACTIONS = reverse("admin:followups_scheduledaction_changelist")


def page(action) -> str:
    return reverse("admin:followups_scheduledaction_change", args=[action.pk])


@pytest.fixture
def two_accounts(make_prospect):
    """Two accounts, each with a client and a pending follow-up."""
    soon = timezone.now() + timedelta(days=2)
    found = {}
    for name, client in (("villa-a", "Alice-A"), ("villa-b", "Bob-B")):
        account = Account.objects.create(name=name)
        prospect = make_prospect(display_name=client, account=account)
        found[name] = (account, services.schedule_action(prospect, ActionType.FOLLOW_UP, soon))
    return found


def rows(browser) -> str:
    return wait_for(browser, "#result_list tbody").text


def test_a_manager_sees_only_their_clients(browser, admin_url, login_as, two_accounts):
    (villa_a, own), (_, other) = two_accounts["villa-a"], two_accounts["villa-b"]
    login_as("operator", accounts=[villa_a])
    browser.get(admin_url(ACTIONS))
    listed = rows(browser)
    assert "Alice-A" in listed and "Bob-B" not in listed
    assert browser.find_elements(By.CSS_SELECTOR, "th.column-account") == []  # one account
    browser.get(admin_url(page(other)))  # the other account's action, its id guessed
    shown = wait_for_text(browser, "Not Found")
    assert "Bob-B" not in shown
    # A forged cancel from the manager's own logged-in page, with a valid CSRF token.
    browser.get(admin_url(page(own)))
    wait_for(browser, ".field-due_utc")
    status = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
        fetch(arguments[0], {method: "POST", headers: {"X-CSRFToken": token}})
            .then(r => done(r.status));
        """,
        reverse("admin:followups_scheduledaction_cancel", args=[other.pk]),
    )
    assert status == 404
    other.refresh_from_db()
    assert other.status == ActionStatus.PENDING


def test_the_head_of_sales_sees_both_accounts(browser, admin_url, login_as, two_accounts):
    login_as("head_of_sales", accounts=[])
    browser.get(admin_url(ACTIONS))
    listed = rows(browser)
    assert "Alice-A" in listed and "Bob-B" in listed
    assert "villa-a" in listed and "villa-b" in listed  # the account column
    other = two_accounts["villa-b"][1]
    browser.get(admin_url(page(other)))
    assert "Bob-B" in wait_for(browser, ".field-prospect").text


def test_a_manager_pauses_and_reactivates_their_account(browser, admin_url, login_as, two_accounts):
    villa_a, villa_b = two_accounts["villa-a"][0], two_accounts["villa-b"][0]
    login_as("operator", accounts=[villa_a])
    account_page = reverse("admin:followups_account_change", args=[villa_a.pk])
    browser.get(admin_url(account_page))
    browser.find_element(
        By.CSS_SELECTOR, f'a[href="{reverse("admin:followups_account_pause", args=[villa_a.pk])}"]'
    ).click()
    wait_for_text(browser, "its 1 pending actions wait")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Yes, pause it']").click()
    wait_for_text(browser, "Paused account villa-a")
    assert "paused by operator at" in wait_for(browser, ".field-state_reason").text
    reactivate = reverse("admin:followups_account_reactivate", args=[villa_a.pk])
    browser.find_element(By.CSS_SELECTOR, f'a[href="{reactivate}"]').click()
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Yes, reactivate it']").click()
    wait_for_text(browser, "Reactivated account villa-a")
    villa_a.refresh_from_db(), villa_b.refresh_from_db()
    assert (villa_a.state, villa_b.state) == (Account.State.ACTIVE, Account.State.ACTIVE)
    # The other account's pause page, its id guessed: not found.
    browser.get(admin_url(reverse("admin:followups_account_pause", args=[villa_b.pk])))
    wait_for_text(browser, "Not Found")
