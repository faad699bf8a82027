"""A send that may have happened is found out, never guessed: the send mark and its lookup, and
claims given back as soon as their worker is gone (followups.claims)."""

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from followups import claims, delivery, dispatcher, services
from followups.messenger import InMemoryMessenger, Recipient, TransientSendError
from followups.models import ActionStatus, ActionType, Message, ScheduledAction
from tests.conftest import soon
from tests.faults.faketelegram import django_dsn

TEXT = "Как вам наше предложение?"


def follow_up(prospect, when=None, text=TEXT):
    return services.schedule_action(
        prospect, ActionType.FOLLOW_UP, when or soon(300), payload={"message_template": text}
    )


def died_after_send(action, messenger: InMemoryMessenger, *, sent: bool, ago: float = 5):
    """The state a worker leaves when it is killed after committing the send mark: the row
    claimed with a token nobody holds, due and marked `ago` seconds back; with `sent`, the
    client has the message."""
    marked = timezone.now() - timedelta(seconds=ago)
    if sent:
        recipient = Recipient(action.prospect.telegram_id)
        messenger.send(recipient, TEXT, action.random_id)
    ScheduledAction.objects.filter(pk=action.pk).update(
        status=ActionStatus.SENDING,
        claim_token=uuid.uuid4(),
        claimed_at=marked,
        scheduled_for=marked,
        attempts=1,
        send_started_at=marked,
        send_text=TEXT,
    )


def reload(action) -> ScheduledAction:
    return ScheduledAction.objects.get(pk=action.pk)


def test_the_mark_is_committed_before_the_send(transactional_db, prospect, messenger, monkeypatch):
    """While the messenger is sending, another connection already sees the mark and the text."""
    seen = {}

    def send(recipient, text, random_id):
        with psycopg.connect(django_dsn()) as other:
            seen["row"] = other.execute(
                "SELECT send_started_at IS NOT NULL, send_text FROM followups_scheduledaction "
                "WHERE id = %s",
                (action.pk,),
            ).fetchone()
        return InMemoryMessenger.send(messenger, recipient, text, random_id)

    action = follow_up(prospect, timezone.now())
    monkeypatch.setattr(messenger, "send", send)
    delivery.deliver([action.pk])
    assert seen["row"] == (True, TEXT)
    assert reload(action).status == ActionStatus.EXECUTED


def test_sent_then_died_then_the_client_answered_it_is_executed(
    transactional_db, prospect, messenger
):
    """The issue's sequence: claim, send, the worker dies before the record, the client
    replies to that very message, the claim is released. The message is recorded as sent."""
    action = follow_up(prospect)
    died_after_send(action, messenger, sent=True)
    assert services.record_client_message(prospect, "спасибо, получил") == []
    assert dispatcher.release_stale_claims() == 1
    # Released and pending again, it is still not cancelled by a further message.
    assert services.record_client_message(prospect, "а скидка будет?") == []
    assert services.cancel_action(action, "staff") is False

    report = delivery.deliver([action.pk])

    row = reload(action)
    assert report.sent == [action.pk]
    assert row.status == ActionStatus.EXECUTED
    assert row.telegram_message_id == messenger.delivered[0].message_id
    assert len(messenger.delivered) == 1
    logged = Message.objects.get(action=action)
    assert (logged.direction, logged.text) == (Message.Direction.OUTBOUND, TEXT)
    prospect.refresh_from_db()
    assert prospect.last_outbound_at == row.executed_at


def test_marked_but_not_sent_then_the_client_answered_is_cancelled(
    transactional_db, prospect, messenger
):
    action = follow_up(prospect)
    died_after_send(action, messenger, sent=False)
    services.record_client_message(prospect, "уже не актуально")
    dispatcher.release_stale_claims()

    report = delivery.deliver([action.pk])

    row = reload(action)
    assert report.skipped == [action.pk]
    assert (row.status, row.cancel_reason) == (ActionStatus.CANCELLED, "client_responded")
    assert messenger.delivered == []


def test_marked_but_not_sent_goes_out_once_with_its_text(transactional_db, prospect, messenger):
    """No reply: the send is made, with the text the mark recorded (not written anew)."""
    action = follow_up(prospect, text="другой текст в шаблоне")
    died_after_send(action, messenger, sent=False)
    dispatcher.release_stale_claims()
    delivery.deliver([action.pk])
    assert reload(action).status == ActionStatus.EXECUTED
    assert messenger.to(prospect.telegram_id) == [TEXT]


def test_marked_not_sent_and_overdue_beyond_grace_is_missed(
    transactional_db, prospect, messenger, settings
):
    settings.FOLLOWUPS_MISSED_GRACE_S = 60
    action = follow_up(prospect)
    died_after_send(action, messenger, sent=False, ago=120)
    dispatcher.release_stale_claims()
    assert dispatcher.mark_missed() == 0  # left to the worker, which can ask
    report = delivery.deliver([action.pk])
    assert report.missed == 1
    assert reload(action).status == ActionStatus.MISSED
    assert messenger.delivered == []


def test_marked_sent_and_overdue_beyond_grace_is_executed(
    transactional_db, prospect, messenger, settings
):
    settings.FOLLOWUPS_MISSED_GRACE_S = 60
    action = follow_up(prospect)
    died_after_send(action, messenger, sent=True, ago=120)
    dispatcher.release_stale_claims()
    delivery.deliver([action.pk])
    assert reload(action).status == ActionStatus.EXECUTED
    assert len(messenger.delivered) == 1


def test_a_lookup_that_cannot_tell_neither_sends_nor_cancels(
    transactional_db, prospect, messenger, monkeypatch
):
    action = follow_up(prospect)
    died_after_send(action, messenger, sent=False)
    services.record_client_message(prospect, "ответ")
    dispatcher.release_stale_claims()

    def unreachable(*args):
        raise TransientSendError("NETWORK_ERROR (OSError)")

    monkeypatch.setattr(messenger, "find_sent", unreachable)
    report = delivery.deliver([action.pk])

    row = reload(action)
    assert report.retried == [action.pk]
    assert row.status == ActionStatus.PENDING
    assert row.send_started_at is not None  # still to be found out
    assert "lookup" in row.last_error
    assert messenger.delivered == []


def test_a_flood_wait_clears_the_mark(transactional_db, prospect, messenger):
    action = follow_up(prospect, timezone.now())
    messenger.fail_next(TransientSendError("FLOOD_WAIT_5", retry_after_s=5))
    delivery.deliver([action.pk])
    row = reload(action)
    assert row.status == ActionStatus.PENDING
    assert row.send_started_at is None


def test_a_marked_reminder_of_a_moved_meeting_is_not_sent(transactional_db, prospect, messenger):
    """The move cannot cancel a reminder that may have gone out; its worker finds it was not
    sent, and sees that it names the old time."""
    meeting = services.book_meeting(prospect, timezone.now() + timedelta(days=3))
    reminder = meeting.reminders.get()
    died_after_send(reminder, messenger, sent=False)
    dispatcher.release_stale_claims()
    services.move_meeting(meeting, timezone.now() + timedelta(days=4))
    assert reload(reminder).status == ActionStatus.PENDING

    delivery.deliver([reminder.pk])

    row = reload(reminder)
    assert (row.status, row.cancel_reason) == (ActionStatus.CANCELLED, "meeting_moved")
    assert messenger.delivered == []
    assert meeting.reminders.filter(status=ActionStatus.PENDING).count() == 1


# --- claims held by a live session ------------------------------------------------------------


def hold(token: uuid.UUID) -> psycopg.Connection:
    """Another session holding the claim lock of `token`, as a live worker does."""
    conn = psycopg.connect(django_dsn(), autocommit=True)
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (claims.LOCK_SPACE, claims.lock_key(token)))
    return conn


def claim(action, token: uuid.UUID, age_s: float) -> None:
    ScheduledAction.objects.filter(pk=action.pk).update(
        status=ActionStatus.SENDING,
        claim_token=token,
        claimed_at=timezone.now() - timedelta(seconds=age_s),
    )


@pytest.mark.services
def test_a_live_workers_claim_is_kept_and_a_dead_ones_released_at_once(
    transactional_db, prospect, settings
):
    settings.FOLLOWUPS_CLAIM_TIMEOUT_S = 300
    slow, dead = follow_up(prospect), follow_up(prospect, soon(400))
    slow_token, dead_token = uuid.uuid4(), uuid.uuid4()
    worker = hold(slow_token)
    try:
        claim(slow, slow_token, age_s=200)  # slow, but its worker is alive
        claim(dead, dead_token, age_s=1)  # fresh, but nobody holds it
        assert dispatcher.release_stale_claims() == 1
        assert reload(slow).status == ActionStatus.SENDING
        row = reload(dead)
        assert row.status == ActionStatus.PENDING
        assert row.last_error == "claim released: the claiming worker is gone"
    finally:
        worker.close()  # the worker dies: its session, and the lock, go
    assert dispatcher.release_stale_claims() == 1
    assert reload(slow).status == ActionStatus.PENDING


@pytest.mark.services
def test_the_timeout_still_releases_a_hung_worker(transactional_db, prospect, settings):
    settings.FOLLOWUPS_CLAIM_TIMEOUT_S = 60
    action, token = follow_up(prospect), uuid.uuid4()
    worker = hold(token)
    try:
        claim(action, token, age_s=61)
        assert dispatcher.release_stale_claims() == 1
        assert reload(action).last_error == (
            "claim released: the claiming worker did not finish in time"
        )
    finally:
        worker.close()


@pytest.mark.services
def test_delivery_holds_its_claim_lock_while_sending(
    transactional_db, prospect, messenger, monkeypatch
):
    """During the send the dispatcher sees a live claim; afterwards the lock is given up."""
    released_during_send = []

    def send(recipient, text, random_id):
        with psycopg.connect(django_dsn(), autocommit=True) as other:
            # What the dispatcher would conclude at this moment, from its own session.
            token = other.execute(
                "SELECT claim_token FROM followups_scheduledaction WHERE id = %s", (action.pk,)
            ).fetchone()[0]
            held = {
                row[0]
                for row in other.execute(
                    "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                    (claims.LOCK_SPACE,),
                )
            }
            released_during_send.append(claims.lock_key(token) not in held)
        return InMemoryMessenger.send(messenger, recipient, text, random_id)

    action = follow_up(prospect, timezone.now())
    monkeypatch.setattr(messenger, "send", send)
    delivery.deliver([action.pk])
    assert released_during_send == [False]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND pid = pg_backend_pid()",
            [claims.LOCK_SPACE],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.services
def test_a_session_ended_by_the_server_is_noticed_without_a_round_trip(transactional_db):
    connection.ensure_connection()
    assert not claims.session_lost()
    with psycopg.connect(django_dsn(), autocommit=True) as other:
        other.execute(
            "SELECT pg_terminate_backend(%s, 5000)", (connection.connection.info.backend_pid,)
        )
    assert claims.session_lost()
    connection.close()
