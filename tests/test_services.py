"""Domain operations: validation, cancellation, quiet hours, meetings, time zones."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from followups import delivery, services
from followups.models import ActionStatus, ActionType, Meeting, Message, ScheduledAction
from followups.quiet_hours import QuietHours
from followups.services import SchedulingError
from tests.conftest import wait_until

MAKASSAR = ZoneInfo("Asia/Makassar")


def follow_up(prospect, when, **kwargs):
    return services.schedule_action(prospect, ActionType.FOLLOW_UP, when, **kwargs)


@pytest.mark.django_db
class TestScheduleValidation:
    def test_naive_datetime_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="no time zone"):
            follow_up(prospect, datetime(2030, 1, 1, 10, 0))
        assert not ScheduledAction.objects.exists()

    def test_past_time_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="in the past"):
            follow_up(prospect, timezone.now() - timedelta(hours=1))
        assert not ScheduledAction.objects.exists()

    def test_years_ahead_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="days ahead"):
            follow_up(prospect, timezone.now() + timedelta(days=3 * 365))
        assert not ScheduledAction.objects.exists()

    def test_unknown_type_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="unknown action type 'sms'"):
            services.schedule_action(prospect, "sms", timezone.now() + timedelta(hours=1))
        assert not ScheduledAction.objects.exists()

    def test_unknown_prospect_is_refused(self):
        with pytest.raises(SchedulingError, match="unknown prospect"):
            services.get_prospect(424242)
        with pytest.raises(SchedulingError, match="unknown prospect"):
            follow_up(None, timezone.now() + timedelta(hours=1))
        assert not ScheduledAction.objects.exists()

    def test_not_a_datetime_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="must be a datetime, got str"):
            follow_up(prospect, "tomorrow")

    def test_oversized_template_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="Telegram allows 4096"):
            follow_up(
                prospect,
                timezone.now() + timedelta(hours=1),
                payload={"message_template": "x" * 5000},
            )
        assert not ScheduledAction.objects.exists()

    def test_payload_must_be_json(self, prospect):
        with pytest.raises(SchedulingError, match="JSON"):
            follow_up(prospect, timezone.now() + timedelta(hours=1), payload={"at": object()})

    def test_pending_follow_ups_are_capped(self, prospect, settings):
        settings.FOLLOWUPS_MAX_PENDING_PER_PROSPECT = 2
        for hours in (1, 2):
            follow_up(prospect, timezone.now() + timedelta(hours=hours))
        with pytest.raises(SchedulingError, match="already has 2 pending"):
            follow_up(prospect, timezone.now() + timedelta(hours=3))
        assert ScheduledAction.objects.count() == 2

    def test_opted_out_prospect_gets_nothing(self, prospect):
        services.opt_out(prospect)
        with pytest.raises(SchedulingError, match="opted out"):
            follow_up(prospect, timezone.now() + timedelta(hours=1))


@pytest.mark.django_db
def test_stored_in_utc_and_shown_in_clients_zone(make_prospect):
    prospect = make_prospect(time_zone="Europe/Moscow")
    local = datetime(2031, 3, 5, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    action = follow_up(prospect, local, now=datetime(2031, 3, 4, tzinfo=UTC))
    action.refresh_from_db()
    assert action.scheduled_for.tzinfo == UTC
    assert action.scheduled_for == datetime(2031, 3, 5, 7, 0, tzinfo=UTC)
    assert action.scheduled_for.astimezone(prospect.zone).hour == 10


class TestQuietHours:
    window = QuietHours.parse("21:00-09:00")

    @pytest.mark.parametrize(
        ("local", "expected"),
        [
            (datetime(2031, 1, 1, 22, 30), datetime(2031, 1, 2, 9, 0)),
            (datetime(2031, 1, 2, 3, 0), datetime(2031, 1, 2, 9, 0)),
            (datetime(2031, 1, 2, 9, 0), datetime(2031, 1, 2, 9, 0)),
            (datetime(2031, 1, 2, 20, 59), datetime(2031, 1, 2, 20, 59)),
        ],
    )
    def test_defer(self, local, expected):
        when = local.replace(tzinfo=MAKASSAR).astimezone(UTC)
        assert self.window.defer(when, MAKASSAR) == expected.replace(tzinfo=MAKASSAR)

    def test_daytime_window(self):
        lunch = QuietHours.parse("13:00-14:00")
        when = datetime(2031, 1, 2, 13, 30, tzinfo=MAKASSAR)
        assert lunch.defer(when, MAKASSAR) == datetime(2031, 1, 2, 14, 0, tzinfo=MAKASSAR)

    @pytest.mark.parametrize("spec", ["", "off", "09:00-09:00"])
    def test_disabled(self, spec):
        assert QuietHours.parse(spec) is None

    def test_malformed(self):
        with pytest.raises(ValueError, match="21:00-09:00"):
            QuietHours.parse("9pm to 9am")


@pytest.mark.django_db
def test_quiet_hours_move_own_initiative_but_keep_client_time(prospect, settings):
    settings.FOLLOWUPS_QUIET_HOURS = "21:00-09:00"
    now = datetime(2031, 1, 1, 12, 0, tzinfo=MAKASSAR)
    late = datetime(2031, 1, 1, 23, 0, tzinfo=MAKASSAR)
    ours = follow_up(prospect, late, now=now)
    theirs = follow_up(prospect, late, client_requested_time=True, now=now)
    assert ours.scheduled_for == datetime(2031, 1, 2, 9, 0, tzinfo=MAKASSAR)
    assert theirs.scheduled_for == late


@pytest.mark.django_db
class TestCancel:
    def test_client_message_cancels_follow_ups_not_meeting_reminders(self, prospect):
        a = follow_up(prospect, timezone.now() + timedelta(hours=2))
        b = follow_up(prospect, timezone.now() + timedelta(days=2))
        meeting = services.book_meeting(prospect, timezone.now() + timedelta(days=3))
        assert sorted(services.record_client_message(prospect, "Добрый день!")) == sorted(
            [a.pk, b.pk]
        )
        statuses = dict(ScheduledAction.objects.values_list("pk", "status"))
        assert statuses[a.pk] == statuses[b.pk] == ActionStatus.CANCELLED
        reminder = meeting.reminders.get()
        assert reminder.status == ActionStatus.PENDING
        a.refresh_from_db()
        assert a.cancel_reason == "client_responded"
        assert a.cancelled_at is not None
        assert Message.objects.filter(prospect=prospect, direction="in").count() == 1

    def test_acknowledgement_keeps_the_promise(self, prospect):
        action = follow_up(prospect, timezone.now() + timedelta(hours=2))
        assert services.record_client_message(prospect, "ок", acknowledgement=True) == []
        action.refresh_from_db()
        assert action.status == ActionStatus.PENDING
        prospect.refresh_from_db()
        assert prospect.last_inbound_at is not None
        assert prospect.last_reply_at is None

    def test_cancel_is_compare_and_set(self, prospect):
        action = follow_up(prospect, timezone.now() + timedelta(hours=2))
        assert services.cancel_action(action, "staff") is True
        assert services.cancel_action(action, "staff again") is False
        action.refresh_from_db()
        assert action.cancel_reason == "staff"

    def test_opt_out_cancels_everything(self, prospect):
        follow_up(prospect, timezone.now() + timedelta(hours=2))
        services.book_meeting(prospect, timezone.now() + timedelta(days=3))
        assert services.opt_out(prospect) == 2
        assert not services.get_pending(prospect).exists()


@pytest.mark.django_db
class TestQueries:
    def test_pending(self, make_prospect):
        p1, p2 = make_prospect(), make_prospect()
        follow_up(p1, timezone.now() + timedelta(hours=1))
        follow_up(p2, timezone.now() + timedelta(hours=1))
        assert services.get_pending().count() == 2
        assert services.get_pending(p1).count() == 1

    def test_reschedule_only_pending(self, prospect):
        action = follow_up(prospect, timezone.now() + timedelta(hours=1))
        later = timezone.now() + timedelta(hours=5)
        assert services.reschedule(action, later)
        action.refresh_from_db()
        assert action.scheduled_for == later
        services.cancel_action(action, "staff")
        assert not services.reschedule(action, later + timedelta(hours=1))

    def test_reschedule_refuses_bad_time(self, prospect):
        action = follow_up(prospect, timezone.now() + timedelta(hours=1))
        with pytest.raises(SchedulingError, match="in the past"):
            services.reschedule(action, timezone.now() - timedelta(days=1))
        with pytest.raises(SchedulingError, match="no time zone"):
            services.reschedule(action, datetime(2031, 1, 1))


@pytest.mark.django_db
class TestMeetings:
    def reminders(self, meeting, status=ActionStatus.PENDING):
        return sorted(
            (r.payload["reminder_type"], r.scheduled_for)
            for r in meeting.reminders.filter(status=status)
        )

    def test_booking_schedules_24h_and_optional_1h(self, prospect, settings):
        settings.FOLLOWUPS_REMINDER_1H = True
        start = timezone.now().replace(microsecond=0) + timedelta(days=3)
        meeting = services.book_meeting(prospect, start)
        assert self.reminders(meeting) == [
            ("1h", start - timedelta(hours=1)),
            ("24h", start - timedelta(hours=24)),
        ]
        assert {r.action_type for r in meeting.reminders.all()} == {"pre_meeting_reminder"}

    def test_passed_reminder_is_not_created(self, prospect):
        meeting = services.book_meeting(prospect, timezone.now() + timedelta(hours=5))
        assert not meeting.reminders.exists()

    def test_move_rebuilds(self, prospect):
        start = timezone.now().replace(microsecond=0) + timedelta(days=3)
        meeting = services.book_meeting(prospect, start)
        services.move_meeting(meeting, start + timedelta(days=2))
        meeting.refresh_from_db()
        assert meeting.status == Meeting.Status.MOVED
        assert self.reminders(meeting) == [("24h", start + timedelta(days=1))]
        assert self.reminders(meeting, ActionStatus.CANCELLED) == [
            ("24h", start - timedelta(days=1))
        ]
        assert meeting.reminders.get(status="cancelled").cancel_reason == "meeting_moved"

    def test_cancel_cancels_reminders(self, prospect):
        meeting = services.book_meeting(prospect, timezone.now() + timedelta(days=3))
        assert services.cancel_meeting(meeting) == 1
        assert not meeting.reminders.filter(status="pending").exists()
        with pytest.raises(SchedulingError, match="cancelled"):
            services.move_meeting(meeting, timezone.now() + timedelta(days=4))

    def test_quiet_hours_never_push_a_reminder_past_the_meeting(self, prospect, settings):
        settings.FOLLOWUPS_QUIET_HOURS = "21:00-09:00"
        settings.FOLLOWUPS_REMINDER_1H = True
        start = (
            (timezone.now() + timedelta(days=3))
            .astimezone(MAKASSAR)
            .replace(hour=7, minute=30, second=0, microsecond=0)
        )
        meeting = services.book_meeting(prospect, start)
        # 24 h before is 07:30 the day before → 09:00; 1 h before is 06:30 → 09:00, after
        # the meeting, so it is not created.
        day_before_nine = (start - timedelta(days=1)).replace(hour=9, minute=0)
        assert self.reminders(meeting) == [("24h", day_before_nine)]

    def test_naive_start_is_refused(self, prospect):
        with pytest.raises(SchedulingError, match="no time zone"):
            services.book_meeting(prospect, datetime(2031, 1, 1, 10))
        assert not Meeting.objects.exists()


@pytest.mark.parametrize(
    ("details", "error"),
    [
        ({"link": "javascript:alert(1)"}, "http:// or https://"),
        ({"link": "ftp://files.example/x"}, "http:// or https://"),
        ({"link": "tg://resolve?domain=x"}, "http:// or https://"),
        ({"link": "https://"}, "http:// or https://"),
        ({"link": "https://ex.com/" + "a" * 500}, "at most 500"),
        ({"place": "x" * 201}, "at most 200"),
        ({"title": "x" * 256}, "at most 255"),
        ({"place": 5}, "must be text"),
    ],
)
def test_a_meetings_link_and_place_are_checked(prospect, details, error):
    with pytest.raises(SchedulingError, match=error):
        services.book_meeting(prospect, timezone.now() + timedelta(days=2), **details)
    assert not Meeting.objects.exists()


def test_a_meetings_details_are_kept_in_one_line(prospect):
    meeting = services.book_meeting(
        prospect, timezone.now() + timedelta(days=2),
        title=" Демо\nвиллы ", link="https://meet.example/a", place="офис\t 5",
    )  # fmt: skip
    meeting.refresh_from_db()
    assert (meeting.title, meeting.link, meeting.place) == (
        "Демо виллы", "https://meet.example/a", "офис 5",
    )  # fmt: skip


def new(prospect, when, **fields):
    return services.NewAction(prospect_id=prospect.pk, scheduled_for=when, **fields)


@pytest.mark.django_db
class TestScheduleActions:
    """Bulk scheduling: every item checked as schedule_action checks one, all or nothing."""

    def test_stores_all_in_order_with_payloads(self, make_prospect):
        prospects = [make_prospect() for _ in range(3)]
        when = timezone.now() + timedelta(days=2)
        ids = services.schedule_actions(
            [
                new(p, when + timedelta(minutes=i), payload={"message_template": f"t{i}"})
                for i, p in enumerate(prospects)
            ]
        )
        rows = {a.pk: a for a in ScheduledAction.objects.all()}
        assert list(rows) != [] and sorted(rows) == sorted(ids)
        for i, (action_id, prospect) in enumerate(zip(ids, prospects, strict=True)):
            row = rows[action_id]
            assert row.prospect_id == prospect.pk
            assert row.status == ActionStatus.PENDING
            assert row.scheduled_for == when + timedelta(minutes=i)
            assert row.payload == {"message_template": f"t{i}"}
            assert row.enqueued_at is None  # far out: the dispatcher publishes it in time

    @pytest.mark.parametrize(
        ("bad", "match"),
        [
            ({"scheduled_for": datetime(2030, 1, 1, 10, 0)}, r"action 1: .*no time zone"),
            ({"scheduled_for": "tomorrow"}, r"action 1: .*must be a datetime"),
            ({"action_type": "sms"}, "action 1: action type 'sms' cannot be scheduled in bulk"),
            ({"action_type": ActionType.PRE_MEETING_REMINDER}, "cannot be scheduled in bulk"),
            ({"payload": {"message_template": "x" * 5000}}, r"action 1: .*Telegram allows"),
            ({"payload": ["not", "a", "dict"]}, "action 1: payload must be an object"),
            ({"client_requested_time": "yes"}, "action 1: client_requested_time"),
            ({"prospect_id": "7"}, "action 1: prospect_id must be an integer"),
            ({"prospect_id": True}, "action 1: prospect_id must be an integer"),
        ],
    )
    def test_one_bad_item_writes_nothing(self, prospect, bad, match):
        good = new(prospect, timezone.now() + timedelta(hours=1))
        fields = {
            "prospect_id": prospect.pk,
            "scheduled_for": timezone.now() + timedelta(hours=2),
        } | bad
        with pytest.raises(SchedulingError, match=match):
            services.schedule_actions([good, services.NewAction(**fields), good])
        assert not ScheduledAction.objects.exists()

    def test_past_time_is_refused_through_validate_when(self, prospect):
        with pytest.raises(SchedulingError, match=r"action 0: scheduled_for .* is in the past"):
            services.schedule_actions([new(prospect, timezone.now() - timedelta(hours=1))])
        assert not ScheduledAction.objects.exists()

    def test_not_an_action_is_refused(self):
        with pytest.raises(SchedulingError, match="action 0: expected a NewAction, got dict"):
            services.schedule_actions([{"prospect_id": 1}])

    def test_unknown_prospects_are_named_and_nothing_is_written(self, prospect):
        when = timezone.now() + timedelta(hours=1)
        items = [
            new(prospect, when),
            services.NewAction(prospect_id=987654321, scheduled_for=when),
        ]
        with pytest.raises(SchedulingError, match=r"unknown prospect id\(s\): 987654321"):
            services.schedule_actions(items)
        assert not ScheduledAction.objects.exists()

    def test_opted_out_prospect_is_refused(self, make_prospect):
        ok, gone = make_prospect(), make_prospect(opted_out_at=timezone.now())
        when = timezone.now() + timedelta(hours=1)
        with pytest.raises(SchedulingError, match=f"{gone.telegram_id} opted out"):
            services.schedule_actions([new(ok, when), new(gone, when)])
        assert not ScheduledAction.objects.exists()

    def test_pending_limit_counts_this_call(self, prospect, settings):
        settings.FOLLOWUPS_MAX_PENDING_PER_PROSPECT = 3
        when = timezone.now() + timedelta(hours=1)
        follow_up(prospect, when)
        with pytest.raises(SchedulingError, match="more than 3 pending follow-ups"):
            services.schedule_actions([new(prospect, when)] * 3)
        assert ScheduledAction.objects.count() == 1
        assert len(services.schedule_actions([new(prospect, when)] * 2)) == 2

    def test_too_many_in_one_call(self, prospect, monkeypatch):
        monkeypatch.setattr(services, "MAX_BULK", 2)
        with pytest.raises(SchedulingError, match="3 actions in one call; at most 2"):
            services.schedule_actions([new(prospect, timezone.now() + timedelta(hours=1))] * 3)
        assert not ScheduledAction.objects.exists()

    def test_empty_call_is_a_no_op(self):
        assert services.schedule_actions([]) == []

    @pytest.mark.clock("22:30")
    def test_quiet_hours_move_unless_the_client_named_the_time(self, make_prospect, settings):
        settings.FOLLOWUPS_QUIET_HOURS = "22:00-08:00"
        a, b = make_prospect(), make_prospect()
        when = timezone.now() + timedelta(minutes=10)
        moved, kept = services.schedule_actions(
            [new(a, when), new(b, when, client_requested_time=True)]
        )
        assert ScheduledAction.objects.get(pk=kept).scheduled_for == when
        assert ScheduledAction.objects.get(pk=moved).scheduled_for.astimezone(MAKASSAR).hour == 8


def test_near_due_bulk_actions_are_published_and_delivered(worker, make_prospect, messenger):
    prospects = [make_prospect() for _ in range(60)]
    when = timezone.now() + timedelta(seconds=1)
    ids = services.schedule_actions([new(p, when) for p in prospects])
    # Published after commit in one go, not left to a dispatcher (none runs here).
    assert ScheduledAction.objects.filter(pk__in=ids, enqueued_at__isnull=False).count() == 60
    wait_until(
        lambda: (
            ScheduledAction.objects.filter(pk__in=ids, status=ActionStatus.EXECUTED).count() == 60
        ),
        timeout=20,
    )
    assert sorted(d.recipient_id for d in messenger.delivered) == sorted(
        p.telegram_id for p in prospects
    )


def test_executed_is_never_cancelled(transactional_db, prospect, messenger):
    """Sent by the live path (delivery), the action is no longer pending: nothing cancels it."""
    action = follow_up(prospect, timezone.now())
    assert delivery.deliver([action.pk]).sent == [action.pk]
    assert services.cancel_pending_followups(prospect) == 0
    action.refresh_from_db()
    assert action.status == ActionStatus.EXECUTED
    assert action.telegram_message_id == messenger.delivered[0].message_id
