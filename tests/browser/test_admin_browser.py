"""The admin's main pages and actions in a real headless Chromium: what staff click, the
confirmations they see, and a viewer who can change nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from followups import services
from followups.models import ActionStatus, ActionType, Meeting, Message, OptOutChange
from tests.browser.conftest import wait_for, wait_for_text

MOSCOW = ZoneInfo("Europe/Moscow")
UTC = ZoneInfo("UTC")
HOSTILE = '<script>document.title="pwned"</script><b>bold?</b>'


def page(action) -> str:
    return reverse("admin:followups_scheduledaction_change", args=[action.pk])


def in_moscow(days: int, hour: int, minute: int = 0) -> datetime:
    """A day and time some days from the real today, in the client's zone."""
    day = (timezone.now() + timedelta(days=days)).astimezone(MOSCOW)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.fixture
def anna(make_prospect):
    return make_prospect(display_name="Анна", username="anna_bali", time_zone="Europe/Moscow")


@pytest.fixture
def pending(anna):
    return services.schedule_action(
        anna,
        ActionType.FOLLOW_UP,
        in_moscow(3, 10),
        payload={"message_template": "Анна, как и договаривались: вот прайс."},
        client_requested_time=True,
    )


def links_to(browser, url: str) -> list:
    """The links to `url` on the page (the admin shows their text upper-cased)."""
    return browser.find_elements(By.CSS_SELECTOR, f'a[href="{url}"]')


def click_link(browser, url: str) -> None:
    links_to(browser, url)[0].click()


def cancel_url(action) -> str:
    return reverse("admin:followups_scheduledaction_cancel", args=[action.pk])


def send_now_url(action) -> str:
    return reverse("admin:followups_scheduledaction_send_now", args=[action.pk])


def reschedule_url(action) -> str:
    return f"{reverse('admin:followups_scheduledaction_reschedule')}?ids={action.pk}"


def submit(browser, value: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"input[type=submit][value='{value}']").click()


def test_login_and_the_list_of_actions(browser, admin_url, login_as, pending):
    browser.get(admin_url(reverse("admin:index")))
    assert "/admin/login/" in browser.current_url  # not logged in: the login form
    login_as("operator")
    browser.get(admin_url(reverse("admin:followups_scheduledaction_changelist")))
    row = wait_for(browser, "#result_list tbody tr").text
    assert "Анна" in row
    assert pending.scheduled_for.astimezone(MOSCOW).strftime("%Y-%m-%d 10:00 MSK") in row
    assert "Pending" in row


def test_cancel_asks_first(browser, admin_url, login_as, pending):
    login_as("operator")
    browser.get(admin_url(page(pending)))
    click_link(browser, cancel_url(pending))
    asked = wait_for_text(browser, "will not be sent")
    assert "(Europe/Moscow)" in asked
    pending.refresh_from_db()
    assert pending.status == ActionStatus.PENDING  # asking changes nothing
    submit(browser, "Yes, cancel it")
    wait_for_text(browser, "Cancelled.")
    pending.refresh_from_db()
    assert pending.status == ActionStatus.CANCELLED
    assert pending.cancel_reason == "cancelled by staff (operator)"


def test_send_now_warns_and_keeps_the_promised_time(browser, admin_url, login_as, pending):
    promised = pending.scheduled_for
    login_as("operator")
    browser.get(admin_url(page(pending)))
    click_link(browser, send_now_url(pending))
    warning = wait_for(browser, "#early-warning").text
    assert "earlier than the client was told" in warning
    table = browser.find_element(By.ID, "send-now-actions").text
    assert "the client asked to be written at that time" in table
    assert "its text speaks of the agreement («как и договаривались»)" in table
    submit(browser, "Send now anyway")
    shown = wait_for_text(browser, "Queued to send now.")
    pending.refresh_from_db()
    assert pending.promised_for == promised
    assert pending.scheduled_for <= timezone.now()
    when = promised.astimezone(MOSCOW)
    assert f"promised for {when.day} {when:%b %Y} 10:00 (Europe/Moscow)" in shown
    assert "sent now by staff (operator)" in shown


def test_reschedule_in_the_clients_zone(browser, admin_url, login_as, pending):
    login_as("operator")
    browser.get(admin_url(page(pending)))
    click_link(browser, reschedule_url(pending))
    target = in_moscow(4, 11, 30)
    wait_for(browser, "#id_new_time").send_keys(target.strftime("%Y-%m-%d %H:%M"))
    Select(browser.find_element(By.ID, "id_zone")).select_by_value("client")
    submit(browser, "Reschedule")
    wait_for_text(browser, "Rescheduled 1 of 1 selected.")
    pending.refresh_from_db()
    assert pending.scheduled_for == target
    assert (pending.promised_for, pending.sent_now_by) == (None, "")


def test_the_prospect_page_shows_the_conversation_as_text(
    browser, admin_url, login_as, anna, pending
):
    now = timezone.now()
    asked = now - timedelta(minutes=5)
    services.record_client_message(anna, "Напишите мне через три дня", at=asked)
    services.record_agent_message(anna, "Отлично, напишу!", at=now - timedelta(minutes=4))
    Message.objects.create(prospect=anna, direction="in", text=HOSTILE, sent_at=now)
    login_as("viewer")
    browser.get(admin_url(reverse("admin:followups_prospect_change", args=[anna.pk])))
    chat = wait_for(browser, "#conversation")
    texts = [e.text for e in chat.find_elements(By.CSS_SELECTOR, ".chat-text")]
    assert texts == ["Напишите мне через три дня", "Отлично, напишу!", HOSTILE]
    assert chat.find_elements(By.CSS_SELECTOR, ".chat-text b") == []  # not markup
    assert browser.title != "pwned"  # the script did not run
    kinds = [e.text for e in chat.find_elements(By.CSS_SELECTOR, ".chat-message strong")]
    assert kinds == ["client", "agent reply", "client"]


def test_an_operator_lifts_an_opt_out_with_a_reason(browser, admin_url, login_as, anna):
    services.opt_out(anna, words="Не пишите мне больше")
    login_as("operator")
    browser.get(admin_url(reverse("admin:followups_prospect_change", args=[anna.pk])))
    click_link(browser, reverse("admin:followups_prospect_lift_opt_out", args=[anna.pk]))
    wait_for(browser, "#id_reason")
    submit(browser, "Lift the opt-out")  # no reason: the browser's own check stops it
    anna.refresh_from_db()
    assert anna.opted_out_at is not None
    browser.find_element(By.ID, "id_reason").send_keys("Клиентка позвонила, просит прайс")
    submit(browser, "Lift the opt-out")
    shown = wait_for_text(browser, "Opt-out lifted.")
    assert "Клиентка позвонила, просит прайс" in shown  # in the opt-out history
    anna.refresh_from_db()
    assert anna.opted_out_at is None
    assert anna.opt_out_changes.last().by == "staff (operator)"
    assert anna.opt_out_changes.last().kind == OptOutChange.Kind.LIFTED


def test_a_meeting_is_booked_in_the_clients_zone(browser, admin_url, login_as, anna):
    login_as("operator")
    browser.get(admin_url(reverse("admin:followups_meeting_add")))
    Select(wait_for(browser, "#id_prospect")).select_by_value(str(anna.pk))
    start = in_moscow(5, 15)
    date_field = browser.find_element(By.ID, "id_starts_at_0")
    date_field.clear()
    date_field.send_keys(start.strftime("%Y-%m-%d"))
    time_field = browser.find_element(By.ID, "id_starts_at_1")
    time_field.clear()
    time_field.send_keys("15:00:00")
    browser.find_element(By.ID, "id_title").send_keys("Виллы")
    browser.find_element(By.NAME, "_save").click()
    shown = wait_for_text(browser, "The meeting is at")
    meeting = Meeting.objects.get()
    assert meeting.starts_at == start
    assert f"{start.day} {start:%b %Y} 15:00 (Europe/Moscow), 12:00 UTC" in shown


def test_a_viewer_can_change_nothing(browser, admin_url, login_as, pending):
    login_as("viewer")
    browser.get(admin_url(page(pending)))
    wait_for(browser, "#content")
    assert browser.find_element(By.CSS_SELECTOR, ".field-due_utc")  # the page is there
    for url in (send_now_url(pending), reschedule_url(pending), cancel_url(pending)):
        assert links_to(browser, url) == []
    assert browser.find_elements(By.NAME, "_save") == []
    # A forged POST from the viewer's own logged-in page, with a valid CSRF token.
    forged = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
        Promise.all(arguments[0].map(url => fetch(url, {
            method: "POST", headers: {"X-CSRFToken": token},
            body: new URLSearchParams({ids: arguments[1], reason: "forged",
                                       new_time: "2030-01-01 10:00", zone: "UTC"}),
        }).then(r => r.status))).then(done);
        """,
        [
            reverse("admin:followups_scheduledaction_cancel", args=[pending.pk]),
            reverse("admin:followups_scheduledaction_send_now", args=[pending.pk]),
            reverse("admin:followups_scheduledaction_send_now_many"),
            reverse("admin:followups_scheduledaction_reschedule"),
            reverse("admin:followups_prospect_lift_opt_out", args=[pending.prospect_id]),
        ],
        str(pending.pk),
    )
    assert forged == [403] * 5
    before = pending.scheduled_for
    pending.refresh_from_db()
    assert (pending.status, pending.scheduled_for, pending.enqueued_at) == (
        ActionStatus.PENDING,
        before,
        None,
    )
