"""Several Telegram accounts (docs/design.md, "Accounts and staff"): sessions encrypted at rest, a
client per account, sends from the client's own account under its own cap, a revoked session holding
only its account."""

import asyncio
from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from telethon import errors

from bot import conversation, listener
from bot.conversation import Incoming
from bot.management.commands import runbot
from bot.telegram import TelethonMessenger, classify
from followups import accounts, alerts, delivery, dispatcher, quiet_hours, services
from followups.messenger import AccountUnusable, Recipient, TransientSendError
from followups.models import (
    DEFAULT_ACCOUNT,
    Account,
    ActionStatus,
    ActionType,
    Message,
    Prospect,
    ScheduledAction,
    SendRate,
)
from followups.roles import HEAD_OF_SALES, OPERATORS, VIEWERS
from tests.conftest import DEFAULT_DAY, client_time, wait_until
from tests.telegram_fakes import (
    FakeTelegramClient,
    make_user,
    new_message,
    private_message,
    session_string,
)
from tests.test_access import logged_in
from tests.test_admin import staff

REQUEST = object()


@pytest.fixture
def key(settings) -> str:
    settings.FOLLOWUPS_SESSION_KEY = Fernet.generate_key().decode()
    return settings.FOLLOWUPS_SESSION_KEY


@pytest.fixture
def two(db):
    """The default account and a second manager's."""
    return accounts.default(), Account.objects.create(name="anna")


def follow_up(prospect: Prospect, text: str, seconds: float = 0.5) -> ScheduledAction:
    return services.schedule_action(
        prospect,
        ActionType.FOLLOW_UP,
        timezone.now() + timedelta(seconds=seconds),
        payload={"message_template": text},
    )


def due(*actions: ScheduledAction) -> list:
    ScheduledAction.objects.filter(pk__in=[a.pk for a in actions]).update(
        scheduled_for=timezone.now()
    )
    return [a.pk for a in actions]


# --- sessions at rest ---------------------------------------------------------------------------


def test_a_stored_session_is_encrypted_and_reads_back(key, db):
    session = session_string()
    account = Account.objects.create(name="anna")
    accounts.store_session(account, session, 4242, "anna_sales")
    raw = bytes(Account.objects.get(name="anna").session)
    assert session.encode() not in raw and session[10:40].encode() not in raw
    fresh = Account.objects.get(name="anna")
    assert accounts.session_of(fresh, for_worker=True) == session
    assert (fresh.telegram_user_id, fresh.state) == (4242, Account.State.ACTIVE)


def test_a_wrong_or_missing_key_is_a_clear_error_without_the_session(key, settings, db):
    session = session_string()
    account = Account.objects.create(name="anna")
    accounts.store_session(account, session, 1, "")
    settings.FOLLOWUPS_SESSION_KEY = Fernet.generate_key().decode()
    with pytest.raises(accounts.SessionKeyError, match="does not decrypt") as wrong:
        accounts.session_of(account, for_worker=False)
    settings.FOLLOWUPS_SESSION_KEY = ""
    with pytest.raises(accounts.SessionKeyError, match="FOLLOWUPS_SESSION_KEY is not set") as none:
        accounts.session_of(account, for_worker=False)
    settings.FOLLOWUPS_SESSION_KEY = "not-a-key"
    with pytest.raises(accounts.SessionKeyError, match="not a Fernet key") as bad:
        accounts.session_of(account, for_worker=False)
    for caught in (wrong, none, bad):
        assert session not in str(caught.value)
    assert wrong.value.__suppress_context__  # Fernet's own error is not chained


def test_keys_rotate_the_first_encrypts_any_decrypts(key, settings, db):
    account = Account.objects.create(name="anna")
    accounts.store_session(account, "old-session", 1, "")
    settings.FOLLOWUPS_SESSION_KEY = f"{Fernet.generate_key().decode()},{key}"
    assert accounts.session_of(account, for_worker=False) == "old-session"


def test_the_environment_only_setup_is_the_default_account(settings, db):
    """Existing deployments: no stored session, TELEGRAM_SESSION is the default account's, and
    a client made without naming an account belongs to it."""
    settings.TELEGRAM_SESSION, settings.TELEGRAM_WORKER_SESSION = "listener", "worker"
    default = accounts.default()
    assert accounts.session_of(default, for_worker=False) == "listener"
    assert accounts.session_of(default, for_worker=True) == "worker"
    assert accounts.session_source(default) == "TELEGRAM_SESSION"
    assert Prospect.objects.create(telegram_id=5).account == default
    other = Account.objects.create(name="anna")
    assert accounts.session_of(other, for_worker=False) == ""


def test_runbot_dry_run_checks_every_account_it_would_serve(key, settings, db):
    settings.TELEGRAM_API_ID, settings.TELEGRAM_API_HASH = 1, "hash"
    settings.TELEGRAM_SESSION = env = session_string()
    stored = session_string()
    accounts.store_session(Account.objects.create(name="anna"), stored, 7, "")
    Account.objects.create(name="boris", state=Account.State.PAUSED, session=b"x")
    assert [a.name for a in runbot.to_serve(None)] == [DEFAULT_ACCOUNT, "anna"]
    out = StringIO()
    call_command("runbot", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "accounts: default, anna" in text and "account anna: ok" in text
    assert env not in text and stored not in text
    settings.FOLLOWUPS_SESSION_KEY = Fernet.generate_key().decode()
    out = StringIO()
    with pytest.raises(CommandError, match=r"account anna: .*does not decrypt"):
        call_command("runbot", "--dry-run", "--account", "anna", stdout=out)
    with pytest.raises(CommandError, match="account boris is paused"):
        call_command("runbot", "--dry-run", "--account", "boris", stdout=StringIO())


def test_telegram_login_refuses_a_bad_name_or_no_key_before_asking(settings, db):
    settings.TELEGRAM_API_ID, settings.TELEGRAM_API_HASH = 1, "hash"
    settings.FOLLOWUPS_SESSION_KEY = ""
    with pytest.raises(CommandError, match="FOLLOWUPS_SESSION_KEY is not set"):
        call_command("telegram_login", "--account", "anna")
    settings.FOLLOWUPS_SESSION_KEY = Fernet.generate_key().decode()
    with pytest.raises(CommandError, match="at most 64 letters"):
        call_command("telegram_login", "--account", "anna\x00; drop")
    assert not Account.objects.filter(name="anna").exists()


# --- a client per account -----------------------------------------------------------------------


def incoming(account: str, text: str, message_id: int) -> Incoming:
    return Incoming(
        telegram_id=4242,
        access_hash=1,
        username="ivan",
        display_name="Ivan",
        language_code="",
        message_id=message_id,
        at=timezone.now(),
        text=text,
        account=account,
    )


def test_one_telegram_user_writing_to_two_accounts_is_two_clients(two, settings):
    anna = two[1]
    anna.default_time_zone = "Europe/Moscow"
    anna.save()
    conversation.handle_incoming(incoming(DEFAULT_ACCOUNT, "Здравствуйте", 1))
    conversation.handle_incoming(incoming("anna", "Hello there", 1))
    ours, hers = (Prospect.objects.get(account=a, telegram_id=4242) for a in two)
    assert ours.pk != hers.pk
    assert (ours.time_zone, hers.time_zone) == (settings.FOLLOWUPS_DEFAULT_TZ, "Europe/Moscow")
    assert conversation.is_stored("anna", 4242, 1) and conversation.is_stored(
        DEFAULT_ACCOUNT, 4242, 1
    )
    assert not conversation.is_stored("anna", 4242, 2)
    conversation.record_outgoing("anna", 4242, "Hi!", 9, timezone.now())
    assert list(hers.messages.values_list("text", flat=True).order_by("sent_at"))[-1] == "Hi!"
    assert not ours.messages.filter(text="Hi!").exists()


def test_listeners_of_two_accounts_file_each_message_under_its_own(two, transactional_db):
    """Two listeners in one loop, as runbot runs them: the same sender's messages reach two
    different clients, and each reply is recorded on its own account's client."""

    async def scenario():
        clients = {name: FakeTelegramClient() for name in (DEFAULT_ACCOUNT, "anna")}
        for name, client in clients.items():
            listener.Listener(client, account=name).register()
        sender = make_user(4242)
        await clients[DEFAULT_ACCOUNT].dispatch(
            new_message(private_message(sender, "Добрый день", msg_id=11)), [sender]
        )
        await clients["anna"].dispatch(
            new_message(private_message(sender, "Hello", msg_id=12)), [sender]
        )
        return clients

    clients = asyncio.run(scenario())
    assert len(clients[DEFAULT_ACCOUNT].sent) == len(clients["anna"].sent) == 1
    ours, hers = (Prospect.objects.get(account=a, telegram_id=4242) for a in two)
    assert list(ours.messages.values_list("telegram_message_id", flat=True)).count(11) == 1
    assert not ours.messages.filter(telegram_message_id=12).exists()
    assert hers.messages.filter(
        direction=Message.Direction.INBOUND, telegram_message_id=12
    ).exists()
    assert hers.messages.filter(direction=Message.Direction.OUTBOUND).count() == 1


# --- sends from the client's own account ------------------------------------------------------


def test_each_send_goes_from_the_clients_own_account(two, messenger, broker):
    default, anna = two
    ours = Prospect.objects.create(telegram_id=4242, account=default)
    hers = Prospect.objects.create(telegram_id=4242, account=anna)
    a, b = follow_up(ours, "from default"), follow_up(hers, "from anna")
    delivery.deliver(due(a, b))
    assert messenger.to(4242, DEFAULT_ACCOUNT) == ["from default"]
    assert messenger.to(4242, "anna") == ["from anna"]


def test_each_account_has_its_own_cap(transactional_db, two, messenger, broker, settings):
    """Anna's backlog (next slot 30 s away) defers her send; the default account's goes now."""
    # transactional_db: the send slots are reserved in a durable transaction (ratelimit).
    settings.FOLLOWUPS_SEND_RATE_PER_MINUTE = 60
    default, anna = two
    anna.send_rate_per_minute = 2
    anna.save()
    SendRate.objects.create(account="anna", next_free_at=timezone.now() + timedelta(seconds=30))
    ours = Prospect.objects.create(telegram_id=1, account=default)
    hers = Prospect.objects.create(telegram_id=2, account=anna)
    a, b, c = follow_up(ours, "a"), follow_up(hers, "b"), follow_up(hers, "c")
    report = delivery.deliver(due(a, b, c))
    assert report.sent == [a.pk] and set(report.deferred) == {b.pk, c.pk}
    b.refresh_from_db(), c.refresh_from_db()
    # Anna's own cap: 2 a minute, a slot every 30 s, starting at her row's next free slot.
    assert c.rate_slot_at - b.rate_slot_at == timedelta(seconds=30)
    assert SendRate.objects.get(account=DEFAULT_ACCOUNT).next_free_at > timezone.now()


@pytest.mark.services
def test_a_burst_on_two_accounts_through_workers_each_at_its_own_cap(two, worker, messenger):
    """8 follow-ups each, due at one instant in one batch (a bulk schedule publishes them
    together), on caps of 120 and 150 a minute: each account's k-th send goes out at its own
    k-th slot (the instant + k × its interval), none early, none kept waiting by the other
    account's sends or deferrals (the rows beyond 2 s go back to pending together)."""
    steps = {DEFAULT_ACCOUNT: 0.5, "anna": 0.4}
    for account, step in zip(two, steps.values(), strict=True):
        account.send_rate_per_minute = round(60 / step)
        account.save()
    at = timezone.now() + timedelta(seconds=1.5)
    services.schedule_actions(
        [
            services.NewAction(
                Prospect.objects.create(telegram_id=100 + i, account=account).pk,
                at,
                payload={"message_template": "x"},
            )
            for i in range(8)
            for account in two
        ]
    )
    wait_until(lambda: len(messenger.delivered) == 16, timeout=20)
    for name, step in steps.items():
        sent = sorted(d.at for d in messenger.delivered if d.account == name)
        behind = [(t - at).total_seconds() - k * step for k, t in enumerate(sent)]
        assert all(-0.05 < b < 0.35 for b in behind), (name, behind)


def test_a_revoked_session_holds_only_its_own_accounts_actions(two, key, messenger, broker, clock):
    default, anna = two
    ours = Prospect.objects.create(telegram_id=1, account=default)
    hers = Prospect.objects.create(telegram_id=2, account=anna)
    first, second = follow_up(hers, "one"), follow_up(hers, "two")
    mine = follow_up(ours, "mine")
    messenger.fail_next(classify(errors.AuthKeyUnregisteredError(REQUEST)))
    report = delivery.deliver(due(first, second))
    assert set(report.deferred) == {first.pk, second.pk} and not report.failed
    anna.refresh_from_db()
    assert anna.state == Account.State.NEEDS_LOGIN and "AUTH_KEY_UNREGISTERED" in anna.state_reason
    for action in (first, second):
        action.refresh_from_db()
        assert (action.status, action.attempts) == (ActionStatus.PENDING, 0)
        assert action.scheduled_for > timezone.now()
    # The other account is untouched; Anna's alert fires, the default account's does not.
    assert delivery.deliver(due(mine)).sent == [mine.pk]
    found = {f.key: f for f in alerts.evaluate()}
    assert found["session:anna"].firing and "2 pending actions wait" in found["session:anna"].text
    assert not found[f"session:{DEFAULT_ACCOUNT}"].firing
    # Still held while she needs a login, without asking Telegram; sent once she is back.
    clock.shift(accounts.HOLD + timedelta(seconds=1))
    assert set(delivery.deliver([first.pk, second.pk]).deferred) == {first.pk, second.pk}
    assert messenger.to(2) == []
    accounts.store_session(anna, "new", 7, "")  # telegram_login --account anna
    clock.shift(accounts.HOLD + timedelta(seconds=1))
    assert set(delivery.deliver([first.pk, second.pk]).sent) == {first.pk, second.pk}
    assert messenger.to(2, "anna") == ["one", "two"]
    assert not next(f for f in alerts.evaluate() if f.key == "session:anna").firing


def test_a_flood_wait_stops_only_its_accounts_sends(two, messenger, broker):
    default, anna = two
    hers = [Prospect.objects.create(telegram_id=i, account=anna) for i in (1, 2)]
    ours = Prospect.objects.create(telegram_id=3, account=default)
    waits = [follow_up(p, "x") for p in hers]
    mine = follow_up(ours, "mine")
    messenger.fail_next(TransientSendError("FLOOD_WAIT_30", retry_after_s=30))
    report = delivery.deliver(due(*waits, mine))
    assert report.sent == [mine.pk] and set(report.retried) == {w.pk for w in waits}
    assert messenger.to(3) == ["mine"]
    for action in waits:
        action.refresh_from_db()
        assert action.last_error == "FLOOD_WAIT_30" and action.attempts == 0


def test_per_account_quiet_hours(two, settings):
    settings.FOLLOWUPS_QUIET_HOURS = "21:00-09:00"
    default, anna = two
    anna.quiet_hours = "off"
    anna.save()
    late = timezone.now().replace(hour=14)  # 22:00 in the client's zone (UTC+8)
    ours = Prospect.objects.create(telegram_id=1, account=default)
    hers = Prospect.objects.create(telegram_id=2, account=anna)
    assert quiet_hours.respect_quiet_hours(late, hers, False) == late
    assert quiet_hours.respect_quiet_hours(late, ours, False) > late


def test_the_messenger_keeps_a_client_per_account_and_drops_a_refused_one(two, transactional_db):
    refused = FakeTelegramClient(authorized=False)
    messenger = TelethonMessenger(client=FakeTelegramClient(), timeout_s=5)
    messenger._clients["anna"] = refused
    with pytest.raises(AccountUnusable, match="TELEGRAM_NOT_AUTHORIZED"):
        messenger.send(Recipient(1, access_hash=2, account="anna"), "hi", 1)
    assert "anna" not in messenger._clients and DEFAULT_ACCOUNT in messenger._clients
    # Rebuilt from the account's session: it has none, which is said, not a crash.
    with pytest.raises(AccountUnusable, match="SESSION_UNUSABLE"):
        messenger.send(Recipient(1, access_hash=2, account="anna"), "hi", 1)


# --- a stored session that does not decrypt -----------------------------------------------------


def test_runbot_serves_the_others_when_one_stored_session_does_not_decrypt(
    key, settings, db, monkeypatch, caplog
):
    """A wrong FOLLOWUPS_SESSION_KEY for one account: `runbot` (all) serves the others, logs the
    broken one by name (never the key or the session), its alert fires; `runbot --account` for
    it exits non-zero saying why."""
    settings.TELEGRAM_API_ID, settings.TELEGRAM_API_HASH, settings.TELEGRAM_SESSION = 1, "h", ""
    good, bad = session_string(), session_string()
    accounts.store_session(Account.objects.create(name="anna"), good, 7, "")
    settings.FOLLOWUPS_SESSION_KEY = other_key = Fernet.generate_key().decode()
    accounts.store_session(Account.objects.create(name="boris"), bad, 8, "")
    settings.FOLLOWUPS_SESSION_KEY = key  # boris's was stored under another key
    served = []

    async def listen(client, stop, *, account):
        served.append(account)

    monkeypatch.setattr(listener, "run", listen)
    out = StringIO()
    call_command("runbot", stdout=out)
    assert served == ["anna"] and "runbot: stopped" in out.getvalue()
    boris = Account.objects.get(name="boris")
    assert boris.state == Account.State.NEEDS_LOGIN
    assert boris.state_reason.startswith(f"{accounts.UNREADABLE}: account boris's stored session")
    assert "account boris not served" in caplog.text
    for secret in (good, bad, key, other_key):
        assert secret not in caplog.text and secret not in boris.state_reason
    found = {f.key: f for f in alerts.evaluate()}
    assert found["session:boris"].firing and "cannot be read" in found["session:boris"].text
    assert not found["session:anna"].firing
    with pytest.raises(CommandError, match="account boris's stored session does not decrypt"):
        call_command("runbot", "--account", "boris", stdout=StringIO())
    # The right key back: the listener serves it, and its login clears `needs login`.
    settings.FOLLOWUPS_SESSION_KEY = f"{key},{other_key}"
    served.clear()
    call_command("runbot", stdout=StringIO())
    assert sorted(served) == ["anna", "boris"]


# --- staff pause and reactivate an account ------------------------------------------------------


def test_an_operator_pauses_and_reactivates_their_account_its_actions_wait_then_go(
    two, messenger, broker, clock
):
    anna = two[1]
    operator = logged_in(staff("anna-op", OPERATORS, [anna]))
    hers = Prospect.objects.create(telegram_id=2, account=anna)
    action, other = follow_up(hers, "hello"), follow_up(Prospect.objects.create(telegram_id=3), "x")
    page = reverse("admin:followups_account_change", args=[anna.pk])
    assert "Pause…" in operator.get(page).content.decode()
    pause = reverse("admin:followups_account_pause", args=[anna.pk])
    assert "its 1 pending actions wait" in operator.get(pause).content.decode()
    assert operator.post(pause).status_code == 302
    anna.refresh_from_db()
    assert anna.state == Account.State.PAUSED
    assert anna.state_reason.startswith("paused by anna-op at 2026-11-18 ")
    # A message published before the pause: held, not sent, not republished; the other
    # account sends.
    assert delivery.deliver(due(action, other)).sent == [other.pk]
    # Hours paused, beyond the missed grace (1 h) of its due time: the dispatcher neither
    # publishes it nor marks it missed, and nothing cycles.
    for _ in range(6):
        clock.shift(timedelta(minutes=30))
        dispatcher.reconcile(force=False, clean=False)
        action.refresh_from_db()
        assert (action.status, action.enqueued_at, action.attempts) == (
            ActionStatus.PENDING, None, 0
        )  # fmt: skip
    assert messenger.to(2) == []
    assert "Reactivate…" in operator.get(page).content.decode()
    changelist = reverse("admin:followups_account_changelist")
    done = operator.post(
        changelist, {"action": "reactivate_selected", "_selected_action": [anna.pk]}, follow=True
    )
    assert "Reactivated account anna" in done.content.decode()
    anna.refresh_from_db()
    assert anna.state == Account.State.ACTIVE and "reactivated by anna-op" in anna.state_reason
    # Due now, late rather than missed; the dispatcher's next pass publishes it.
    action.refresh_from_db()
    assert abs(action.scheduled_for - timezone.now()) < timedelta(seconds=5)
    dispatcher.reconcile(force=False, clean=False)
    action.refresh_from_db()
    assert action.status == ActionStatus.PENDING and action.enqueued_at is not None
    assert delivery.deliver([action.pk]).sent == [action.pk]
    assert messenger.to(2, "anna") == ["hello"]


@pytest.mark.clock("22:00")
def test_waiting_actions_go_out_after_the_quiet_hours_once_the_account_is_back(two, settings, key):
    settings.FOLLOWUPS_QUIET_HOURS = "21:00-09:00"
    anna = two[1]
    hers = Prospect.objects.create(telegram_id=2, account=anna)
    quiet, asked = follow_up(hers, "a"), follow_up(hers, "b")
    ScheduledAction.objects.filter(pk__in=[quiet.pk, asked.pk]).update(
        scheduled_for=timezone.now() - timedelta(hours=5)
    )
    ScheduledAction.objects.filter(pk=asked.pk).update(client_requested_time=True)
    accounts.needs_login(anna.pk, "AUTH_KEY_UNREGISTERED")
    assert dispatcher.mark_missed() == 0  # waiting, not missed
    accounts.store_session(anna, "new", 7, "")  # telegram_login --account anna
    quiet.refresh_from_db(), asked.refresh_from_db()
    assert quiet.scheduled_for == client_time("09:00", DEFAULT_DAY + timedelta(days=1))
    assert abs(asked.scheduled_for - timezone.now()) < timedelta(seconds=5)


def test_an_account_that_needs_a_login_is_not_reactivated_by_staff(two, key):
    anna = two[1]
    accounts.needs_login(anna.pk, "AUTH_KEY_UNREGISTERED")
    head = logged_in(staff("head", HEAD_OF_SALES, []))
    url = reverse("admin:followups_account_reactivate", args=[anna.pk])
    assert "telegram_login --account anna" in head.get(url).content.decode()
    page = head.post(url, follow=True).content.decode()
    assert "only a login makes it active again" in page
    assert "manage.py telegram_login --account anna" in page
    anna.refresh_from_db()
    assert anna.state == Account.State.NEEDS_LOGIN
    # A login does: telegram_login stores the new session.
    accounts.store_session(anna, "new", 7, "")
    anna.refresh_from_db()
    assert anna.state == Account.State.ACTIVE


def test_pausing_is_for_operators_of_the_account_and_the_head_of_sales(two):
    default, anna = two
    operator = logged_in(staff("anna-op", OPERATORS, [anna]))
    viewer = logged_in(staff("anna-viewer", VIEWERS, [anna]))
    head = logged_in(staff("head", HEAD_OF_SALES, []))
    theirs = reverse("admin:followups_account_pause", args=[default.pk])
    assert operator.get(theirs).status_code == operator.post(theirs).status_code == 404
    changelist = reverse("admin:followups_account_changelist")
    operator.post(changelist, {"action": "pause_selected", "_selected_action": [default.pk]})
    mine = reverse("admin:followups_account_pause", args=[anna.pk])
    assert viewer.post(mine).status_code == 403
    assert "pause_selected" not in viewer.get(changelist).content.decode()
    assert (
        "Pause…"
        not in viewer.get(
            reverse("admin:followups_account_change", args=[anna.pk])
        ).content.decode()
    )
    assert set(Account.objects.values_list("state", flat=True)) == {Account.State.ACTIVE}
    assert head.post(theirs).status_code == 302
    default.refresh_from_db()
    assert default.state == Account.State.PAUSED and "paused by head" in default.state_reason
