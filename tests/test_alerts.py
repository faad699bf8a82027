"""Alerts (followups/alerts.py, `manage.py alerts`) on the real database and broker, delivered
to a local webhook receiver and to the in-memory messenger."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from dramatiq.common import xq_name
from telethon import errors, functions, types

from bot.telegram import classify
from followups import accounts, alerts, delivery, dispatcher, services
from followups.messenger import DEFAULT_ACCOUNT, PermanentSendError, TransientSendError
from followups.models import Account, AlertState, Heartbeat, Message, ScheduledAction
from tests.conftest import wait_until

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb-very-secret-path"
# A client's words, seeded in every place a client text lives: no notice may carry them.
CLIENT_TEXT = "ZEBRA-7731 моя карта 4111"
REQUEST = functions.messages.SendMessageRequest(
    peer=types.InputPeerEmpty(), message="", random_id=1
)


class Receiver:
    """A Slack-compatible webhook on 127.0.0.1: records the JSON bodies it is sent."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.status = 200
        self.delay_s = 0.0
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                status, delay_s = receiver.status, receiver.delay_s
                receiver.attempts += 1
                if status == 200 and not delay_s:  # what the sender will count as taken
                    receiver.bodies.append(body)
                    receiver.paths.append(self.path)
                time.sleep(delay_s)
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except BrokenPipeError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"

    def texts(self) -> list[str]:
        return [b["text"] for b in self.bodies]


@pytest.fixture
def receiver():
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    with override_settings(
        FOLLOWUPS_ALERT_WEBHOOK_URL=receiver.url, FOLLOWUPS_ALERT_WEBHOOK_TIMEOUT_S=1
    ):
        yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def client_texts(make_prospect):
    """A prospect whose conversation and scheduled text hold CLIENT_TEXT."""
    p = make_prospect(display_name=CLIENT_TEXT)
    Message.objects.create(prospect=p, direction="in", text=CLIENT_TEXT, sent_at=timezone.now())
    return p


def due_action(prospect, template: str = CLIENT_TEXT) -> ScheduledAction:
    return services.schedule_action(
        prospect, "follow_up", timezone.now() + timedelta(seconds=1),
        payload={"message_template": template},
    )  # fmt: skip


def deliver_failing(messenger, clock, prospect, *failures) -> list[ScheduledAction]:
    """One action per failure, delivered while the messenger raises it."""
    actions = [due_action(prospect) for _ in failures]
    clock.shift(timedelta(seconds=2))
    messenger.fail_next(*failures)
    for action in actions:
        delivery.deliver([action.pk])
    return actions


def beat():
    Heartbeat.objects.update_or_create(name="dispatcher", defaults={"beat_at": timezone.now()})


def only(key: str) -> str | None:
    """Evaluate and apply the one condition named by `key` (the others are left alone)."""
    finding = next(f for f in alerts.evaluate() if f.key == key)
    return alerts.apply(finding, timezone.now(), alerts.channels())


def assert_clean(receiver: Receiver, caplog) -> None:
    for text in receiver.texts():
        assert CLIENT_TEXT not in text and "ZEBRA" not in text
    assert SECRET_PATH not in caplog.text and "SECRET" not in caplog.text


# --- the conditions, each firing and clearing -----------------------------------------------


@override_settings(FOLLOWUPS_ALERT_SEND_FAILURES=3, FOLLOWUPS_MAX_RETRIES=0)
def test_send_failures_fire_once_and_clear_end_to_end(
    receiver, client_texts, messenger, clock, broker, caplog, transactional_db
):
    caplog.set_level(logging.DEBUG)
    beat()
    deliver_failing(messenger, clock, client_texts, PermanentSendError("CHAT_WRITE_FORBIDDEN"))
    findings, sent = alerts.check()
    assert sent == [] and not any(f.firing for f in findings)  # 1 failure, limit 3
    failed = deliver_failing(
        messenger, clock, client_texts,
        # An unknown error's text can hold anything; only its class name may be quoted.
        TransientSendError(f"RuntimeError: {CLIENT_TEXT}"),
        PermanentSendError("CHAT_WRITE_FORBIDDEN"),
    )  # fmt: skip
    assert ScheduledAction.objects.filter(status="failed").count() == 3
    alerts.check()
    assert len(receiver.bodies) == 1
    text = receiver.texts()[0]
    assert "send_failures:default" in text and "3 sends failed in the last 15 min" in text
    assert "CHAT_WRITE_FORBIDDEN ×2" in text and "RuntimeError ×1" in text
    assert str(failed[-1].pk) in text
    assert receiver.paths == [SECRET_PATH]
    assert set(receiver.bodies[0]) == {"text"}

    assert alerts.check()[1] == []  # alert once
    assert len(receiver.bodies) == 1
    clock.shift(timedelta(minutes=16))
    beat()
    alerts.check()
    assert len(receiver.bodies) == 2
    assert "send_failures:default resolved after 16 min" in receiver.texts()[1]
    assert "0 failed sends in the last 15 min" in receiver.texts()[1]
    alerts.check()
    assert len(receiver.bodies) == 2  # the clear is said once too
    assert_clean(receiver, caplog)


@pytest.mark.parametrize(
    "error, name",
    [
        (errors.AuthKeyUnregisteredError(REQUEST), "AUTH_KEY_UNREGISTERED"),
        (errors.SessionRevokedError(REQUEST), "SESSION_REVOKED"),
    ],
)
@override_settings(FOLLOWUPS_MAX_RETRIES=0)
def test_a_revoked_session_fires_and_clears_once_the_account_logs_in_again(
    error, name, receiver, client_texts, messenger, clock, broker, transactional_db
):
    """The account needs a login: its actions wait (never failed, whatever the retries), the
    alert says so once, and clears once a login made it active again."""
    action = deliver_failing(messenger, clock, client_texts, classify(error))[0]
    action.refresh_from_db()
    assert action.status == "pending"
    assert only("session:default") is not None
    text = receiver.texts()[0]
    assert f"Telegram refuses account default's session ({name}): 1 pending actions" in text
    assert str(action.pk) in text
    clock.shift(timedelta(minutes=5))
    assert only("session:default") is None  # still firing: nothing new to say yet
    accounts.logged_in(accounts.default(), 1, "")  # runbot or telegram_login, with a new session
    ScheduledAction.objects.filter(pk=action.pk).update(scheduled_for=timezone.now())
    delivery.deliver([action.pk])
    action.refresh_from_db()
    assert action.status == "executed"
    assert "resolved after" in only("session:default")


def test_a_long_flood_wait_fires_until_it_is_over(
    receiver, client_texts, messenger, clock, broker, transactional_db
):
    short = classify(errors.FloodWaitError(REQUEST, capture=120))  # 2 min: under the limit
    deliver_failing(messenger, clock, client_texts, short)
    assert only("flood_wait:default") is None
    long = classify(errors.FloodWaitError(REQUEST, capture=1200))
    action = deliver_failing(messenger, clock, client_texts, long)[0]
    assert only("flood_wait:default") is not None
    text = receiver.texts()[0]
    assert "flood wait of 20 min on account default (limit 10 min)" in text
    assert str(action.pk) in text
    clock.shift(timedelta(minutes=19))
    assert only("flood_wait:default") is None  # still waiting: nothing new to say
    clock.shift(timedelta(minutes=2))
    assert "flood_wait:default resolved after 21 min" in only("flood_wait:default")


def test_a_stale_dispatcher_heartbeat(receiver, clock, transactional_db):
    assert "the dispatcher has never beaten" in only("heartbeat:dispatcher")
    dispatcher.reconcile(force=False, clean=False)
    assert "heartbeat:dispatcher resolved after 1 min" in only("heartbeat:dispatcher")
    clock.shift(timedelta(seconds=121))
    assert "heartbeat is 121 s old (limit 120 s)" in only("heartbeat:dispatcher")


def test_actions_marked_missed(receiver, client_texts, clock, broker, transactional_db):
    assert only("missed") is None
    action = ScheduledAction.objects.create(
        prospect=client_texts, action_type="follow_up",
        scheduled_for=timezone.now() - timedelta(hours=2),
        payload={"message_template": CLIENT_TEXT},
    )  # fmt: skip
    assert dispatcher.mark_missed() == 1
    text = only("missed")
    assert "1 actions marked missed" in text and str(action.pk) in text
    clock.shift(timedelta(minutes=15))
    assert "missed resolved after 15 min" in only("missed")


@pytest.mark.services
def test_the_dead_letter_queue_growing(receiver, broker, clock, transactional_db, settings):
    key = f"dead_letter:{settings.FOLLOWUPS_QUEUE}"
    broker.get_queue_message_counts(settings.FOLLOWUPS_QUEUE)  # declares the queues
    assert only(key) is None  # empty: nothing to say
    assert AlertState.objects.get(key=key).value == 0

    def dead_letter():
        broker.channel.basic_publish(
            exchange="", routing_key=xq_name(settings.FOLLOWUPS_QUEUE), body=b"{}"
        )

    dead_letter()
    dead_letter()
    text = only(key)
    assert f"dead-letter queue of {settings.FOLLOWUPS_QUEUE} holds 2 messages" in text
    clock.shift(timedelta(minutes=10))
    dead_letter()  # grows again: still the same episode
    assert only(key) is None
    clock.shift(timedelta(minutes=14))
    assert only(key) is None  # 14 min since it last grew
    clock.shift(timedelta(minutes=1))
    cleared = only(key)
    assert "resolved after 25 min: no new dead letters for 15 min (3 held)" in cleared
    assert only(key) is None  # 3 held, not growing: quiet


def broker_down():
    raise ConnectionError("refused")


def test_a_broker_that_does_not_answer(receiver, transactional_db, monkeypatch):
    monkeypatch.setattr("followups.health.queue_depths", broker_down)
    findings = {f.key: f for f in alerts.evaluate()}
    assert findings["broker"].firing
    assert "ConnectionError" in findings["broker"].text
    assert not any(k.startswith("dead_letter:") for k in findings)  # unknown, not cleared


# --- the state machine ----------------------------------------------------------------------


@override_settings(FOLLOWUPS_ALERT_RENOTIFY_MIN=60)
def test_a_condition_still_firing_is_told_again_every_renotify_interval(
    receiver, clock, transactional_db
):
    assert only("heartbeat:dispatcher") is not None
    clock.shift(timedelta(minutes=59))
    assert only("heartbeat:dispatcher") is None
    clock.shift(timedelta(minutes=1))
    assert "still firing for 60 min, heartbeat:dispatcher" in only("heartbeat:dispatcher")
    clock.shift(timedelta(minutes=30))
    assert only("heartbeat:dispatcher") is None
    assert len(receiver.bodies) == 2


@override_settings(FOLLOWUPS_ALERT_MAX_PER_HOUR=2, FOLLOWUPS_ALERT_RENOTIFY_MIN=600)
def test_each_channel_sends_at_most_its_hourly_budget(
    receiver, clock, transactional_db, monkeypatch, caplog
):
    """An outage storm: every condition at once. The budget's rest waits for the next hour."""
    monkeypatch.setattr("followups.health.queue_depths", broker_down)
    ScheduledAction.objects.create(
        prospect=services.Prospect.objects.create(telegram_id=1),
        action_type="follow_up", status="missed", scheduled_for=timezone.now(),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="followups.alerts"):
        findings, sent = alerts.check()
    firing = [f.key for f in findings if f.firing]
    assert firing == ["heartbeat:dispatcher", "missed", "broker"]
    assert len(sent) == len(receiver.bodies) == 2
    assert caplog.text.count("the limit; the rest wait") == 1
    assert alerts.check()[1] == []
    assert caplog.text.count("the limit; the rest wait") == 1  # said once an hour
    clock.shift(timedelta(minutes=61))
    findings, sent = alerts.check()
    # The one held back, and the missed actions' clear; no repeat of the two told.
    assert [n.split(":")[0] for n in sent] == [
        "[followups] ✅ missed resolved after 61 min",
        "[followups] 🔴 broker",
    ]
    assert len(receiver.bodies) == 4


@pytest.mark.parametrize("trouble", ["status_500", "timeout"])
def test_a_failing_receiver_breaks_nothing_and_is_tried_again(
    trouble, receiver, clock, transactional_db, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    if trouble == "status_500":
        receiver.status = 500
    else:
        receiver.delay_s = 1.5  # beyond the 1 s timeout
    monkeypatch.setattr("followups.health.queue_depths", broker_down)  # a second condition
    started = time.monotonic()
    findings, sent = alerts.check()  # nothing raises
    assert time.monotonic() - started < 5
    assert sent == [] and sum(f.firing for f in findings) == 2
    assert receiver.attempts == 1  # down for the rest of the check: no storm of timeouts
    assert not AlertState.objects.get(key="heartbeat:dispatcher").notified_at
    assert AlertState.objects.get(key="channel:webhook").value == 0  # no budget spent
    assert ("HTTP 500" if trouble == "status_500" else "failed: TimeoutError") in caplog.text
    assert "http://127.0.0.1/…" in caplog.text
    receiver.status, receiver.delay_s = 200, 0
    receiver.bodies.clear()
    clock.shift(timedelta(seconds=30))
    findings, sent = alerts.check()
    assert receiver.texts() == sent
    assert [n.split(":")[0] for n in sent] == ["[followups] 🔴 heartbeat", "[followups] 🔴 broker"]
    assert_clean(receiver, caplog)


def test_a_condition_that_cleared_before_anyone_heard_says_what_it_was(
    receiver, clock, transactional_db
):
    receiver.status = 500
    assert only("heartbeat:dispatcher") is None
    beat()
    assert only("heartbeat:dispatcher") is None  # cleared: still nobody told
    receiver.status = 200
    text = only("heartbeat:dispatcher")
    assert "heartbeat:dispatcher resolved after 1 min" in text
    assert "(was: the dispatcher has never beaten" in text
    assert only("heartbeat:dispatcher") is None


@override_settings(FOLLOWUPS_ALERT_TELEGRAM_CHAT=777)
def test_the_staff_telegram_chat(messenger, clock, transactional_db):
    messenger.fail_next(TransientSendError("NETWORK_ERROR (OSError)"))
    assert only("heartbeat:dispatcher") is None  # not taken: owed
    assert messenger.to(777) == []
    sent = only("heartbeat:dispatcher")
    assert messenger.to(777) == [sent]
    assert "heartbeat:dispatcher" in sent


@override_settings(FOLLOWUPS_ALERT_TELEGRAM_CHAT=777, FOLLOWUPS_ALERT_ACCOUNT="anna")
def test_the_staff_telegram_chat_is_written_from_the_configured_account(
    messenger, clock, transactional_db
):
    with pytest.raises(CommandError, match="FOLLOWUPS_ALERT_ACCOUNT=anna: no account of that"):
        call_command("alerts")
    assert messenger.delivered == []
    Account.objects.create(name="anna")
    sent = only("heartbeat:dispatcher")
    assert messenger.to(777, "anna") == [sent]
    assert messenger.to(777, DEFAULT_ACCOUNT) == []


def test_an_alert_account_that_is_not_a_name_stops_startup():
    from tests.test_production_settings import production, run

    done = run(
        ["-c", "import django; django.setup()"],
        **production(FOLLOWUPS_ALERT_ACCOUNT="anna; drop"),
    )
    assert done.returncode != 0
    assert "FOLLOWUPS_ALERT_ACCOUNT must be an account's name" in done.stderr


def test_without_a_channel_the_log_is_the_notice(clock, transactional_db, caplog):
    with caplog.at_level(logging.WARNING, logger="followups.alerts"):
        assert only("heartbeat:dispatcher") is not None
        assert only("heartbeat:dispatcher") is None
    assert caplog.text.count("alert firing heartbeat:dispatcher") == 1


# --- the command, settings and helpers ------------------------------------------------------


def test_the_command_exits_1_while_anything_fires(receiver, capsys, broker, transactional_db):
    with pytest.raises(SystemExit) as exited:
        call_command("alerts")
    assert exited.value.code == 1
    assert "FIRING heartbeat:dispatcher" in capsys.readouterr().out
    beat()
    call_command("alerts")  # all clear: returns
    out = capsys.readouterr().out
    assert "FIRING" not in out and "sent: [followups] ✅ heartbeat:dispatcher resolved" in out
    with pytest.raises(CommandError, match="--interval"):
        call_command("alerts", "--watch", "--interval", "0")


def test_a_webhook_url_that_is_not_http_stops_startup_without_showing_it():
    from tests.test_production_settings import production, run

    done = run(
        ["-c", "import django; django.setup()"],
        **production(FOLLOWUPS_ALERT_WEBHOOK_URL="ftp://hooks.example/T0SECRET"),
    )
    assert done.returncode != 0
    assert "FOLLOWUPS_ALERT_WEBHOOK_URL must start with https:// or http://" in done.stderr
    assert "T0SECRET" not in done.stderr


def test_redact_keeps_only_scheme_and_host():
    assert alerts.redact("https://hooks.slack.com" + SECRET_PATH) == "https://hooks.slack.com/…"
    assert (
        alerts.redact("https://user:pw@hooks.example:8443/x?token=1") == "https://hooks.example/…"
    )


@pytest.mark.parametrize(
    "last_error, name",
    [
        ("USER_IS_BLOCKED", "USER_IS_BLOCKED"),
        ("gave up after 4: SEND_TIMEOUT", "SEND_TIMEOUT"),
        (f"gave up after 1: RuntimeError: {CLIENT_TEXT}", "RuntimeError"),
        ("lookup: NETWORK_ERROR (OSError)", "NETWORK_ERROR"),
        (f"writing the text failed: {CLIENT_TEXT}", "other"),
        (CLIENT_TEXT, "other"),
        ("HELLO: a client's words", "other"),
        ("AUTH_KEY_UNREGISTERED (the Telegram session needs attention)", "AUTH_KEY_UNREGISTERED"),
    ],
)
def test_error_name_never_quotes_what_follows_it(last_error, name):
    assert alerts.error_name(last_error) == name


def test_a_condition_that_raises_leaves_the_others_told(receiver, transactional_db, monkeypatch):
    def boom(now):
        raise RuntimeError("a bad row")

    monkeypatch.setattr(alerts, "flood_wait", boom)
    findings, sent = alerts.check()
    assert "flood_wait:default" not in {f.key for f in findings}
    assert any("heartbeat:dispatcher" in n for n in sent)


@pytest.mark.real_clock
def test_the_watch_loop_notifies_and_stops_on_sigterm(receiver, transactional_db, settings):
    """`manage.py alerts --watch` as compose runs it, on this test's database."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "FOLLOWUPS_ALERT_WEBHOOK_URL": receiver.url,
    }
    watch = subprocess.Popen(
        [sys.executable, "manage.py", "alerts", "--watch", "--interval", "0.2"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: any("heartbeat:dispatcher" in t for t in receiver.texts()), 30)
        beat()
        wait_until(lambda: any("resolved" in t for t in receiver.texts()), 30)
    finally:
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    assert "alerts --watch: stopped" in out
    assert len(receiver.bodies) == 2  # fired once, cleared once, over many checks
    assert SECRET_PATH not in out + err
