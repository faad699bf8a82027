"""The admin's pages as a work tool: buttons on an action's own page, reasons in words, every
time with its zone, nothing offered that leads nowhere."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bot.models import ToolCall
from followups import services, texts
from followups.models import ActionStatus, ActionType, Meeting, Message, ScheduledAction
from followups.roles import OPERATORS
from tests import test_admin
from tests.test_admin import CHANGELIST, staff

operator, viewer = test_admin.operator, test_admin.viewer  # the same logged-in roles

UTC = ZoneInfo("UTC")
# Not the server's zone (Asia/Makassar), so that a time read or shown in the wrong one shows.
MOSCOW = ZoneInfo("Europe/Moscow")


def page(action: ScheduledAction) -> str:
    return reverse("admin:followups_scheduledaction_change", args=[action.pk])


def cancel_url(action: ScheduledAction) -> str:
    return reverse("admin:followups_scheduledaction_cancel", args=[action.pk])


def send_now_url(action: ScheduledAction) -> str:
    return reverse("admin:followups_scheduledaction_send_now", args=[action.pk])


@pytest.fixture
def moscow_client(make_prospect):
    return make_prospect(display_name="Анна", time_zone="Europe/Moscow")


@pytest.fixture
def pending(moscow_client):
    return services.schedule_action(
        moscow_client,
        ActionType.FOLLOW_UP,
        datetime(2026, 11, 20, 12, 0, tzinfo=MOSCOW),
        payload={"message_template": "Добрый день! Как и договаривались."},
    )


# --- buttons where the object is -------------------------------------------------------------


def test_an_operator_sees_the_buttons_and_no_save(operator, pending):
    body = operator.get(page(pending)).content.decode()
    assert send_now_url(pending) in body
    assert cancel_url(pending) in body
    assert f"{reverse('admin:followups_scheduledaction_reschedule')}?ids={pending.pk}" in body
    assert 'name="_save"' not in body  # every field is read-only: nothing to save
    assert 'name="_continue"' not in body


def test_a_viewer_sees_no_button_and_cannot_post_them(viewer, pending):
    body = viewer.get(page(pending)).content.decode()
    for marker in (send_now_url(pending), cancel_url(pending), "?ids=", 'name="_save"'):
        assert marker not in body
    assert viewer.get(cancel_url(pending)).status_code == 403
    assert viewer.post(cancel_url(pending)).status_code == 403
    assert viewer.post(send_now_url(pending)).status_code == 403
    pending.refresh_from_db()
    assert pending.status == ActionStatus.PENDING
    assert pending.scheduled_for == datetime(2026, 11, 20, 12, 0, tzinfo=MOSCOW)


def sent(action) -> None:
    """The row as delivery leaves a sent action (tests/test_delivery.py covers the sending)."""
    ScheduledAction.objects.filter(pk=action.pk).update(
        status=ActionStatus.EXECUTED, executed_at=timezone.now(), telegram_message_id=7
    )


def test_a_sent_action_has_no_buttons(operator, pending):
    sent(pending)
    body = operator.get(page(pending)).content.decode()
    assert send_now_url(pending) not in body
    assert cancel_url(pending) not in body


def test_cancel_asks_first_then_cancels(operator, pending):
    response = operator.get(cancel_url(pending))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Yes, cancel it" in body
    assert "20 Nov 2026 12:00 (Europe/Moscow)" in body
    pending.refresh_from_db()
    assert pending.status == ActionStatus.PENDING  # asking changes nothing
    response = operator.post(cancel_url(pending), follow=True)
    assert response.redirect_chain[-1][0] == page(pending)
    assert "Cancelled." in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == ActionStatus.CANCELLED
    assert pending.cancel_reason == "cancelled by staff (operator)"
    again = operator.post(cancel_url(pending), follow=True).content.decode()
    assert "was no longer pending" in again


def test_cancel_does_not_ask_about_an_action_already_sent(operator, pending):
    sent(pending)
    response = operator.get(cancel_url(pending), follow=True)
    assert response.redirect_chain[-1][0] == page(pending)
    body = response.content.decode()
    assert "was no longer pending" in body
    assert "Yes, cancel it" not in body
    pending.refresh_from_db()
    assert pending.status == ActionStatus.EXECUTED


def test_send_now_asks_first_then_keeps_the_promised_time(operator, pending, transactional_db):
    promised = pending.scheduled_for
    body = operator.get(send_now_url(pending)).content.decode()
    assert "20 Nov 2026 12:00 (Europe/Moscow), 09:00 UTC" in body
    assert "2 days 6 h early" in body  # 18 Nov 06:00 to 20 Nov 12:00 in Moscow
    pending.refresh_from_db()
    assert (pending.scheduled_for, pending.enqueued_at) == (promised, None)  # asking: nothing
    response = operator.post(send_now_url(pending), follow=True)
    assert "Queued to send now." in response.content.decode()
    pending.refresh_from_db()
    assert pending.scheduled_for <= timezone.now()
    assert pending.enqueued_at is not None
    assert pending.promised_for == promised  # the promise is kept in the data
    assert pending.sent_now_by == "staff (operator)"
    page_body = operator.get(page(pending)).content.decode()
    assert "promised for 20 Nov 2026 12:00 (Europe/Moscow), 09:00 UTC; sent now by staff" in (
        page_body
    )


def test_send_now_warns_when_the_text_speaks_of_the_agreement(operator, pending):
    body = operator.get(send_now_url(pending)).content.decode()
    assert 'id="early-warning"' in body
    assert "its text speaks of the agreement («как и договаривались»)" in body
    assert "Send now anyway" in body


def test_send_now_of_a_plain_text_does_not_warn(operator, moscow_client):
    action = services.schedule_action(
        moscow_client,
        ActionType.FOLLOW_UP,
        timezone.now() + timedelta(hours=5),
        payload={"message_template": "Вышла новая версия прайса."},
    )
    body = operator.get(send_now_url(action)).content.decode()
    assert "early-warning" not in body
    assert "Yes, send now" in body


def test_send_now_of_a_due_action_records_no_promise(operator, moscow_client, transactional_db):
    action = services.schedule_action(
        moscow_client, ActionType.FOLLOW_UP, timezone.now(), payload={"message_template": "x"}
    )
    operator.post(send_now_url(action))
    action.refresh_from_db()
    assert action.promised_for is None  # not early: nothing was promised for later
    assert action.sent_now_by == "staff (operator)"


def test_a_reschedule_after_send_now_makes_a_new_promise(pending, transactional_db):
    services.send_now(pending, "staff (anna)")
    services.send_now(pending, "staff (boris)")  # the first promised time stays
    pending.refresh_from_db()
    assert pending.promised_for == datetime(2026, 11, 20, 12, 0, tzinfo=MOSCOW)
    services.reschedule(pending, timezone.now() + timedelta(days=1))
    pending.refresh_from_db()
    assert (pending.promised_for, pending.sent_now_by) == (None, "")


def test_early_send_warnings(make_prospect):
    prospect = make_prospect()
    later = timezone.now() + timedelta(hours=3)
    asked = services.schedule_action(
        prospect, ActionType.FOLLOW_UP, later, client_requested_time=True,
        payload={"message_template": "As agreed, here is the price."},
    )  # fmt: skip
    assert services.early_send_warnings(asked) == [
        "the client asked to be written at that time",
        "its text speaks of the agreement («as agreed»)",
    ]
    assert services.early_send_warnings(asked, now=later) == []  # due: not early
    empty = services.schedule_action(prospect, ActionType.FOLLOW_UP, later)
    assert services.early_send_warnings(empty) == [
        "its text is written at send time as the follow-up agreed for then"
    ]


@pytest.mark.parametrize("url", [cancel_url, send_now_url])
def test_the_buttons_need_the_csrf_token(db, pending, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff("operator", OPERATORS))
    assert client.post(url(pending)).status_code == 403
    pending.refresh_from_db()
    assert (pending.status, pending.enqueued_at) == (ActionStatus.PENDING, None)


def test_an_unknown_action_is_a_404(operator, db):
    unknown = "00000000-0000-0000-0000-000000000000"
    url = reverse("admin:followups_scheduledaction_cancel", args=[unknown])
    assert operator.post(url).status_code == 404


# --- what was sent, or will be ---------------------------------------------------------------


def test_a_pending_action_shows_a_preview_of_its_template(viewer, pending):
    body = viewer.get(page(pending)).content.decode()
    assert "Preview" in body
    assert "Добрый день! Как и договаривались." in body


def test_an_empty_follow_up_is_written_at_send_time(viewer, moscow_client):
    action = services.schedule_action(
        moscow_client, ActionType.FOLLOW_UP, timezone.now() + timedelta(hours=2)
    )
    body = viewer.get(page(action)).content.decode()
    assert "the text will be written at send time" in body
    assert texts.PLAIN_FOLLOW_UP["ru"] not in body  # no writer was run for a preview


def test_a_sent_action_shows_its_send_text(viewer, pending):
    ScheduledAction.objects.filter(pk=pending.pk).update(
        status=ActionStatus.EXECUTED, send_text="Текст, который ушёл"
    )
    body = viewer.get(page(pending)).content.decode()
    assert "Текст, который ушёл" in body
    assert "Preview" not in body


def test_a_sent_action_without_send_text_shows_its_message(viewer, pending):
    ScheduledAction.objects.filter(pk=pending.pk).update(status=ActionStatus.EXECUTED)
    Message.objects.create(
        prospect=pending.prospect,
        direction=Message.Direction.OUTBOUND,
        text="Из журнала переписки",
        sent_at=timezone.now(),
        action=pending,
    )
    body = viewer.get(page(pending)).content.decode()
    assert "Из журнала переписки" in body


# --- words, not codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("client_responded", "the client wrote"),
        ("opted_out", "the client opted out"),
        ("meeting_moved", "meeting moved"),
        ("meeting_cancelled", "meeting cancelled"),
        ("meeting_started", "meeting started"),
        ("agent: клиент передумал", "the agent cancelled it: клиент передумал"),
        ("recipient unreachable: USER_IS_BLOCKED", "the client cannot be written to: "),
        ("cancelled by staff (anna)", "cancelled by staff (anna)"),
    ],
)
def test_reasons_read_as_words(code, words):
    assert texts.readable_reason(code).startswith(words)


def test_a_reason_shows_in_words_and_filters_by_its_code(viewer, pending):
    services.record_client_message(pending.prospect, "Спасибо, уже не нужно")
    listing = viewer.get(CHANGELIST, {"status__exact": "cancelled"}).content.decode()
    assert "the client wrote" in listing
    assert "client_responded" not in listing
    detail = viewer.get(page(pending)).content.decode()
    assert "the client wrote" in detail
    assert "client_responded" not in detail
    pending.refresh_from_db()
    assert pending.cancel_reason == "client_responded"  # the code stays in the data


def test_a_past_time_is_said_as_a_person_would(operator, pending):
    response = operator.post(
        reverse("admin:followups_scheduledaction_reschedule"),
        {"ids": str(pending.pk), "new_time": "2026-11-18 05:00", "zone": "client"},
    )
    body = response.content.decode()
    # The pinned clock reads 11:00 in Asia/Makassar: 06:00 in Moscow.
    assert "18 Nov 2026 05:00 (Europe/Moscow) is in the past: it is now 18 Nov 2026 06:00" in body
    assert "+00:00" not in body


def test_a_time_too_far_ahead_is_said_as_a_person_would(operator, pending, settings):
    settings.FOLLOWUPS_MAX_AHEAD_DAYS = 10
    response = operator.post(
        reverse("admin:followups_scheduledaction_reschedule"),
        {"ids": str(pending.pk), "new_time": "2026-12-30 10:00", "zone": "UTC"},
    )
    body = response.content.decode()
    assert "30 Dec 2026 10:00 (UTC) is more than 10 days ahead: the latest is 28 Nov 2026" in body


# --- every time says its zone ----------------------------------------------------------------


def test_an_actions_page_shows_every_time_with_its_zone(viewer, pending):
    body = viewer.get(page(pending)).content.decode()
    # created at the pinned 11:00 in Asia/Makassar: 06:00 in Moscow, 03:00 UTC
    assert "18 Nov 2026 06:00 (Europe/Moscow), 03:00 UTC" in body
    assert "a.m." not in body and "p.m." not in body


def test_the_reschedule_page_shows_due_times_with_their_zone(operator, pending):
    url = reverse("admin:followups_scheduledaction_reschedule")
    body = operator.get(url, {"ids": str(pending.pk)}).content.decode()
    assert "20 Nov 2026 12:00 (Europe/Moscow), 09:00 UTC" in body


@pytest.mark.parametrize(
    "url",
    [
        "admin:followups_prospect_changelist",
        "admin:followups_prospect_change",
        "admin:followups_meeting_change",
        "admin:bot_toolcall_changelist",
    ],
)
def test_other_pages_show_times_with_their_zone(viewer, moscow_client, url):
    services.book_meeting(moscow_client, datetime(2026, 11, 25, 15, 0, tzinfo=MOSCOW))
    ToolCall.objects.create(prospect=moscow_client, tool="book_meeting", tool_input={}, result={})
    services.record_client_message(moscow_client, "Привет")
    args = {
        "admin:followups_prospect_change": [moscow_client.pk],
        "admin:followups_meeting_change": [Meeting.objects.get().pk],
    }.get(url)
    body = viewer.get(reverse(url, args=args)).content.decode()
    assert "18 Nov 2026 06:00 (Europe/Moscow), 03:00 UTC" in body
    assert "a.m." not in body and "p.m." not in body


def meeting_form(start: str, **fields) -> dict:
    day, time = start.split()
    return {
        "starts_at_0": day,
        "starts_at_1": time,
        "zone": "client",
        "title": "Demo",
        "reminders-TOTAL_FORMS": 0,
        "reminders-INITIAL_FORMS": 0,
        **fields,
    }


def test_a_meeting_is_booked_in_the_clients_zone_and_confirmed_with_it(operator, moscow_client):
    response = operator.post(
        reverse("admin:followups_meeting_add"),
        meeting_form("2026-12-08 15:00:00", prospect=moscow_client.pk),
        follow=True,
    )
    meeting = Meeting.objects.get()
    assert meeting.starts_at == datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    body = response.content.decode()
    assert "The meeting is at 8 Dec 2026 15:00 (Europe/Moscow), 12:00 UTC." in body
    assert "at 2026-12-08 12:00 UTC" in body  # Django's own confirmation, now right
    assert "2026-12-08 15:00 UTC" not in body


def test_a_meeting_can_be_read_in_utc(operator, moscow_client):
    operator.post(
        reverse("admin:followups_meeting_add"),
        meeting_form("2026-12-08 15:00:00", prospect=moscow_client.pk, zone="UTC"),
    )
    assert Meeting.objects.get().starts_at == datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def test_a_meetings_form_shows_and_moves_in_the_clients_zone(operator, moscow_client):
    meeting = services.book_meeting(moscow_client, datetime(2026, 12, 8, 15, 0, tzinfo=MOSCOW))
    url = reverse("admin:followups_meeting_change", args=[meeting.pk])
    body = operator.get(url).content.decode()
    assert 'value="15:00:00"' in body
    assert "Shown in the client's time zone, Europe/Moscow;" in body
    response = operator.post(
        url,
        meeting_form(
            "2026-12-09 16:00:00", **{"reminders-TOTAL_FORMS": 1, "reminders-INITIAL_FORMS": 1}
        ),
        follow=True,
    )
    meeting.refresh_from_db()
    assert meeting.starts_at == datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
    assert "9 Dec 2026 16:00 (Europe/Moscow), 13:00 UTC" in response.content.decode()


def test_a_meeting_in_the_past_is_said_in_the_clients_zone(operator, moscow_client):
    response = operator.post(
        reverse("admin:followups_meeting_add"),
        meeting_form("2026-11-18 05:00:00", prospect=moscow_client.pk),
    )
    body = response.content.decode()
    assert "18 Nov 2026 05:00 (Europe/Moscow) is in the past: it is now 18 Nov 2026 06:00" in body
    assert not Meeting.objects.exists()


# --- nothing that leads nowhere --------------------------------------------------------------


def test_no_view_site_link_and_no_dramatiq_tasks(viewer, admin_client):
    for client in (viewer, admin_client):
        body = client.get(reverse("admin:index")).content.decode()
        assert "View site" not in body
        assert "django_dramatiq" not in body
        assert "Tasks" not in body


def test_a_meeting_gets_a_link_or_place_and_a_bad_link_is_refused(operator, moscow_client):
    add = reverse("admin:followups_meeting_add")
    form = meeting_form("2026-12-08 15:00:00", prospect=moscow_client.pk)
    refused = operator.post(add, {**form, "link": "javascript:alert(1)"})
    assert refused.status_code == 200 and "Enter a valid URL." in refused.content.decode()
    assert not Meeting.objects.exists()
    operator.post(add, {**form, "link": "https://meet.example/a", "place": "Офис"})
    meeting = Meeting.objects.get()
    assert (meeting.link, meeting.place) == ("https://meet.example/a", "Офис")
    page = reverse("admin:followups_meeting_change", args=[meeting.pk])
    operator.post(page, {**form, "link": "https://meet.example/b", "place": ""})
    meeting.refresh_from_db()
    assert (meeting.link, meeting.place, meeting.starts_at) == (
        "https://meet.example/b", "", datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    )  # fmt: skip
