"""Delivering due actions: claim, re-check, send, record.

Many actions are claimed in one statement; each is then re-checked and sent on its own,
idempotently (DESIGN, invariants 2-4):

- the claim is a compare-and-set from `pending` with a fresh token; only the token's holder
  records a result, so a redelivered message, a second worker or a released claim cannot
  record twice or resurrect a cancelled row;
- the prospect row is locked during the re-check and the send, so a client message arriving
  at the same instant either lands before the re-check (and the follow-up is dropped) or
  after the send;
- the send carries a random_id derived from the action id: a retry after a crash between
  the send and the record reaches the client once.
"""

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from followups import dispatcher, ratelimit, texts
from followups.messenger import (
    PermanentSendError,
    Recipient,
    SendError,
    TransientSendError,
    get_messenger,
)
from followups.models import (
    ActionStatus,
    ActionType,
    Meeting,
    Message,
    Prospect,
    ScheduledAction,
)
from followups.services import quiet_hours

log = logging.getLogger(__name__)

SENDING = ActionStatus.SENDING
# A message may fire a little before its rows' due time (clock skew between hosts).
EARLY_TOLERANCE = timedelta(milliseconds=500)
MAX_ERROR_LENGTH = 500
# A send slot (rate cap) at most this far away is waited for; a later one is kept for later.
MAX_SLOT_WAIT = timedelta(seconds=2)


@dataclass
class DeliveryReport:
    sent: list[uuid.UUID] = field(default_factory=list)
    skipped: list[uuid.UUID] = field(default_factory=list)
    retried: list[uuid.UUID] = field(default_factory=list)
    deferred: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    missed: int = 0


def parse_ids(raw_ids: object) -> list[uuid.UUID]:
    """The valid UUIDs among a message's arguments; garbage is logged and ignored."""
    if not isinstance(raw_ids, list | tuple):
        log.error("delivery message ignored: expected a list of ids, got %s", type(raw_ids))
        return []
    ids = []
    for raw in raw_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            log.error("delivery message: ignored an id that is not a UUID: %.64r", raw)
    return ids


def deliver(action_ids: Iterable[uuid.UUID]) -> DeliveryReport:
    """Deliver those of `action_ids` that are pending and due. Anything else is a no-op:
    cancelled, executed, claimed by someone else, unknown, or not yet due."""
    ids = list(action_ids)
    now = timezone.now()
    report = DeliveryReport()
    grace = timedelta(seconds=settings.FOLLOWUPS_MISSED_GRACE_S)
    pending = ScheduledAction.objects.filter(pk__in=ids, status=ActionStatus.PENDING)
    report.missed = pending.filter(scheduled_for__lt=now - grace).update(
        status=ActionStatus.MISSED,
        last_error=f"overdue by more than {settings.FOLLOWUPS_MISSED_GRACE_S} s; not sent",
        updated_at=now,
    )
    token = uuid.uuid4()
    pending.filter(scheduled_for__lte=now + EARLY_TOLERANCE).update(
        status=SENDING,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    claimed = list(
        ScheduledAction.objects.filter(claim_token=token, status=SENDING)
        .select_related("prospect", "meeting")
        .order_by("scheduled_for")
    )
    for action in claimed:
        log.info(
            "action claimed id=%s prospect=%s type=%s lateness_ms=%d",
            action.pk,
            action.prospect_id,
            action.action_type,
            (now - action.scheduled_for).total_seconds() * 1000,
        )
        _deliver_one(action, token, report)
    if len(claimed) + report.missed < len(ids):
        _republish_early(ids, now)
    return report


def _republish_early(ids: list[uuid.UUID], now: datetime) -> None:
    """A message that fired before its rows were due (they were moved later, or clocks
    differ) is sent again for them, if they are still within the horizon."""
    early = list(
        ScheduledAction.objects.filter(
            pk__in=ids,
            status=ActionStatus.PENDING,
            scheduled_for__gt=now,
            scheduled_for__lte=now + dispatcher.horizon(),
        ).values_list("pk", "scheduled_for")
    )
    if early:
        dispatcher.publish(early, now)


def _deliver_one(action: ScheduledAction, token: uuid.UUID, report: DeliveryReport) -> None:
    try:
        text = render_text(action)
    except Exception as exc:  # a broken writer must not strand the claim
        _retry_or_fail(action, token, f"writing the text failed: {_describe(exc)}", None, report)
        return
    if not _wait_for_send_slot(action, token, report):
        return
    with transaction.atomic():
        prospect = Prospect.objects.select_for_update().get(pk=action.prospect_id)
        now = timezone.now()
        # Renew the claim, and make sure it is still ours, right before sending.
        if not _claimed(action, token).update(claimed_at=now):
            log.warning("claim lost before send id=%s", action.pk)
            return
        reason = why_not_send(action, prospect, now)
        if reason:
            _finish(action, token, ActionStatus.CANCELLED, cancelled_at=now, cancel_reason=reason)
            log.info("action cancelled id=%s reason=%s", action.pk, reason)
            report.skipped.append(action.pk)
            return
        recipient = Recipient(prospect.telegram_id, prospect.access_hash, prospect.username)
        try:
            sent = get_messenger().send(recipient, text, action.random_id)
        except PermanentSendError as exc:
            _fail(action, token, prospect, exc, now)
            report.failed.append(action.pk)
            return
        except TransientSendError as exc:
            _retry_or_fail(action, token, exc.reason, exc.retry_after_s, report)
            return
        except Exception as exc:  # unknown trouble: assume it may pass, within max retries
            _retry_or_fail(action, token, _describe(exc), None, report)
            return
        _finish(
            action,
            token,
            ActionStatus.EXECUTED,
            executed_at=now,
            telegram_message_id=sent.message_id,
            last_error="",
        )
        Message.objects.create(
            prospect=prospect,
            direction=Message.Direction.OUTBOUND,
            text=text,
            sent_at=now,
            telegram_message_id=sent.message_id,
            action=action,
        )
        Prospect.objects.filter(pk=prospect.pk).update(last_outbound_at=now)
    report.sent.append(action.pk)
    log.info(
        "action executed id=%s prospect=%s message=%s duplicate=%s lateness_ms=%d",
        action.pk,
        action.prospect_id,
        sent.message_id,
        sent.duplicate,
        (now - action.scheduled_for).total_seconds() * 1000,
    )


def _wait_for_send_slot(action: ScheduledAction, token: uuid.UUID, report: DeliveryReport) -> bool:
    """Honour the per-account rate cap: True to send now (after waiting a moment if need be);
    False when the action was put back to pending until the slot it now holds."""
    now = timezone.now()
    slot = action.rate_slot_at or ratelimit.reserve_slot(now)
    if slot - now <= MAX_SLOT_WAIT:
        time.sleep(max(0.0, (slot - now).total_seconds()))
        return True
    with transaction.atomic():
        if _finish(
            action,
            token,
            ActionStatus.PENDING,
            scheduled_for=slot,
            rate_slot_at=slot,
            claimed_at=None,
            enqueued_at=None,
            attempts=F("attempts") - 1,  # not an attempt: nothing was tried
        ):
            action.scheduled_for = slot
            dispatcher.enqueue_on_commit(action)
    report.deferred.append(action.pk)
    log.info("action deferred by the send rate cap id=%s slot=%s", action.pk, slot.isoformat())
    return False


def why_not_send(action: ScheduledAction, prospect: Prospect, now: datetime) -> str:
    """The reason this action must not go out now, or '' to send it."""
    if prospect.opted_out_at:
        return "opted_out"
    if prospect.unreachable_since:
        return f"recipient unreachable: {prospect.unreachable_reason}"
    if (
        action.action_type == ActionType.FOLLOW_UP
        and prospect.last_reply_at
        and prospect.last_reply_at > action.promised_at
    ):
        return "client_responded"
    if action.action_type == ActionType.PRE_MEETING_REMINDER and action.meeting_id:
        meeting = Meeting.objects.get(pk=action.meeting_id)
        if meeting.status == Meeting.Status.CANCELLED:
            return "meeting_cancelled"
        if meeting.starts_at <= now:
            return "meeting_started"
    return ""


def render_text(action: ScheduledAction) -> str:
    """The text to send, in the client's language. An empty follow-up template is written at
    send time by settings.FOLLOWUPS_FOLLOWUP_WRITER."""
    prospect = action.prospect
    if action.action_type == ActionType.FOLLOW_UP:
        template = (action.payload.get("message_template") or "").strip()
        return template or import_string(settings.FOLLOWUPS_FOLLOWUP_WRITER)(action)
    if action.action_type == ActionType.PRE_MEETING_REMINDER and action.meeting is not None:
        if action.payload.get("reminder_type") == "1h":
            return texts.pick(texts.REMINDER_1H, prospect.language)
        day, at = texts.meeting_day_words(
            action.meeting.starts_at, timezone.now(), prospect.zone, prospect.language
        )
        return texts.pick(texts.REMINDER_24H, prospect.language).format(day=day, time=at)
    custom = (action.payload.get("message_template") or "").strip()
    return custom or texts.pick(texts.GENERIC_REMINDER, prospect.language)


def plain_follow_up(action: ScheduledAction) -> str:
    """The default follow-up writer: a plain text in the client's language."""
    return texts.pick(texts.PLAIN_FOLLOW_UP, action.prospect.language)


def _claimed(action: ScheduledAction, token: uuid.UUID):
    return ScheduledAction.objects.filter(pk=action.pk, status=SENDING, claim_token=token)


def _finish(action: ScheduledAction, token: uuid.UUID, status: str, **fields) -> bool:
    """Record the outcome of our claim; False (and a warning) if the claim was taken from us."""
    done = _claimed(action, token).update(
        status=status, claim_token=None, updated_at=timezone.now(), **fields
    )
    if not done:
        log.warning("claim lost, outcome %s not recorded id=%s", status, action.pk)
    return bool(done)


def _fail(
    action: ScheduledAction,
    token: uuid.UUID,
    prospect: Prospect,
    exc: PermanentSendError,
    now: datetime,
) -> None:
    _finish(action, token, ActionStatus.FAILED, last_error=exc.reason[:MAX_ERROR_LENGTH])
    if exc.recipient_unreachable:
        Prospect.objects.filter(pk=prospect.pk).update(
            unreachable_since=now, unreachable_reason=exc.reason[:255]
        )
    log.warning("action failed id=%s reason=%s", action.pk, exc.reason)


def _retry_or_fail(
    action: ScheduledAction,
    token: uuid.UUID,
    reason: str,
    retry_after_s: float | None,
    report: DeliveryReport,
) -> None:
    """Back to pending for another try later, or `failed` once the retries are spent."""
    reason = reason[:MAX_ERROR_LENGTH]
    # A flood wait is Telegram saying "not yet", not a failed try: it does not use up retries.
    flood_wait = retry_after_s is not None
    attempts = action.attempts  # loaded after the claim incremented it
    if not flood_wait and attempts > settings.FOLLOWUPS_MAX_RETRIES:
        _finish(
            action, token, ActionStatus.FAILED, last_error=f"gave up after {attempts}: {reason}"
        )
        report.failed.append(action.pk)
        log.warning("action failed id=%s attempts=%d reason=%s", action.pk, attempts, reason)
        return
    now = timezone.now()
    delay = retry_after_s + 1 if flood_wait else settings.FOLLOWUPS_RETRY_DELAY_S
    when = now + timedelta(seconds=delay)
    window = None if action.client_requested_time else quiet_hours()
    if window:
        when = window.defer(when, action.prospect.zone)
    with transaction.atomic():
        if _finish(
            action,
            token,
            ActionStatus.PENDING,
            scheduled_for=when,
            claimed_at=None,
            enqueued_at=None,
            rate_slot_at=None,
            last_error=reason,
            **({"attempts": F("attempts") - 1} if flood_wait else {}),
        ):
            action.scheduled_for = when
            dispatcher.enqueue_on_commit(action)
    report.retried.append(action.pk)
    log.warning(
        "action retry id=%s attempt=%d next=%s reason=%s", action.pk, attempts, when, reason
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SendError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"
