"""The Telegram accounts the agency sends from: their sessions (encrypted at rest), their state,
and the per-account settings that override the global ones.

A session stored in the database is encrypted with Fernet under FOLLOWUPS_SESSION_KEY (several
comma-separated keys: the first encrypts, any decrypts, for rotation). The environment-only
setup stores nothing: the `default` account uses TELEGRAM_SESSION (and the workers
TELEGRAM_WORKER_SESSION), as before. A session is never logged and never shown.
"""

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from followups.models import DEFAULT_ACCOUNT, Account, ActionStatus, Prospect, ScheduledAction
from followups.quiet_hours import outside_quiet_hours

log = logging.getLogger(__name__)

# How far on a worker moves a due action of an account that cannot send (paused, needs login)
# that still reached it (a message published before the account stopped); it then waits
# unpublished until the account can send again (sending_only, resume).
HOLD = timedelta(minutes=1)


# The reason recorded (needs_login) for an account whose stored session cannot be decrypted.
UNREADABLE = "SESSION_UNREADABLE"


class SessionKeyError(ImproperlyConfigured):
    """A stored session cannot be read: the key is missing, malformed or not the one it was
    encrypted with. Says which account and which setting, never the key or the session."""


def _fernet(account_name: str) -> MultiFernet:
    keys = [k.strip() for k in settings.FOLLOWUPS_SESSION_KEY.split(",") if k.strip()]
    if not keys:
        raise SessionKeyError(
            f"FOLLOWUPS_SESSION_KEY is not set: it encrypts account {account_name}'s stored session"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise SessionKeyError(
            "FOLLOWUPS_SESSION_KEY is not a Fernet key (32 url-safe base64-encoded bytes; "
            'make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())")'
        ) from None


def encrypt_session(account_name: str, session: str) -> bytes:
    return _fernet(account_name).encrypt(session.encode())


def decrypt_session(account_name: str, token: bytes) -> str:
    try:
        return _fernet(account_name).decrypt(bytes(token)).decode()
    except InvalidToken:
        raise SessionKeyError(
            f"account {account_name}'s stored session does not decrypt with FOLLOWUPS_SESSION_KEY "
            "(a wrong or rotated-out key); set the key it was stored with, or log in again: "
            f"manage.py telegram_login --account {account_name}"
        ) from None


def store_session(account: Account, session: str, user_id: int, username: str) -> None:
    """Keep a fresh login's session (encrypted) and make the account active again."""
    account.session = encrypt_session(account.name, session)
    account.telegram_user_id, account.telegram_username = user_id, username[:64]
    account.state, account.state_reason = Account.State.ACTIVE, ""
    with transaction.atomic():
        account.save()
        resume(account)


def sending_only(actions: QuerySet[ScheduledAction]) -> QuerySet[ScheduledAction]:
    """`actions` without those of the accounts that cannot send (paused, needs login): the
    dispatcher neither publishes them nor marks them missed while they wait. A subquery, so
    that a FOR UPDATE on `actions` locks no prospect."""
    waiting = Prospect.objects.filter(
        account__in=Account.objects.exclude(state=Account.State.ACTIVE).values("pk")
    )
    return actions.exclude(prospect_id__in=waiting.values("pk"))


def resume(account: Account) -> int:
    """The account can send again: its waiting actions that fell due meanwhile are due now
    (or at the end of the client's quiet hours), late rather than missed, and the dispatcher
    publishes them at its next pass. Call in the transaction that makes it active."""
    now = timezone.now()
    waiting = ScheduledAction.objects.filter(
        prospect__account=account, status=ActionStatus.PENDING, scheduled_for__lt=now
    )
    moved = 0
    groups = waiting.order_by().values_list("prospect__time_zone", "client_requested_time")
    for zone, requested in groups.distinct():
        when = outside_quiet_hours(now, account, ZoneInfo(zone), requested)
        moved += waiting.filter(prospect__time_zone=zone, client_requested_time=requested).update(
            scheduled_for=when, enqueued_at=None, updated_at=now
        )
    if moved:
        log.info("account id=%s can send again: %d waiting actions due now", account.pk, moved)
    return moved


def session_of(account: Account, *, for_worker: bool) -> str:
    """The account's session string: the stored one, else (the default account only) the
    environment's. '' when it has none. Raises SessionKeyError when the stored one cannot
    be read."""
    if account.session:
        return decrypt_session(account.name, account.session)
    if account.name != DEFAULT_ACCOUNT:
        return ""
    if for_worker and settings.TELEGRAM_WORKER_SESSION:
        return settings.TELEGRAM_WORKER_SESSION
    return settings.TELEGRAM_SESSION


def session_source(account: Account) -> str:
    """Where the account's session comes from, for staff and the dry run (never the value)."""
    if account.session:
        return "stored (encrypted)"
    if account.name == DEFAULT_ACCOUNT and settings.TELEGRAM_SESSION:
        return "TELEGRAM_SESSION"
    return "none"


def default() -> Account:
    return Account.objects.get_or_create(name=DEFAULT_ACCOUNT)[0]


def get(name: str) -> Account:
    """The account named `name` (the default one is made if missing); ImproperlyConfigured
    for an unknown name."""
    if name == DEFAULT_ACCOUNT:
        return default()
    try:
        return Account.objects.get(name=name)
    except Account.DoesNotExist:
        raise ImproperlyConfigured(f"no account named {name[:64]!r}") from None


def needs_login(account_id: int, reason: str) -> bool:
    """Record that Telegram refused the account's session; True if it was active before (the
    caller logs it once). Its actions wait until it logs in again (sending_only, resume)."""
    changed = (
        Account.objects.filter(pk=account_id)
        .exclude(state=Account.State.NEEDS_LOGIN)
        .update(
            state=Account.State.NEEDS_LOGIN, state_reason=reason[:255], updated_at=timezone.now()
        )
    )
    if changed:
        log.warning("account id=%s needs a new login: %s", account_id, reason[:255])
    return bool(changed)


class StateRefused(Exception):
    """Staff asked for a state the account cannot take from here; the message says why and
    what to do instead."""


def _by(who: str, now: datetime) -> str:
    return f"by {who} at {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def pause(account: Account, who: str) -> bool:
    """Staff stop the account's sends: its due actions wait (unpublished, neither failed nor
    missed) and its listener is no longer served, until it is reactivated. True if it was not paused
    already. One that needs a login may be paused too (a manager who left)."""
    now = timezone.now()
    reason = f"paused {_by(who, now)}"
    changed = (
        Account.objects.filter(pk=account.pk)
        .exclude(state=Account.State.PAUSED)
        .update(state=Account.State.PAUSED, state_reason=reason[:255], updated_at=now)
    )
    if changed:
        log.info("account id=%s paused by staff", account.pk)
    return bool(changed)


def reactivate(account: Account, who: str) -> bool:
    """A paused account sends again: its waiting actions go out (resume). True if it was
    paused; False if it was active already. StateRefused for one that
    needs a login: only a new login clears that."""
    now = timezone.now()
    with transaction.atomic():
        changed = Account.objects.filter(pk=account.pk, state=Account.State.PAUSED).update(
            state=Account.State.ACTIVE,
            state_reason=f"reactivated {_by(who, now)}"[:255],
            updated_at=now,
        )
        if changed:
            resume(account)
    if changed:
        log.info("account id=%s reactivated by staff", account.pk)
        return True
    if Account.objects.filter(pk=account.pk, state=Account.State.NEEDS_LOGIN).exists():
        raise StateRefused(
            f"account {account.name} needs a new login (Telegram refused its session, or it "
            f"cannot be read): only a login makes it active again. Run: "
            f"manage.py telegram_login --account {account.name}"
        )
    return False


def logged_in(account: Account, user_id: int, username: str) -> None:
    """Telegram accepted the session: who it is, and a `needs login` cleared (a paused account
    stays paused: staff paused it)."""
    fields = {"telegram_user_id": user_id, "telegram_username": (username or "")[:64]}
    if account.state == Account.State.NEEDS_LOGIN:
        fields.update(state=Account.State.ACTIVE, state_reason="")
    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(updated_at=timezone.now(), **fields)
        if "state" in fields:
            resume(account)
    for name, value in fields.items():
        setattr(account, name, value)


def time_zone(account: Account | None) -> str:
    """The zone a new client of this account is assumed to be in until they say otherwise."""
    if account is not None and account.default_time_zone:
        return account.default_time_zone
    return settings.FOLLOWUPS_DEFAULT_TZ
