"""reconcile: the rows are the truth, whatever happened to the broker or a worker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from followups import claims, dispatcher, services
from followups.models import ActionStatus, ActionType, Message, ScheduledAction
from tests.conftest import soon, wait_until

ROOT = Path(__file__).resolve().parent.parent


def follow_up(prospect, when, text="hello"):
    return services.schedule_action(
        prospect, ActionType.FOLLOW_UP, when, payload={"message_template": text}
    )


def backdate(action, seconds: float) -> None:
    """As if the action had been due `seconds` ago and its message had been lost."""
    ScheduledAction.objects.filter(pk=action.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=seconds), enqueued_at=None
    )


def reconcile() -> str:
    out = StringIO()
    call_command("reconcile", stdout=out)
    return out.getvalue()


def statuses(*actions) -> list[str]:
    by_id = dict(ScheduledAction.objects.values_list("pk", "status"))
    return [by_id[a.pk] for a in actions]


@pytest.mark.services
def test_purged_queues_lose_nothing(broker, transactional_db, make_prospect, messenger):
    prospects = [make_prospect() for _ in range(20)]
    actions = [follow_up(p, soon(1 + i % 3)) for i, p in enumerate(prospects)]
    broker.flush_all()  # every RabbitMQ queue purged: all messages gone
    assert "enqueued 20" in reconcile()
    from dramatiq import Worker

    worker = Worker(broker, worker_timeout=50, worker_threads=4)
    worker.start()
    try:
        wait_until(lambda: set(statuses(*actions)) == {ActionStatus.EXECUTED})
    finally:
        worker.stop()
    assert sorted(d.recipient_id for d in messenger.delivered) == sorted(
        p.telegram_id for p in prospects
    )


def test_overdue_within_grace_is_sent_beyond_is_missed(worker, make_prospect, messenger, settings):
    settings.FOLLOWUPS_MISSED_GRACE_S = 3600
    recent, old = make_prospect(), make_prospect()
    a = follow_up(recent, soon(600))
    b = follow_up(old, soon(600))
    backdate(a, 1800)
    backdate(b, 2 * 3600)
    out = reconcile()
    assert "marked 1 missed" in out
    assert "enqueued 1" in out
    wait_until(lambda: statuses(a) == [ActionStatus.EXECUTED])
    assert statuses(b) == [ActionStatus.MISSED]
    assert messenger.to(recent.telegram_id) == ["hello"]
    assert messenger.to(old.telegram_id) == []


def test_claim_of_a_killed_worker_is_released_and_sent_once(worker, prospect, messenger, settings):
    """The worker sent, then died before recording: the retry reaches Telegram with the same
    random_id, so the client gets one message and the row records the original message id."""
    settings.FOLLOWUPS_CLAIM_TIMEOUT_S = 60
    action = follow_up(prospect, soon(300))
    from followups.messenger import Recipient

    first = messenger.send(Recipient(prospect.telegram_id), "hello", action.random_id)
    ScheduledAction.objects.filter(pk=action.pk).update(
        status=ActionStatus.SENDING,
        claim_token=uuid.uuid4(),
        claimed_at=timezone.now() - timedelta(seconds=120),
        scheduled_for=timezone.now() - timedelta(seconds=130),
        attempts=1,
    )
    assert "released 1 stale claims" in reconcile()
    wait_until(lambda: statuses(action) == [ActionStatus.EXECUTED])
    action.refresh_from_db()
    assert action.telegram_message_id == first.message_id
    assert action.attempts == 2
    assert len(messenger.delivered) == 1
    assert Message.objects.filter(action=action).count() == 1


def test_fresh_claim_is_left_alone(transactional_db, prospect):
    """Its worker is alive (it holds the claim's lock, here in this very session)."""
    action = follow_up(prospect, soon(300))
    with claims.holding_new_token() as token:
        ScheduledAction.objects.filter(pk=action.pk).update(
            status=ActionStatus.SENDING, claim_token=token, claimed_at=timezone.now()
        )
        assert dispatcher.release_stale_claims() == 0


def test_lost_message_is_republished_by_the_watch_pass(
    broker, transactional_db, prospect, settings
):
    settings.FOLLOWUPS_REQUEUE_AFTER_S = 60
    action = follow_up(prospect, soon(1))
    assert dispatcher.enqueue_due() == 0  # it has a message on the broker
    ScheduledAction.objects.filter(pk=action.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=90),
        enqueued_at=timezone.now() - timedelta(seconds=95),
    )
    assert dispatcher.enqueue_due() == 1
    assert dispatcher.enqueue_due() == 0


def test_cleanup_by_age(transactional_db, prospect, settings):
    settings.FOLLOWUPS_KEEP_EXECUTED_DAYS = 30
    settings.FOLLOWUPS_KEEP_CANCELLED_DAYS = 7
    rows = {}
    for name, status, age_days in [
        ("old_executed", "executed", 31),
        ("new_executed", "executed", 29),
        ("old_cancelled", "cancelled", 8),
        ("new_cancelled", "cancelled", 6),
        ("old_pending", "pending", 400),
    ]:
        action = follow_up(prospect, soon(3600 * (len(rows) + 1)))
        ScheduledAction.objects.filter(pk=action.pk).update(
            status=status, updated_at=timezone.now() - timedelta(days=age_days)
        )
        rows[name] = action.pk
    assert dispatcher.cleanup() == 2
    left = set(ScheduledAction.objects.values_list("pk", flat=True))
    assert left == {rows["new_executed"], rows["new_cancelled"], rows["old_pending"]}


def test_progress_of_a_long_pass(broker, transactional_db, make_prospect, monkeypatch):
    monkeypatch.setattr(dispatcher, "PUBLISH_CHUNK", 2)
    prospect = make_prospect()
    for i in range(5):
        follow_up(prospect, soon(1 + i))
    ScheduledAction.objects.update(enqueued_at=None)
    seen = []
    report = dispatcher.reconcile(force=True, progress=lambda what, n: seen.append((what, n)))
    assert report.enqueued == 5
    assert seen == [("enqueued", 2), ("enqueued", 4), ("enqueued", 5)]


@pytest.mark.parametrize("command", ["reconcile", "alerts"])
@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf"])
def test_bad_intervals_are_refused_before_anything_runs(command, interval):
    with pytest.raises(CommandError, match="--interval must be a positive"):
        call_command(command, "--watch", "--interval", interval)


def _dispatcher_process(interval: str = "0.2") -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "FOLLOWUPS_QUEUE": os.environ.get("FOLLOWUPS_QUEUE", "followups_test"),
        "FOLLOWUPS_WATCH_INTERVAL_S": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "reconcile", "--watch", "--interval", interval],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.mark.services
@pytest.mark.real_clock  # the dispatchers are subprocesses: they read the real clock
def test_two_dispatchers_and_a_worker_send_each_once(worker, make_prospect, messenger):
    """Two `reconcile --watch` processes race over the same rows; every action reaches its
    client once. Then SIGTERM stops each cleanly."""
    prospects = [make_prospect() for _ in range(30)]
    actions = [follow_up(p, soon(3600)) for p in prospects]  # not on the broker
    procs = [_dispatcher_process(), _dispatcher_process()]
    try:
        for proc in procs:  # both past their startup pass: only the watch loops remain
            assert proc.stdout.readline().startswith("reconcile: ")
        ScheduledAction.objects.update(scheduled_for=soon(1))  # due now: theirs to publish
        wait_until(lambda: set(statuses(*actions)) == {ActionStatus.EXECUTED}, timeout=30)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=20)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert all("reconcile --watch: stopped" in out for out in outputs), outputs
    assert sorted(d.recipient_id for d in messenger.delivered) == sorted(
        p.telegram_id for p in prospects
    )
    time.sleep(0.3)  # any duplicate message would have been handled by now
    assert len(messenger.delivered) == 30
