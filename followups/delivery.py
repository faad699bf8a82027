"""Delivering due actions: claim, re-check, send, record.

A broker message names up to publishing.MAX_BATCH actions due in the same second, and arrives
publishing.prepare_lead before they are due (up to 2 s, for a large burst). They are claimed in
one statement, their texts written and their send marks committed ahead of the due instant; the
batch then waits for it, and is locked, re-checked, sent and recorded in a handful of statements
(docs/design.md, "Precision and capacity"). Each action is still re-checked at its send and
sent on its own, idempotently (invariants 2-4):

- the claim is a compare-and-set from `pending` with a fresh token; only the token's holder
  records a result, so a redelivered message, a second worker or a released claim cannot
  record twice or resurrect a cancelled row;
- the batch's prospect rows are locked (and its action rows, which proves the claims are still
  ours) during the re-check and the sends: a client message arriving at the same instant either
  lands before the re-check (and the follow-up is dropped) or waits until after the send;
- each send carries a random_id derived from the action id: a retry after a crash between the
  send and the record reaches the client once;
- just before the sends, a mark (`send_started_at`, with the exact text) is committed on their
  rows. A row that comes back with it (its worker died, or the record was lost with the
  database connection) may have reached the client already: the next worker asks the
  messenger first and records `executed` if it did, so a client's reply to that very message
  cannot get it recorded as cancelled;
- a claim is held by a live database session (followups.claims): when its worker dies, the
  dispatcher gives its rows back within a pass, not after a timeout.
"""

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from followups import accounts, bulk, claims, events, publishing, ratelimit, texts, transitions
from followups.messenger import (
    AccountUnusable,
    PermanentSendError,
    Recipient,
    SendError,
    SentMessage,
    TransientSendError,
    get_messenger,
)
from followups.models import (
    Account,
    ActionStatus,
    ActionType,
    Meeting,
    Message,
    Prospect,
    ScheduledAction,
)
from followups.quiet_hours import respect_quiet_hours

log = logging.getLogger(__name__)

SENDING = ActionStatus.SENDING
# A message may fire a little before its rows' due time (clock skew between hosts).
EARLY_TOLERANCE = timedelta(milliseconds=500)
MAX_ERROR_LENGTH = 500
# More ids than any real message carries: the rest of a forged one is ignored (the rows are the
# truth, so nothing real is lost), and no statement outgrows PostgreSQL's parameter limit.
MAX_IDS_PER_MESSAGE = 1000
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


@dataclass
class _Send:
    """One claimed action on its way out."""

    action: ScheduledAction
    text: str
    slot: datetime | None = None  # the rate cap's send slot, once taken
    # The mark an earlier attempt left: this send may have happened already.
    started_before: datetime | None = None


def parse_ids(raw_ids: object) -> list[uuid.UUID]:
    """The valid UUIDs among a message's arguments; garbage is logged and ignored."""
    if not isinstance(raw_ids, list | tuple):
        log.error("delivery message ignored: expected a list of ids, got %s", type(raw_ids))
        return []
    if len(raw_ids) > MAX_IDS_PER_MESSAGE:
        log.error(
            "delivery message: %d ids, only the first %d read", len(raw_ids), MAX_IDS_PER_MESSAGE
        )
        raw_ids = raw_ids[:MAX_IDS_PER_MESSAGE]
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
    report = DeliveryReport()
    if not ids:
        return report
    with claims.holding_new_token() as token:
        now = timezone.now()
        claimed = _claim(ids, token, now, report)
        if len(claimed) + report.missed < len(ids):
            _republish_early(ids, now)
        sends = []
        for action in _hold_unusable_accounts(claimed, token, report):
            try:
                sends.append(_prepare(action))
            except Exception as exc:  # a broken writer must not strand the claim
                reason = f"writing the text failed: {_describe(exc)}"
                _retry_or_fail(action, token, reason, None, report)
        sends = _take_send_slots(sends, token, report)
        if sends:
            _mark_started(sends)
            _sleep_until(sends[0].action.scheduled_for)
            _send_batch(sends, token, report)
    return report


def _sleep_until(moment: datetime) -> None:
    """Wait for a due instant (a batch is claimed up to PREPARE_LEAD early)."""
    delay = (moment - timezone.now()).total_seconds()
    if delay > 0:
        time.sleep(delay)


def _prepare(action: ScheduledAction) -> _Send:
    """The send of a claimed action. One that an earlier attempt may have made keeps its text,
    so that it can be recognised, and so that a repeat is the same message."""
    if action.send_started_at is not None and action.send_text:
        return _Send(action, action.send_text, started_before=action.send_started_at)
    return _Send(action, texts.render_text(action))


def _mark_started(sends: list[_Send]) -> None:
    """Commit, before any of them is attempted, that these sends are about to happen."""
    now = timezone.now()
    for send in sends:
        send.action.send_started_at = send.started_before or now
        send.action.send_text = send.text
    bulk.update_rows([s.action for s in sends], ["send_started_at", "send_text"])


def _claim(
    ids: list[uuid.UUID], token: uuid.UUID, now: datetime, report: DeliveryReport
) -> list[ScheduledAction]:
    """Apply the missed-run policy, then claim what is pending and due within PREPARE_LEAD, in
    two statements."""
    pending = ScheduledAction.objects.filter(pk__any=ids, status=ActionStatus.PENDING)
    report.missed = len(
        transitions.missed_now(pending.filter(scheduled_for__lt=now - transitions.grace()))
    )
    window = now + publishing.PREPARE_LEAD + EARLY_TOLERANCE
    pending.filter(scheduled_for__lte=window).update(
        status=SENDING,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    claimed = list(
        ScheduledAction.objects.filter(claim_token=token, status=SENDING)
        .select_related("prospect__account", "meeting")
        .order_by("scheduled_for")
    )
    for action in claimed:
        events.of(action, "claimed", lateness_ms=events.lateness_ms(action.scheduled_for, now))
    return claimed


def _republish_early(ids: list[uuid.UUID], now: datetime) -> None:
    """A message that fired before its rows were due (they were moved later, or clocks
    differ) is sent again for them, if they are still within the horizon."""
    early = list(
        ScheduledAction.objects.filter(
            pk__any=ids,
            status=ActionStatus.PENDING,
            scheduled_for__gt=now,
            scheduled_for__lte=now + publishing.horizon(),
        ).values_list("pk", "scheduled_for")
    )
    if early:
        publishing.publish(early, now)


def _hold_unusable_accounts(
    claimed: list[ScheduledAction], token: uuid.UUID, report: DeliveryReport
) -> list[ScheduledAction]:
    """The actions whose account can send; those of a paused account or of one that needs a
    new login go back to pending, unchanged but for their time (accounts.HOLD later), neither
    failed nor missed, and unpublished: the dispatcher publishes them once the account is back
    (accounts.resume). This re-check is the safety for messages published before it stopped."""
    usable = []
    for action in claimed:
        account = action.prospect.account
        if account.state == Account.State.ACTIVE:
            usable.append(action)
        else:
            reason = f"account {account.name} is {account.get_state_display()}"
            _hold(action, token, report, reason, action.send_started_at)
    return usable


def _hold(
    action: ScheduledAction,
    token: uuid.UUID,
    report: DeliveryReport,
    reason: str,
    send_started_at: datetime | None,
) -> None:
    """Back to pending for accounts.HOLD (out of quiet hours), unpublished, not counted as an
    attempt: the account could not send, nothing was tried. `send_started_at`: the mark of an
    earlier attempt, kept (None if there was none)."""
    when = respect_quiet_hours(
        timezone.now() + accounts.HOLD, action.prospect, action.client_requested_time
    )
    _back_to_pending(
        action,
        token,
        when,
        publish=False,
        rate_slot_at=None,
        attempts=F("attempts") - 1,
        last_error=reason[:MAX_ERROR_LENGTH],
        send_started_at=send_started_at,
    )
    report.deferred.append(action.pk)
    events.of(action, "deferred", reason=reason, next=when.isoformat())


def _take_send_slots(sends: list[_Send], token: uuid.UUID, report: DeliveryReport) -> list[_Send]:
    """Honour the per-account rate caps: each account's sends are slotted on its own row."""
    by_account: dict[int, list[_Send]] = {}
    for send in sends:
        by_account.setdefault(send.action.prospect.account_id, []).append(send)
    ready, later = [], []
    for group in by_account.values():
        now, then = _take_account_slots(group)
        ready += now
        later += then
    _defer(later, token, report)
    # In slot order: a send waiting for its account's slot never holds up another account's.
    return sorted(ready, key=lambda s: (s.slot or s.action.scheduled_for, s.action.scheduled_for))


def _take_account_slots(sends: list[_Send]) -> tuple[list[_Send], list[_Send]]:
    """Honour one account's rate cap. Each action gets a send slot — the one it holds, or a
    new one (all reserved in one statement). Returns the sends to make now, and those whose
    slot is more than MAX_SLOT_WAIT away, to go back to pending until then, holding it.

    A held slot long past (workers were down, the broker away) is stale: sending on it would
    release the whole backlog at once, so it takes a new one. "Long" is one slot interval or a
    second, whichever is more, so the usual lateness of a deferred action coming back does not
    send it to the end of the line again and again.
    """
    account = sends[0].action.prospect.account
    step = ratelimit.interval(account)
    if step is None:
        return sends, []
    now = timezone.now()
    stale = now - max(step, timedelta(seconds=1))
    for send in sends:
        held = send.action.rate_slot_at
        send.slot = held if held is not None and held >= stale else None
    # The batch was claimed ahead of its due time: its slots start from there.
    start = max(now, min(s.action.scheduled_for for s in sends))
    needed = sum(1 for s in sends if s.slot is None)
    fresh = iter(ratelimit.reserve_slots(needed, start, account=account))
    ready, later = [], []
    for send in sends:
        send.slot = send.slot or next(fresh)
        (ready if send.slot - start <= MAX_SLOT_WAIT else later).append(send)
    return ready, later


# A capped burst defers most of each batch: one statement for all of them (not one each), and
# one grouped publish after it, so the batch's ready sends, of any account, do not wait on it.
_DEFER_SQL = f"""
UPDATE {ScheduledAction._meta.db_table} AS a
SET status = %s, scheduled_for = v.slot, rate_slot_at = v.slot, claim_token = NULL,
    claimed_at = NULL, enqueued_at = NULL, attempts = a.attempts - 1, updated_at = %s
FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(id, slot)
WHERE a.id = v.id AND a.status = %s AND a.claim_token = %s
RETURNING a.id
"""


def _defer(sends: list[_Send], token: uuid.UUID, report: DeliveryReport) -> None:
    """Back to pending until their send slots, holding them (not an attempt: nothing was
    tried), published after commit if within the horizon."""
    if not sends:
        return
    if connection.vendor != "postgresql":
        for send in sends:
            _back_to_pending(
                send.action, token, send.slot, rate_slot_at=send.slot, attempts=F("attempts") - 1
            )
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _DEFER_SQL,
                [
                    ActionStatus.PENDING.value,
                    timezone.now(),
                    [s.action.pk for s in sends],
                    [s.slot for s in sends],
                    SENDING.value,
                    token,
                ],
            )
            ours = {row[0] for row in cursor.fetchall()}
            lost = [s for s in sends if s.action.pk not in ours]
            sends = [s for s in sends if s.action.pk in ours]
            for send in sends:
                send.action.scheduled_for = send.slot
            publishing.enqueue_on_commit(*(s.action for s in sends))
        for send in lost:
            log.warning("claim lost, outcome pending not recorded id=%s", send.action.pk)
    for send in sends:
        report.deferred.append(send.action.pk)
        events.of(send.action, "deferred", reason="send rate cap", slot=send.slot.isoformat())


def _back_to_pending(
    action: ScheduledAction, token: uuid.UUID, when: datetime, *, publish: bool = True, **fields
) -> None:
    """Give our claim back: pending again, due at `when`, published after commit if `publish`
    and it is within the horizon (otherwise the dispatcher publishes it in time)."""
    with transaction.atomic():
        if (
            _finish(
                action,
                token,
                ActionStatus.PENDING,
                scheduled_for=when,
                claimed_at=None,
                enqueued_at=None,
                **fields,
            )
            and publish
        ):
            action.scheduled_for = when
            publishing.enqueue_on_commit(action)


def _send_batch(sends: list[_Send], token: uuid.UUID, report: DeliveryReport) -> None:
    """Lock, re-check, send and record a batch of claimed actions in one transaction."""
    executed: list[tuple[_Send, SentMessage, datetime]] = []
    with transaction.atomic():
        prospects = _lock_prospects(sends)
        ours = set(
            ScheduledAction.objects.select_for_update()
            .filter(pk__any=[s.action.pk for s in sends], status=SENDING, claim_token=token)
            .values_list("pk", flat=True)
        )
        meeting_ids = {s.action.meeting_id for s in sends} - {None}
        meetings = (
            {m.pk: m for m in Meeting.objects.filter(pk__any=meeting_ids)} if meeting_ids else {}
        )
        messenger = get_messenger()
        session_lost = claims.session_watch()
        # Accounts that cannot send for the rest of the batch: Telegram refused the session,
        # or asked to wait (flood). Their remaining sends wait too, without asking again.
        stopped: dict[int, TransientSendError] = {}
        for send in sends:
            action = send.action
            if action.pk not in ours:
                log.warning("claim lost before send id=%s", action.pk)
                continue
            prospect = prospects[action.prospect_id]
            account = prospect.account
            if account.pk in stopped:
                _stop(send, token, stopped[account.pk], report)
                continue
            recipient = Recipient(
                prospect.telegram_id, prospect.access_hash, prospect.username, account.name
            )
            if send.started_before is not None:
                try:
                    found = messenger.find_sent(
                        recipient, send.text, action.random_id, send.started_before
                    )
                except Exception as exc:  # cannot tell: neither send nor cancel, ask again later
                    _retry_or_fail(action, token, f"lookup: {_describe(exc)}", None, report)
                    continue
                if found is not None:
                    executed.append((send, found, timezone.now()))
                    events.of(action, "recovered", message_id=found.message_id)
                    continue
                if _overdue(action):
                    _miss(action, token, report)
                    continue
            _sleep_until(action.scheduled_for)
            now = timezone.now()
            reason = why_not_send(action, prospect, meetings.get(action.meeting_id), now)
            if reason:
                _finish(action, token, ActionStatus.CANCELLED, cancelled_at=now,
                        cancel_reason=reason)  # fmt: skip
                events.of(action, "cancelled", reason=reason)
                report.skipped.append(action.pk)
                continue
            if send.slot is not None and send.slot > now:
                time.sleep((send.slot - now).total_seconds())
            if session_lost():
                # The locks went with the session: the rest of the batch is released and found
                # out later (send marks), never sent on a re-check a reply may have overtaken.
                raise DatabaseError("database session lost in the middle of a batch")
            try:
                sent = messenger.send(recipient, send.text, action.random_id)
            except PermanentSendError as exc:
                _fail(action, token, prospect, exc)
                report.failed.append(action.pk)
            except TransientSendError as exc:
                if isinstance(exc, AccountUnusable) or exc.retry_after_s is not None:
                    stopped[account.pk] = exc
                    if isinstance(exc, AccountUnusable):
                        accounts.needs_login(account.pk, exc.reason)
                _stop(send, token, exc, report)
            except Exception as exc:  # unknown trouble: assume it may pass, within max retries
                _retry_or_fail(action, token, _describe(exc), None, report)
            else:
                executed.append((send, sent, timezone.now()))
        _record_executed(executed, prospects)
    for send, sent, sent_at in executed:
        report.sent.append(send.action.pk)
        events.of(
            send.action,
            "executed",
            lateness_ms=events.lateness_ms(send.action.scheduled_for, sent_at),
            message_id=sent.message_id,
            duplicate=sent.duplicate,
        )


def _stop(send: _Send, token: uuid.UUID, exc: TransientSendError, report: DeliveryReport) -> None:
    """A send its account cannot make now: held until the account logs in again, or retried
    after Telegram's wait (not an attempt either way), or retried like any transient error."""
    if isinstance(exc, AccountUnusable):
        _hold(send.action, token, report, exc.reason, send.started_before)
    else:
        _retry_or_fail(send.action, token, exc.reason, exc.retry_after_s, report)


# What the re-check and the send read of a prospect, under its lock.
_LOCKED_PROSPECT_FIELDS = (
    "telegram_id",
    "access_hash",
    "username",
    "opted_out_at",
    "last_reply_at",
    "unreachable_since",
    "unreachable_reason",
)


def _lock_prospects(sends: list[_Send]) -> dict[int, Prospect]:
    """Lock the batch's prospects (in id order: two batches never wait on each other in a
    cycle) and refresh, on the instances the claim loaded, what the re-check reads."""
    loaded = {s.action.prospect_id: s.action.prospect for s in sends}
    rows = (
        Prospect.objects.select_for_update()
        .filter(pk__any=list(loaded))
        .order_by("pk")
        .values_list("pk", *_LOCKED_PROSPECT_FIELDS)
    )
    prospects = {}
    for pk, *values in rows:
        prospect = prospects[pk] = loaded[pk]
        for name, value in zip(_LOCKED_PROSPECT_FIELDS, values, strict=True):
            setattr(prospect, name, value)
    return prospects


def _overdue(action: ScheduledAction) -> bool:
    return action.scheduled_for < timezone.now() - transitions.grace()


def _miss(action: ScheduledAction, token: uuid.UUID, report: DeliveryReport) -> None:
    """The missed-run policy for a marked row, once the messenger said it was never sent."""
    reason = transitions.missed_reason()
    if _finish(action, token, ActionStatus.MISSED, last_error=reason):
        report.missed += 1
        events.of(action, "missed", level=logging.WARNING, reason=reason)


def _record_executed(executed: list, prospects: dict[int, Prospect]) -> None:
    """Record the sends of a batch: the rows (locked, so still ours), the conversation log,
    each prospect's last outbound time. One statement on PostgreSQL, three elsewhere."""
    if not executed:
        return
    for send, sent, sent_at in executed:
        action = send.action
        action.status, action.claim_token, action.last_error = ActionStatus.EXECUTED, None, ""
        action.executed_at = action.updated_at = sent_at
        action.telegram_message_id = sent.message_id
        prospects[action.prospect_id].last_outbound_at = sent_at
    if connection.vendor == "postgresql":
        _record_in_one_statement(executed)
        return
    bulk.update_rows(
        [send.action for send, _, _ in executed],
        ["status", "claim_token", "last_error", "executed_at", "updated_at", "telegram_message_id"],
    )
    Message.objects.bulk_create(
        Message(
            prospect_id=send.action.prospect_id,
            direction=Message.Direction.OUTBOUND,
            text=send.text,
            sent_at=sent_at,
            telegram_message_id=sent.message_id,
            action=send.action,
        )
        for send, sent, sent_at in executed
    )
    touched = {send.action.prospect_id for send, _, _ in executed}
    bulk.update_rows([prospects[pk] for pk in touched], ["last_outbound_at"])


# Three arrays in, whatever the batch size: the text logged is the row's send mark, which is
# the text sent (delivery._mark_started), so it need not travel again.
_RECORD_SQL = f"""
WITH sent AS (
    SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::bigint[]) AS s(id, at, message_id)
), done AS (
    UPDATE {ScheduledAction._meta.db_table} AS a
    SET status = %s, claim_token = NULL, last_error = '', executed_at = sent.at,
        updated_at = sent.at, telegram_message_id = sent.message_id
    FROM sent WHERE a.id = sent.id
    RETURNING a.id, a.prospect_id, a.send_text, sent.at, sent.message_id
), logged AS (
    INSERT INTO {Message._meta.db_table}
        (prospect_id, direction, text, sent_at, telegram_message_id, action_id)
    SELECT prospect_id, %s, send_text, at, message_id, id FROM done
)
UPDATE {Prospect._meta.db_table} AS p SET last_outbound_at = last.at
FROM (SELECT prospect_id, max(at) AS at FROM done GROUP BY prospect_id) AS last
WHERE p.id = last.prospect_id
"""


def _record_in_one_statement(executed: list) -> None:
    ids, times, message_ids = [], [], []
    for send, sent, sent_at in executed:
        ids.append(send.action.pk)
        times.append(sent_at)
        message_ids.append(sent.message_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD_SQL,
            [
                ids,
                times,
                message_ids,
                ActionStatus.EXECUTED.value,
                Message.Direction.OUTBOUND.value,
            ],
        )


def why_not_send(
    action: ScheduledAction, prospect: Prospect, meeting: Meeting | None, now: datetime
) -> str:
    """The reason this action must not go out now, or '' to send it. `prospect` and `meeting`
    are read under lock, just before the send."""
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
    if action.action_type == ActionType.PRE_MEETING_REMINDER and meeting is not None:
        if meeting.status == Meeting.Status.CANCELLED:
            return "meeting_cancelled"
        if meeting.starts_at <= now:
            return "meeting_started"
        if _reminds_of_another_time(action, meeting):
            return "meeting_moved"
    return ""


def _reminds_of_another_time(action: ScheduledAction, meeting: Meeting) -> bool:
    """A reminder written for the meeting's time before it moved (one the move could not
    cancel because it carried a send mark)."""
    try:
        written_for = datetime.fromisoformat(action.payload["meeting_time"])
    except (KeyError, TypeError, ValueError):
        return False
    return written_for.tzinfo is not None and written_for != meeting.starts_at


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
    action: ScheduledAction, token: uuid.UUID, prospect: Prospect, exc: PermanentSendError
) -> None:
    _finish(action, token, ActionStatus.FAILED, last_error=exc.reason[:MAX_ERROR_LENGTH])
    if exc.recipient_unreachable:
        # Also in memory: the batch's later sends to this client are then skipped.
        prospect.unreachable_since, prospect.unreachable_reason = timezone.now(), exc.reason[:255]
        Prospect.objects.filter(pk=prospect.pk).update(
            unreachable_since=prospect.unreachable_since,
            unreachable_reason=prospect.unreachable_reason,
        )
    events.of(action, "failed", level=logging.WARNING, reason=exc.reason)


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
        events.of(action, "failed", level=logging.WARNING, attempts=attempts, reason=reason)
        return
    now = timezone.now()
    delay = retry_after_s + 1 if flood_wait else settings.FOLLOWUPS_RETRY_DELAY_S
    when = now + timedelta(seconds=delay)
    when = respect_quiet_hours(when, action.prospect, action.client_requested_time)
    # A flood wait also says the send did not happen: the row loses its send mark. After any
    # other error it may have (a timeout), so the next attempt asks first.
    not_sent = {"attempts": F("attempts") - 1, "send_started_at": None} if flood_wait else {}
    _back_to_pending(action, token, when, rate_slot_at=None, last_error=reason, **not_sent)
    report.retried.append(action.pk)
    events.of(
        action,
        "retried",
        level=logging.WARNING,
        attempt=attempts,
        next=when.isoformat(),
        reason=reason,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SendError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"
