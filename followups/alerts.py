"""Alerts: tell staff when something needs a person, without anyone watching the admin.

Each check reads the rows and the broker (followups.health), decides which conditions fire,
and notifies the configured channels — a Slack-compatible webhook, a staff Telegram chat —
once when a condition starts firing, again at most every FOLLOWUPS_ALERT_RENOTIFY_MIN while it
still does, and once when it clears. A notice no channel took (receiver down, the hour's budget
spent) stays owed and goes at a later check. The state lives in AlertState rows, so a restart,
or `manage.py alerts` from cron, neither repeats nor forgets.

Conditions are keyed `<name>:<account>` where they concern a Telegram account (each account's
conditions read only its own clients' rows). Texts carry counts, ids, times and Telegram's
error names: never a client's words, never a secret (a failed row's error is reduced to its
error name).
"""

import hashlib
import json
import logging
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from followups import accounts, health
from followups.messenger import DEFAULT_ACCOUNT, Recipient, SendError, get_messenger
from followups.models import Account, ActionStatus, AlertState, ScheduledAction

log = logging.getLogger(__name__)

# Telegram's flood and slow-mode waits, as delivery stores them: FLOOD_WAIT_600.
FLOOD_WAIT = re.compile(r"^(?:FLOOD_WAIT|FLOOD_PREMIUM_WAIT|SLOWMODE_WAIT)_(\d+)$")
# The error name at the start of a failed row's reason ("gave up after 4: SEND_TIMEOUT",
# "USER_IS_BLOCKED", "RuntimeError: …"): Telegram's (with an underscore) or an exception
# class's, ending the reason or followed by " (" or ":". Nothing else of a reason is quoted.
ERROR_NAME = re.compile(
    r"^(?:gave up after \d+: )?(?:lookup: )?"
    r"([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Za-z]+Error)(?=$| \(|:)"
)
MAX_IDS = 5  # ids quoted in one alert
MAX_TEXT = 1000
PREFIX = "[followups]"


@dataclass(frozen=True)
class Finding:
    """One condition at one check: firing or not, and a short text saying why."""

    key: str
    firing: bool
    text: str
    value: int | None = None  # what the condition remembers for the next check
    value_at: datetime | None = None


def window() -> timedelta:
    return timedelta(minutes=settings.FOLLOWUPS_ALERT_WINDOW_MIN)


def _ids(qs) -> str:
    ids = [str(pk) for pk in qs.order_by("-updated_at").values_list("pk", flat=True)[:MAX_IDS]]
    return ", ".join(ids)


def error_name(last_error: str) -> str:
    match = ERROR_NAME.match(last_error)
    return match.group(1) if match else "other"


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%H:%M} UTC"


# --- the conditions ---------------------------------------------------------------------------


def _actions(account: Account):
    return ScheduledAction.objects.filter(prospect__account=account)


def send_failures(now: datetime, account: Account) -> Finding:
    limit, minutes = settings.FOLLOWUPS_ALERT_SEND_FAILURES, settings.FOLLOWUPS_ALERT_WINDOW_MIN
    failed = _actions(account).filter(status=ActionStatus.FAILED, updated_at__gte=now - window())
    count = failed.count()
    if count < limit:
        return Finding(
            f"send_failures:{account}", False, f"{count} failed sends in the last {minutes} min"
        )
    names = Counter(error_name(e) for e in failed.values_list("last_error", flat=True)[:500])
    reasons = ", ".join(f"{name} ×{n}" for name, n in names.most_common(5))
    return Finding(
        f"send_failures:{account}",
        True,
        f"{count} sends failed in the last {minutes} min on account {account} "
        f"(limit {limit}): {reasons}; latest ids: {_ids(failed)}",
    )


def session(now: datetime, account: Account) -> Finding:
    """The account needs a new login (Telegram refused its session, or its stored session
    cannot be read): its actions are held until it logs in again."""
    key = f"session:{account.name}"
    if account.state != Account.State.NEEDS_LOGIN:
        return Finding(key, False, f"account {account.name} is {account.get_state_display()}")
    held = _actions(account).filter(status=ActionStatus.PENDING)
    name = error_name(account.state_reason)
    if name == accounts.UNREADABLE:
        what = (
            f"account {account.name}'s stored session cannot be read with "
            "FOLLOWUPS_SESSION_KEY (missing, wrong or rotated out: set the key it was stored "
            "with and restart runbot, or log in again)"
        )
    else:
        what = f"Telegram refuses account {account.name}'s session ({name})"
    return Finding(
        key,
        True,
        f"{what}: {held.count()} pending actions wait until it "
        f"logs in again (manage.py telegram_login --account {account.name}, docs/telegram.md). "
        f"Latest ids: {_ids(held)}",
    )


def flood_wait(now: datetime, account: Account) -> Finding:
    """A flood wait still running that is longer than FOLLOWUPS_ALERT_FLOOD_WAIT_MIN. Delivery
    keeps the wait's name (FLOOD_WAIT_600) on the pending row until it sends it."""
    limit_s = settings.FOLLOWUPS_ALERT_FLOOD_WAIT_MIN * 60
    rows = (
        _actions(account)
        .filter(status=ActionStatus.PENDING, last_error__regex=FLOOD_WAIT.pattern)
        .values_list("pk", "last_error", "updated_at")
    )
    long_waits = []
    for pk, last_error, updated_at in rows:
        seconds = int(FLOOD_WAIT.match(last_error).group(1))
        ends = updated_at + timedelta(seconds=seconds)
        if seconds > limit_s and ends > now:
            long_waits.append((ends, seconds, pk))
    if not long_waits:
        return Finding(f"flood_wait:{account}", False, "no flood wait longer than the limit")
    ends, seconds, _ = max(long_waits)
    ids = ", ".join(str(pk) for *_, pk in sorted(long_waits, reverse=True)[:MAX_IDS])
    return Finding(
        f"flood_wait:{account}",
        True,
        f"Telegram flood wait of {seconds // 60} min on account {account} (limit "
        f"{limit_s // 60} min), until {_at(ends)}; {len(long_waits)} actions waiting: {ids}",
    )


def heartbeat(snap: health.Snapshot) -> Finding:
    limit = settings.FOLLOWUPS_ALERT_HEARTBEAT_STALE_S
    age = snap.heartbeat_age_s
    if age is not None and age <= limit:
        return Finding("heartbeat:dispatcher", False, f"dispatcher heartbeat {age:.0f} s old")
    said = "has never beaten" if age is None else f"heartbeat is {age:.0f} s old"
    return Finding(
        "heartbeat:dispatcher",
        True,
        f"the dispatcher {said} (limit {limit} s): nothing new is enqueued and no overdue "
        "action is marked missed until it runs (`manage.py reconcile --watch`)",
    )


def missed(now: datetime) -> Finding:
    minutes = settings.FOLLOWUPS_ALERT_WINDOW_MIN
    rows = ScheduledAction.objects.filter(
        status=ActionStatus.MISSED, updated_at__gte=now - window()
    )
    count = rows.count()
    if count < settings.FOLLOWUPS_ALERT_MISSED:
        return Finding("missed", False, f"{count} actions marked missed in the last {minutes} min")
    return Finding(
        "missed",
        True,
        f"{count} actions marked missed (overdue beyond grace, not sent) in the last {minutes} "
        f"min; see the admin's missed list. Latest ids: {_ids(rows)}",
    )


def dead_letters(snap: health.Snapshot, state: AlertState | None) -> Finding | None:
    """The dead-letter queue grew within the window (None when the broker did not answer).
    The depth seen at the last check and the time it last grew are kept in the state row; a
    queue already holding messages at the first check counts as grown."""
    if snap.queues is None:
        return None
    key = f"dead_letter:{settings.FOLLOWUPS_QUEUE}"
    depth = snap.queues["dead_letter"]
    before = state.value if state is not None and state.value is not None else 0
    grew_at = state.value_at if state is not None else None
    if depth > before:
        grew_at = snap.now
    if grew_at is None or snap.now - grew_at >= window():
        text = f"no new dead letters for {settings.FOLLOWUPS_ALERT_WINDOW_MIN} min ({depth} held)"
        return Finding(key, False, text, depth, grew_at)
    return Finding(
        key,
        True,
        f"dead-letter queue of {settings.FOLLOWUPS_QUEUE} holds {depth} messages, last grew at "
        f"{_at(grew_at)}: deliveries that failed every try; the rows are still the truth "
        "(the dispatcher re-publishes), but the cause wants a look (RabbitMQ UI, worker logs)",
        depth,
        grew_at,
    )


def broker(snap: health.Snapshot) -> Finding:
    if snap.queues is not None:
        return Finding("broker", False, "the broker answers")
    return Finding("broker", True, f"the broker does not answer ({snap.broker_error})")


def evaluate(now: datetime | None = None) -> list[Finding]:
    """Every condition, as of now. One that raises is logged and left out (its state row
    is untouched): the others are still told."""
    snap = health.snapshot()
    now = now or snap.now
    dlq_key = f"dead_letter:{settings.FOLLOWUPS_QUEUE}"
    conditions = [
        lambda: heartbeat(snap),
        lambda: missed(now),
        lambda: broker(snap),
        lambda: dead_letters(snap, AlertState.objects.filter(key=dlq_key).first()),
    ]
    for account in Account.objects.order_by("name"):
        conditions += [
            lambda a=account: send_failures(now, a),
            lambda a=account: session(now, a),
            lambda a=account: flood_wait(now, a),
        ]
    found = []
    for condition in conditions:
        try:
            finding = condition()
        except Exception:
            log.exception("an alert condition could not be evaluated")
            continue
        if finding is not None:
            found.append(finding)
    return found


# --- the channels -----------------------------------------------------------------------------


def redact(url: str) -> str:
    """A webhook URL's path and query are its credential: only scheme and host are shown."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


class Channel:
    """Where notices go. One instance per check: a channel that failed once is left alone for
    the rest of the check (no storm of timeouts), and tried again at the next."""

    name = ""

    def __init__(self):
        self.down = False

    def send(self, text: str, random_id: int) -> bool:
        problem = self._deliver(text, random_id)
        if problem:
            self.down = True
            log.warning("alert channel %s failed: %s", self.describe(), problem)
        return not problem

    def describe(self) -> str:
        return self.name

    def _deliver(self, text: str, random_id: int) -> str:
        """Send; '' when done, else a short description of what went wrong (no secret)."""
        raise NotImplementedError


class Webhook(Channel):
    """POST {"text": …} to a Slack-compatible incoming webhook: one try, with a timeout."""

    name = "webhook"

    def __init__(self, url: str, timeout_s: float):
        super().__init__()
        self._url = url
        self._timeout_s = timeout_s

    def describe(self) -> str:
        return f"webhook {redact(self._url)}"

    def _deliver(self, text: str, random_id: int) -> str:
        body = json.dumps({"text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        # Never str(exc): some carry the URL, which is the secret.
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            return type(exc.reason).__name__
        except (OSError, ValueError) as exc:  # a timeout while reading, a malformed URL
            return type(exc).__name__
        return ""


class TelegramChat(Channel):
    """A staff member's chat, written to through the product's messenger from `account`."""

    name = "telegram"

    def __init__(self, chat_id: int, username: str = "", account: str = DEFAULT_ACCOUNT):
        super().__init__()
        self._recipient = Recipient(chat_id, username=username, account=account)

    def describe(self) -> str:
        return f"telegram (from account {self._recipient.account})"

    def _deliver(self, text: str, random_id: int) -> str:
        try:
            get_messenger().send(self._recipient, text, random_id)
        except SendError as exc:
            return exc.reason
        except Exception as exc:  # the messenger is unusable (no session): the webhook may not be
            return type(exc).__name__
        return ""


def channels() -> list[Channel]:
    """The configured channels, fresh for one check. ImproperlyConfigured when the Telegram
    chat is set and FOLLOWUPS_ALERT_ACCOUNT names no account."""
    found: list[Channel] = []
    if settings.FOLLOWUPS_ALERT_WEBHOOK_URL:
        url, timeout_s = (
            settings.FOLLOWUPS_ALERT_WEBHOOK_URL,
            settings.FOLLOWUPS_ALERT_WEBHOOK_TIMEOUT_S,
        )
        found.append(Webhook(url, timeout_s))
    if settings.FOLLOWUPS_ALERT_TELEGRAM_CHAT:
        chat, username = (
            settings.FOLLOWUPS_ALERT_TELEGRAM_CHAT,
            settings.FOLLOWUPS_ALERT_TELEGRAM_USERNAME,
        )
        found.append(TelegramChat(chat, username, _alert_account()))
    return found


def _alert_account() -> str:
    name = settings.FOLLOWUPS_ALERT_ACCOUNT
    if name != DEFAULT_ACCOUNT and not Account.objects.filter(name=name).exists():
        known = ", ".join(Account.objects.order_by("name").values_list("name", flat=True)[:20])
        raise ImproperlyConfigured(
            f"FOLLOWUPS_ALERT_ACCOUNT={name}: no account of that name writes to the alert "
            f"chat (accounts: {known or 'none yet'}); log it in with manage.py telegram_login "
            f"--account {name}, or name another"
        )
    return name


def _send_within_budget(channel: Channel, text: str, random_id: int, now: datetime) -> bool:
    """Send through `channel` if its hourly budget allows; only a notice it took is counted.
    The budget row stays locked during the send, so two checks at once share one budget."""
    limit = settings.FOLLOWUPS_ALERT_MAX_PER_HOUR
    with transaction.atomic():
        budget, _ = AlertState.objects.select_for_update().get_or_create(
            key=f"channel:{channel.name}", defaults={"value": 0, "value_at": now}
        )
        if budget.value_at is None or now - budget.value_at >= timedelta(hours=1):
            budget.value, budget.value_at = 0, now
        if budget.value > limit:
            return False
        if budget.value == limit:
            log.warning(
                "alert channel %s: %d notices this hour, the limit; the rest wait until %s",
                channel.name,
                limit,
                _at(budget.value_at + timedelta(hours=1)),
            )
            sent = False
        else:
            sent = channel.send(text, random_id)
        if sent or budget.value == limit:  # one over the limit: the warning is said once
            budget.value += 1
            budget.save(update_fields=["value", "value_at", "updated_at"])
        return sent


def _notify(text: str, random_id: int, now: datetime, targets: list[Channel]) -> bool:
    """Send to every channel that is up and has budget left. True when one took it, or none
    is configured (the log line is then the notice)."""
    if not targets:
        return True
    delivered = False
    for channel in targets:
        if not channel.down and _send_within_budget(channel, text, random_id, now):
            delivered = True
    return delivered


def _random_id(*parts: object) -> int:
    """The Telegram idempotency key of one notice: a retried notice is the same message."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _minutes(delta: timedelta) -> str:
    return f"{max(1, round(delta.total_seconds() / 60))} min"


# --- the state machine ------------------------------------------------------------------------


def _notice(finding: Finding, state: AlertState, now: datetime) -> tuple[str, tuple] | None:
    """Update `state` with `finding`; the notice it calls for and its identity, or None."""
    if finding.firing:
        if not state.firing:  # a new episode
            state.firing, state.since, state.notified_at = True, now, None
            state.clear_owed = False
            log.warning("alert firing %s: %s", finding.key, finding.text)
        state.text = finding.text[:500]
        identity = ("fire", state.since, state.notified_at)
        if state.notified_at is None:
            return f"{PREFIX} 🔴 {finding.key}: {finding.text}", identity
        if now - state.notified_at >= timedelta(minutes=settings.FOLLOWUPS_ALERT_RENOTIFY_MIN):
            since = _minutes(now - state.since)
            return f"{PREFIX} 🔴 still firing for {since}, {finding.key}: {finding.text}", identity
        return None
    if state.firing:
        state.firing, state.cleared_at, state.clear_owed = False, now, True
        log.warning("alert cleared %s: %s", finding.key, finding.text)
    if not state.clear_owed:
        return None
    lasted = _minutes(state.cleared_at - state.since)
    # Staff never heard of it firing (no channel took it): say what it was.
    was = f" (was: {state.text})" if state.notified_at is None else ""
    text = f"{PREFIX} ✅ {finding.key} resolved after {lasted}: {finding.text}{was}"
    return text, ("clear", state.since, state.cleared_at)


def apply(finding: Finding, now: datetime, targets: list[Channel]) -> str | None:
    """Record one finding in its state row and send the notice it calls for, if any (under
    the row's lock: two checks at once do not both send it). Returns the notice sent."""
    with transaction.atomic():
        state, _ = AlertState.objects.select_for_update().get_or_create(key=finding.key)
        state.value, state.value_at = finding.value, finding.value_at
        due = _notice(finding, state, now)
        delivered = False
        if due is not None:
            text, identity = due[0][:MAX_TEXT], due[1]
            delivered = _notify(text, _random_id(finding.key, *identity), now, targets)
            if delivered and finding.firing:
                state.notified_at = now
            elif delivered:
                state.clear_owed = False
        state.save()
    return text if delivered else None


def check(now: datetime | None = None) -> tuple[list[Finding], list[str]]:
    """One check: every condition evaluated and applied. Returns the findings and the notices
    sent. One condition's trouble (a bad row, a channel raising) does not stop the others."""
    findings = evaluate(now)
    now = now or timezone.now()
    targets = channels()
    sent = []
    for finding in findings:
        try:
            notice = apply(finding, now, targets)
        except Exception:
            log.exception("alert %s could not be processed", finding.key)
            continue
        if notice is not None:
            sent.append(notice)
    return findings, sent
