"""Delivery through a real Dramatiq worker on the real broker (RabbitMQ when it answers)."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import pairwise

import pytest
from django.db import connection
from django.utils import timezone

from followups import delivery, dispatcher, publishing, services, transitions
from followups.actors import deliver_actions
from followups.messenger import PermanentSendError, TransientSendError
from followups.models import ActionStatus, ActionType, Message, ScheduledAction
from tests.conftest import soon, wait_until


def follow_up(prospect, when, text="Как вам наше предложение?", **kwargs):
    return services.schedule_action(
        prospect, ActionType.FOLLOW_UP, when, payload={"message_template": text}, **kwargs
    )


def make_due(action) -> None:
    """Move a pending action's due time to now, as if its time had come."""
    ScheduledAction.objects.filter(pk=action.pk).update(scheduled_for=timezone.now())


def status_of(action) -> str:
    return ScheduledAction.objects.values_list("status", flat=True).get(pk=action.pk)


@pytest.mark.services
def test_executed_at_its_time_through_rabbitmq(worker, prospect, messenger):
    action = follow_up(prospect, soon(1.5))
    assert ScheduledAction.objects.get(pk=action.pk).enqueued_at is not None
    wait_until(lambda: status_of(action) == ActionStatus.EXECUTED)
    action.refresh_from_db()
    assert action.executed_at >= action.scheduled_for
    assert messenger.to(prospect.telegram_id) == ["Как вам наше предложение?"]
    assert action.telegram_message_id == messenger.delivered[0].message_id
    assert action.attempts == 1
    sent = Message.objects.get(prospect=prospect, direction="out")
    assert sent.action_id == action.pk
    assert sent.text == "Как вам наше предложение?"


def test_cancelled_is_never_sent(worker, prospect, messenger):
    action = follow_up(prospect, soon(1))
    other = follow_up(prospect, soon(1.2), text="second")
    assert services.cancel_action(action, "staff")
    wait_until(lambda: status_of(other) == ActionStatus.EXECUTED)
    assert status_of(action) == ActionStatus.CANCELLED
    assert messenger.to(prospect.telegram_id) == ["second"]


def test_message_for_a_cancelled_action_is_a_no_op(worker, prospect, messenger):
    action = follow_up(prospect, soon(0.5))
    services.cancel_action(action, "staff")
    deliver_actions.send([str(action.pk)])
    deliver_actions.send([str(action.pk)])
    marker = follow_up(prospect, soon(1), text="marker")
    wait_until(lambda: status_of(marker) == ActionStatus.EXECUTED)
    assert messenger.to(prospect.telegram_id) == ["marker"]


def test_same_message_delivered_twice_sends_once(worker, prospect, messenger):
    action = follow_up(prospect, soon(0.5))
    for _ in range(5):
        deliver_actions.send([str(action.pk)])
    wait_until(lambda: status_of(action) == ActionStatus.EXECUTED)
    marker = follow_up(prospect, soon(0.5), text="marker")
    wait_until(lambda: status_of(marker) == ActionStatus.EXECUTED)
    assert messenger.to(prospect.telegram_id) == ["Как вам наше предложение?", "marker"]
    assert ScheduledAction.objects.get(pk=action.pk).attempts == 1


def test_far_future_action_stays_in_postgres(broker, transactional_db, prospect, settings):
    settings.FOLLOWUPS_ENQUEUE_HORIZON_S = 300
    action = follow_up(prospect, timezone.now() + timedelta(days=7))
    action.refresh_from_db()
    assert action.enqueued_at is None
    assert dispatcher.enqueue_due() == 0


def test_no_ids_no_op(transactional_db):
    assert delivery.deliver([]) == delivery.DeliveryReport()
    assert transitions.missed_now(ScheduledAction.objects.filter(pk__in=[])) == []


def test_garbage_ids_are_ignored(worker, prospect, messenger):
    deliver_actions.send(["not-a-uuid", str(uuid.uuid4()), 42])
    deliver_actions.send("not a list")
    action = follow_up(prospect, soon(0.5))
    wait_until(lambda: status_of(action) == ActionStatus.EXECUTED)
    assert len(messenger.delivered) == 1


def test_client_reply_found_at_recheck(transactional_db, prospect, messenger):
    """The listener's cancel raced past (the row was already claimed): the re-check drops it."""
    action = follow_up(prospect, soon(-0.1))
    prospect.last_reply_at = timezone.now()
    prospect.save(update_fields=["last_reply_at"])
    report = delivery.deliver([action.pk])
    assert report.skipped == [action.pk]
    action.refresh_from_db()
    assert (action.status, action.cancel_reason) == (ActionStatus.CANCELLED, "client_responded")
    assert messenger.delivered == []


def test_acknowledgement_does_not_stop_the_follow_up(transactional_db, prospect, messenger):
    action = follow_up(prospect, soon(0))
    services.record_client_message(prospect, "👍", acknowledgement=True)
    assert delivery.deliver([action.pk]).sent == [action.pk]


def test_opted_out_at_recheck(transactional_db, prospect, messenger):
    action = follow_up(prospect, soon(0))
    type(prospect).objects.filter(pk=prospect.pk).update(opted_out_at=timezone.now())
    delivery.deliver([action.pk])
    assert status_of(action) == ActionStatus.CANCELLED
    assert messenger.delivered == []


def test_transient_error_is_retried_later(transactional_db, prospect, messenger, settings):
    settings.FOLLOWUPS_RETRY_DELAY_S = 30
    action = follow_up(prospect, soon(0))
    messenger.fail_next(TransientSendError("network down"))
    delivery.deliver([action.pk])
    action.refresh_from_db()
    assert (action.status, action.last_error) == (ActionStatus.PENDING, "network down")
    assert timedelta(seconds=25) < action.scheduled_for - timezone.now() <= timedelta(seconds=30)
    make_due(action)
    assert delivery.deliver([action.pk]).sent == [action.pk]
    action.refresh_from_db()
    assert (action.status, action.attempts) == (ActionStatus.EXECUTED, 2)


def test_flood_wait_waits_as_told_and_uses_no_retry(
    transactional_db, prospect, messenger, settings
):
    settings.FOLLOWUPS_MAX_RETRIES = 0
    action = follow_up(prospect, soon(0))
    messenger.fail_next(TransientSendError("FLOOD_WAIT_120", retry_after_s=120))
    report = delivery.deliver([action.pk])
    assert report.retried == [action.pk]
    action.refresh_from_db()
    assert (action.status, action.attempts) == (ActionStatus.PENDING, 0)
    assert action.last_error == "FLOOD_WAIT_120"
    assert timedelta(seconds=115) < action.scheduled_for - timezone.now() <= timedelta(seconds=121)
    make_due(action)
    assert delivery.deliver([action.pk]).sent == [action.pk]


def test_retries_run_out(transactional_db, prospect, messenger, settings):
    settings.FOLLOWUPS_MAX_RETRIES = 1
    action = follow_up(prospect, soon(0))
    messenger.fail_next(TransientSendError("timeout"), TransientSendError("timeout"))
    delivery.deliver([action.pk])
    make_due(action)
    delivery.deliver([action.pk])
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED
    assert action.last_error == "gave up after 2: timeout"
    assert messenger.delivered == []


def test_permanent_error_fails_and_marks_the_prospect(transactional_db, prospect, messenger):
    action = follow_up(prospect, soon(0))
    later = follow_up(prospect, soon(0), text="later")
    messenger.fail_next(PermanentSendError("USER_IS_BLOCKED", recipient_unreachable=True))
    delivery.deliver([action.pk, later.pk])
    action.refresh_from_db()
    prospect.refresh_from_db()
    assert (action.status, action.last_error) == (ActionStatus.FAILED, "USER_IS_BLOCKED")
    assert prospect.unreachable_reason == "USER_IS_BLOCKED"
    assert status_of(later) == ActionStatus.CANCELLED
    assert messenger.delivered == []


def test_not_yet_due_is_left_pending(transactional_db, prospect, messenger):
    action = follow_up(prospect, soon(30))
    assert delivery.deliver([action.pk]).sent == []
    assert status_of(action) == ActionStatus.PENDING


def test_pre_meeting_reminder_text(transactional_db, prospect, messenger):
    start = timezone.now() + timedelta(days=1, minutes=5)
    meeting = services.book_meeting(prospect, start)
    reminder = meeting.reminders.get()
    make_due(reminder)
    delivery.deliver([reminder.pk])
    # Sent on Wednesday at 11:00 (the pinned clock) for Thursday 11:05.
    # Nothing promised that nothing will bring: no link is known, none is mentioned.
    assert messenger.to(prospect.telegram_id) == [
        "Напоминаем: завтра в 11:05 у нас запланирована встреча."
    ]


def send_reminders(meeting, messenger) -> list[str]:
    for reminder in meeting.reminders.order_by("scheduled_for"):
        make_due(reminder)
        delivery.deliver([reminder.pk])
    return messenger.to(meeting.prospect.telegram_id)


def test_a_reminder_has_the_meetings_title_and_link(transactional_db, prospect, messenger):
    start = timezone.now() + timedelta(days=1, hours=4)  # Thursday 15:00
    meeting = services.book_meeting(
        prospect, start, title="Демо виллы в Чангу", link="https://zoom.us/j/123?pwd=x"
    )
    assert send_reminders(meeting, messenger) == [
        "Напоминаем: завтра в 15:00 — «Демо виллы в Чангу». Ссылка: https://zoom.us/j/123?pwd=x"
    ]


def test_both_reminders_in_english_with_a_place(
    transactional_db, make_prospect, messenger, settings
):
    settings.FOLLOWUPS_REMINDER_1H = True
    prospect = make_prospect(language="en")
    start = timezone.now() + timedelta(days=1, hours=4)
    meeting = services.book_meeting(prospect, start, place="Our office, Jl. Batu Bolong 5")
    assert send_reminders(meeting, messenger) == [
        "A reminder: our meeting is tomorrow at 15:00. Where: Our office, Jl. Batu Bolong 5.",
        "Our meeting starts in an hour! Bring your questions, we'll be glad to go through "
        "every detail. Where: Our office, Jl. Batu Bolong 5.",
    ]


def test_the_hour_before_reminder_carries_the_title_and_link(
    transactional_db, prospect, messenger, settings
):
    settings.FOLLOWUPS_REMINDER_24H = False
    settings.FOLLOWUPS_REMINDER_1H = True
    meeting = services.book_meeting(
        prospect, timezone.now() + timedelta(hours=3), title="Демо", link="https://meet.example/a"
    )
    assert send_reminders(meeting, messenger) == [
        "Через час — «Демо»! Подготовьте вопросы, будем рады обсудить все детали. "
        "Ссылка: https://meet.example/a"
    ]


def test_a_link_changed_after_booking_is_the_one_sent(transactional_db, prospect, messenger):
    meeting = services.book_meeting(prospect, timezone.now() + timedelta(days=1, hours=4))
    type(meeting).objects.filter(pk=meeting.pk).update(link="https://meet.example/new")
    assert send_reminders(meeting, messenger)[0].endswith("Ссылка: https://meet.example/new")


def test_reminder_for_a_cancelled_meeting_is_not_sent(transactional_db, prospect, messenger):
    meeting = services.book_meeting(prospect, timezone.now() + timedelta(days=2))
    reminder = meeting.reminders.get()
    type(meeting).objects.filter(pk=meeting.pk).update(status="cancelled")
    make_due(reminder)
    delivery.deliver([reminder.pk])
    assert status_of(reminder) == ActionStatus.CANCELLED
    assert messenger.delivered == []


def test_empty_template_is_written_at_send_time(transactional_db, make_prospect, messenger):
    prospect = make_prospect(language="en")
    action = follow_up(prospect, soon(0), text="")
    delivery.deliver([action.pk])
    assert messenger.to(prospect.telegram_id) == [
        "Hello! As agreed, I'm getting back to you. Is now a good time to continue?"
    ]


def test_rate_cap_spreads_a_burst_none_dropped(
    transactional_db, make_prospect, messenger, settings
):
    settings.FOLLOWUPS_SEND_RATE_PER_MINUTE = 20  # a slot every 3 s: too far to wait for
    prospects = [make_prospect() for _ in range(5)]
    actions = [follow_up(p, soon(-1 + i * 0.01)) for i, p in enumerate(prospects)]
    report = delivery.deliver([a.pk for a in actions])
    assert report.sent == [actions[0].pk]
    assert report.deferred == [a.pk for a in actions[1:]]  # in due order
    deferred = list(
        ScheduledAction.objects.filter(pk__in=report.deferred).order_by("scheduled_for")
    )
    assert [a.pk for a in deferred] == report.deferred
    assert {(a.status, a.attempts) for a in deferred} == {(ActionStatus.PENDING, 0)}
    slots = [a.rate_slot_at for a in deferred]
    assert [b - a for a, b in pairwise(slots)] == [timedelta(seconds=3)] * 3
    assert [a.scheduled_for for a in deferred] == slots
    # Each comes back at its slot and is sent then, without reserving another.
    ScheduledAction.objects.filter(pk=deferred[0].pk).update(
        scheduled_for=timezone.now(), rate_slot_at=timezone.now()
    )
    assert delivery.deliver([deferred[0].pk]).sent == [deferred[0].pk]
    assert len(messenger.delivered) == 2


@pytest.mark.services
def test_rate_cap_through_workers(worker, make_prospect, messenger, settings):
    settings.FOLLOWUPS_SEND_RATE_PER_MINUTE = 120  # one send every 0.5 s
    prospects = [make_prospect() for _ in range(8)]
    actions = [follow_up(p, soon(0.5 + i * 0.01)) for i, p in enumerate(prospects)]
    wait_until(lambda: {status_of(a) for a in actions} == {ActionStatus.EXECUTED}, timeout=20)
    assert sorted(d.recipient_id for d in messenger.delivered) == sorted(
        p.telegram_id for p in prospects
    )
    # Eight sends take eight slots 0.5 s apart, the first no earlier than the first due time,
    # and none goes out before its slot: the last is at least 3.5 s after that due time
    # (however late the first one went out, which is why the first send is not the reference).
    last_sent = max(d.at for d in messenger.delivered)
    assert last_sent - actions[0].scheduled_for >= timedelta(seconds=3.5)


def test_a_batch_records_each_rows_own_result(transactional_db, make_prospect, messenger):
    prospects = [make_prospect() for _ in range(5)]
    actions = [follow_up(p, soon(0), text=f"text {i}") for i, p in enumerate(prospects)]
    assert sorted(delivery.deliver([a.pk for a in actions]).sent) == sorted(a.pk for a in actions)
    by_recipient = {d.recipient_id: d for d in messenger.delivered}
    for action in ScheduledAction.objects.filter(pk__in=[a.pk for a in actions]):
        sent = by_recipient[action.prospect.telegram_id]
        assert action.status == ActionStatus.EXECUTED
        assert action.telegram_message_id == sent.message_id
        assert action.executed_at >= sent.at
        assert action.prospect.last_outbound_at == action.executed_at
        message = Message.objects.get(action=action)
        assert (message.text, message.telegram_message_id) == (sent.text, sent.message_id)


def test_a_long_past_send_slot_is_stale(transactional_db, make_prospect, messenger, settings):
    """After an outage, actions holding slots that passed long ago take new ones instead of
    all going at once; one that comes back a moment late keeps its slot."""
    settings.FOLLOWUPS_SEND_RATE_PER_MINUTE = 20  # a slot every 3 s
    from followups.models import DEFAULT_ACCOUNT, SendRate

    now = timezone.now()
    SendRate.objects.create(account=DEFAULT_ACCOUNT, next_free_at=now + timedelta(seconds=30))
    late, stale = follow_up(make_prospect(), soon(0)), follow_up(make_prospect(), soon(0))
    ScheduledAction.objects.filter(pk=late.pk).update(rate_slot_at=now - timedelta(seconds=2))
    ScheduledAction.objects.filter(pk=stale.pk).update(rate_slot_at=now - timedelta(minutes=10))
    report = delivery.deliver([late.pk, stale.pk])
    assert (report.sent, report.deferred) == ([late.pk], [stale.pk])
    stale.refresh_from_db()
    assert stale.rate_slot_at >= now + timedelta(seconds=30)


def test_forged_message_with_too_many_ids_is_cut(caplog):
    ids = [str(uuid.uuid4()) for _ in range(delivery.MAX_IDS_PER_MESSAGE + 5)]
    assert len(delivery.parse_ids(ids)) == delivery.MAX_IDS_PER_MESSAGE
    assert "only the first 1000 read" in caplog.text
    assert delivery.parse_ids(["x", 5, str(ids[0])]) == [uuid.UUID(ids[0])]
    assert delivery.parse_ids({"not": "a list"}) == []


def test_claimed_ahead_but_sent_at_its_due_instant(transactional_db, prospect, messenger):
    """A message fires ahead of its rows (publishing.prepare_lead): the batch is claimed and
    written then, and waits for the due instant to send."""
    action = follow_up(prospect, soon(1.0))
    report = delivery.deliver([action.pk])
    assert report.sent == [action.pk]
    action.refresh_from_db()
    assert action.send_started_at < action.scheduled_for <= messenger.delivered[0].at
    assert action.executed_at - action.scheduled_for < timedelta(milliseconds=300)


def test_a_reply_after_the_early_claim_still_cancels(transactional_db, prospect, messenger):
    """The re-check happens at the send, under the client's lock: a reply recorded while the
    claimed batch waits for its instant cancels it."""
    action = follow_up(prospect, soon(1.5))
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_deliver_in_thread, action.pk)
        wait_until(lambda: status_of(action) == ActionStatus.SENDING, timeout=5)
        services.record_client_message(prospect, "я подумаю и напишу")
        report = running.result(timeout=10)
    assert report.skipped == [action.pk]
    action.refresh_from_db()
    assert (action.status, action.cancel_reason) == (ActionStatus.CANCELLED, "client_responded")
    assert messenger.delivered == []


def _deliver_in_thread(action_id):
    try:
        return delivery.deliver([action_id])
    finally:
        connection.close()  # this thread's own connection


@pytest.mark.parametrize(
    ("due_together", "size"),
    [(1, 1), (50, 50), (51, 26), (800, 50), (5_000, 313), (20_000, 1000), (40_000, 1000)],
)
def test_a_due_second_is_spread_over_the_worker_threads(due_together, size):
    assert publishing.batch_size(due_together) == size


@pytest.mark.parametrize(("due_together", "lead_ms"), [(1, 101), (100, 200), (5_000, 2000)])
def test_a_lone_action_is_claimed_only_a_moment_ahead(due_together, lead_ms):
    assert publishing.prepare_lead(due_together) == timedelta(milliseconds=lead_ms)
