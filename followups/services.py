"""Domain operations on scheduled actions, meetings and prospects: plain functions used by the
admin, the bot and the management commands.

Every status change is a compare-and-set (`filter(..., status=PENDING).update(...)`): the
caller learns from the returned count whether it won, and a cancelled or executed row is never
touched again. Rows due soon are put on the broker after the transaction commits.
"""

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, F, QuerySet, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from followups import bulk, events, outcomes, publishing
from followups.cleaning import clean_text
from followups.messenger import MAX_TEXT_LENGTH
from followups.models import (
    DEFAULT_ACCOUNT,
    Account,
    ActionStatus,
    ActionType,
    Meeting,
    Message,
    OptOutChange,
    Prospect,
    ScheduledAction,
)
from followups.quiet_hours import account_quiet_hours, respect_quiet_hours
from followups.transitions import transition

log = logging.getLogger(__name__)

PENDING = ActionStatus.PENDING
# Scheduling "now" from a slow caller must not be refused as past.
PAST_TOLERANCE = timedelta(seconds=60)


class SchedulingError(ValueError):
    """Bad input to a scheduling operation. Nothing was written."""


# --- validation ------------------------------------------------------------------------------


def _require_aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise SchedulingError(f"{name} must be a datetime, got {type(value).__name__}")
    if timezone.is_naive(value):
        raise SchedulingError(
            f"{name} has no time zone ({value.isoformat()}); give an aware datetime"
        )
    return value


def _require_future(when: datetime, now: datetime, name: str = "scheduled_for") -> None:
    if when < now - PAST_TOLERANCE:
        raise SchedulingError(f"{name} {when.isoformat()} is in the past (now {now.isoformat()})")
    limit = now + timedelta(days=settings.FOLLOWUPS_MAX_AHEAD_DAYS)
    if when > limit:
        raise SchedulingError(
            f"{name} {when.isoformat()} is more than {settings.FOLLOWUPS_MAX_AHEAD_DAYS} days ahead"
        )


def validate_when(when: object, now: datetime | None = None, name: str = "when") -> datetime:
    """An aware datetime, not past and not absurdly far ahead; else SchedulingError. Also for
    callers that check before writing (admin forms; a bulk reschedule checks every time first)."""
    when = _require_aware(when, name)
    _require_future(when, now or timezone.now(), name)
    return when


def _require_saved_prospect(prospect: object) -> Prospect:
    if not isinstance(prospect, Prospect) or prospect.pk is None:
        raise SchedulingError(f"unknown prospect: {prospect!r}")
    return prospect


def pending_follow_up_at(prospect: Prospect, when: datetime) -> ScheduledAction | None:
    """The client's pending follow-up due at `when`, if any: the same promise is the same
    action, so a caller about to schedule one there returns this one instead."""
    same = get_pending(prospect).filter(action_type=ActionType.FOLLOW_UP, scheduled_for=when)
    return same.first()


def _clean_payload(payload: object) -> dict:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise SchedulingError(f"payload must be an object, got {type(payload).__name__}")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise SchedulingError(f"payload is not JSON-serialisable: {exc}") from None
    template = payload.get("message_template", "")
    if not isinstance(template, str):
        raise SchedulingError("payload.message_template must be a string")
    if len(template) > MAX_TEXT_LENGTH:
        raise SchedulingError(
            f"payload.message_template is {len(template)} characters; Telegram allows "
            f"{MAX_TEXT_LENGTH}"
        )
    return payload


# --- prospects -----------------------------------------------------------------------------


def get_prospect(telegram_id: int, account: str = DEFAULT_ACCOUNT) -> Prospect:
    """The client with this Telegram id among `account`'s (a name)."""
    try:
        return Prospect.objects.get(account__name=account, telegram_id=telegram_id)
    except (Prospect.DoesNotExist, ValueError, TypeError):
        raise SchedulingError(f"unknown prospect: telegram id {telegram_id!r}") from None


# --- scheduling ----------------------------------------------------------------------------


def schedule_action(
    prospect: Prospect,
    action_type: str,
    scheduled_for: datetime,
    *,
    payload: dict | None = None,
    meeting: Meeting | None = None,
    client_requested_time: bool = False,
    now: datetime | None = None,
) -> ScheduledAction:
    """Store one action and, when it is due within the horizon, put it on the broker after
    commit. Raises SchedulingError (nothing written) on bad input.

    `client_requested_time`: the client named this time, so quiet hours do not move it.
    """
    now = now or timezone.now()
    prospect = _require_saved_prospect(prospect)
    if action_type not in ActionType.values:
        raise SchedulingError(
            f"unknown action type {action_type!r}; expected one of {', '.join(ActionType.values)}"
        )
    validate_when(scheduled_for, now, "scheduled_for")
    payload = _clean_payload(payload)
    if prospect.opted_out_at:
        raise SchedulingError(f"prospect {prospect.telegram_id} opted out; nothing is scheduled")
    if action_type == ActionType.FOLLOW_UP:
        pending = prospect.actions.filter(status=PENDING, action_type=ActionType.FOLLOW_UP)
        if pending.count() >= settings.FOLLOWUPS_MAX_PENDING_PER_PROSPECT:
            raise SchedulingError(
                f"prospect {prospect.telegram_id} already has "
                f"{settings.FOLLOWUPS_MAX_PENDING_PER_PROSPECT} pending follow-ups"
            )
    with transaction.atomic():
        action = ScheduledAction.objects.create(
            prospect=prospect,
            meeting=meeting,
            action_type=action_type,
            scheduled_for=respect_quiet_hours(scheduled_for, prospect, client_requested_time),
            client_requested_time=client_requested_time,
            payload=payload,
            promised_at=now,
        )
        events.of(action, "created", client_requested_time=client_requested_time)
        publishing.enqueue_on_commit(action)
    return action


# --- bulk scheduling -------------------------------------------------------------------------

# Actions per schedule_actions call: one INSERT, and a bounded transaction. An import of more
# sends them in calls of at most this many.
MAX_BULK = 10_000
BULK_TYPES = (ActionType.FOLLOW_UP, ActionType.REMINDER)


@dataclass(frozen=True)
class NewAction:
    """One action for schedule_actions: a prospect (by primary key) and a time, as for
    schedule_action. Meeting reminders are not scheduled in bulk (book_meeting makes them)."""

    prospect_id: int
    scheduled_for: datetime
    action_type: str = ActionType.FOLLOW_UP
    payload: dict | None = None
    client_requested_time: bool = False


def schedule_actions(new: Sequence[NewAction], *, now: datetime | None = None) -> list[UUID]:
    """Store many actions in one INSERT (imports, campaigns); returns their ids, in order.

    Every item is checked first, as schedule_action checks one (its time through
    validate_when, its payload, its prospect known and not opted out, the pending follow-up
    limit); a bad one raises SchedulingError naming it, and nothing is written. Rows due within
    the horizon are published after commit, grouped by due second, so a campaign's rows due
    together cost a few broker messages, not one confirmed publish each; if the broker is away
    the dispatcher's next pass publishes them.
    """
    now = now or timezone.now()
    items = list(new)
    if len(items) > MAX_BULK:
        raise SchedulingError(f"{len(items)} actions in one call; at most {MAX_BULK}")
    cleaned = [_check_new(i, item, now) for i, item in enumerate(items)]
    if not cleaned:
        return []
    zones = _bulk_prospects(items)
    windows = {
        account.pk: account_quiet_hours(account)
        for account in Account.objects.filter(pk__in={a for _, a in zones.values()})
    }
    actions = []
    for item, payload in zip(items, cleaned, strict=True):
        when = item.scheduled_for
        zone, account_id = zones[item.prospect_id]
        window = windows[account_id]
        if window and not item.client_requested_time:
            when = window.defer(when, ZoneInfo(zone))
        actions.append(
            ScheduledAction(
                id=uuid4(),
                prospect_id=item.prospect_id,
                action_type=item.action_type,
                scheduled_for=when,
                client_requested_time=item.client_requested_time,
                payload=payload,
                promised_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    with transaction.atomic():
        bulk.copy_new(actions)
        for action in actions:
            events.of(action, "created", client_requested_time=action.client_requested_time)
        publishing.enqueue_on_commit(*actions)
    return [action.pk for action in actions]


def _check_new(index: int, item: object, now: datetime) -> dict:
    """The item's cleaned payload; SchedulingError, naming the item, on anything wrong."""
    try:
        if not isinstance(item, NewAction):
            raise SchedulingError(f"expected a NewAction, got {type(item).__name__}")
        if type(item.prospect_id) is not int:
            raise SchedulingError(f"prospect_id must be an integer, got {item.prospect_id!r:.64}")
        if item.action_type not in BULK_TYPES:
            raise SchedulingError(
                f"action type {item.action_type!r:.64} cannot be scheduled in bulk; expected "
                f"one of {', '.join(BULK_TYPES)}"
            )
        if not isinstance(item.client_requested_time, bool):
            raise SchedulingError("client_requested_time must be true or false")
        validate_when(item.scheduled_for, now, "scheduled_for")
        return _clean_payload(item.payload)
    except SchedulingError as exc:
        raise SchedulingError(f"action {index}: {exc}") from None


def _bulk_prospects(items: list[NewAction]) -> dict[int, tuple[str, int]]:
    """The time zone and account of each of the items' prospects, each known, not opted out,
    and kept within the pending follow-up limit counting this call's rows; else
    SchedulingError."""
    wanted = {item.prospect_id for item in items}
    rows = Prospect.objects.filter(pk__any=list(wanted)).values_list(
        "pk", "telegram_id", "time_zone", "opted_out_at", "account_id"
    )
    prospects = {pk: tuple(rest) for pk, *rest in rows}
    unknown = sorted(wanted - prospects.keys())
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" …" if len(unknown) > 10 else "")
        raise SchedulingError(f"unknown prospect id(s): {shown}; nothing was scheduled")
    opted_out = sorted(t_id for t_id, _, opted_out, _ in prospects.values() if opted_out)
    if opted_out:
        raise SchedulingError(
            f"prospect(s) {', '.join(map(str, opted_out[:10]))} opted out; nothing was scheduled"
        )
    adding = Counter(i.prospect_id for i in items if i.action_type == ActionType.FOLLOW_UP)
    if adding:
        limit = settings.FOLLOWUPS_MAX_PENDING_PER_PROSPECT
        pending = Counter(
            dict(
                ScheduledAction.objects.filter(
                    prospect_id__in=list(adding), status=PENDING, action_type=ActionType.FOLLOW_UP
                )
                .values("prospect_id")
                .annotate(n=Count("pk"))
                .values_list("prospect_id", "n")
            )
        )
        over = sorted(prospects[pk][0] for pk in adding if adding[pk] + pending[pk] > limit)
        if over:
            raise SchedulingError(
                f"prospect(s) {', '.join(map(str, over[:10]))} would have more than {limit} "
                "pending follow-ups; nothing was scheduled"
            )
    return {pk: (zone, account) for pk, (_, zone, _, account) in prospects.items()}


def get_pending(prospect: Prospect | None = None) -> QuerySet[ScheduledAction]:
    qs = ScheduledAction.objects.filter(status=PENDING)
    return qs.filter(prospect=prospect) if prospect is not None else qs


def cancel_action(action: ScheduledAction, reason: str) -> bool:
    """Cancel one pending action. False when it was no longer pending (already sent, being
    sent, or cancelled)."""
    return bool(_cancel_pending(ScheduledAction.objects.filter(pk=action.pk), reason))


def _cancel_pending(qs: QuerySet[ScheduledAction], reason: str) -> list[UUID]:
    """Cancel the pending rows of `qs`; returns the ids this call cancelled (a row a worker
    claimed in the meantime is not among them).

    A row with a send mark is not cancelled here: it may already have reached the client (its
    worker died between the send and the record). Its next worker finds out from Telegram, and
    records it executed, or cancels it in its re-check for the same reason (a reply, an
    opt-out, a cancelled or moved meeting)."""
    cancelled = transition(
        qs.filter(send_started_at__isnull=True),
        PENDING,
        "cancelled",
        event_fields={"reason": reason},
        status=ActionStatus.CANCELLED,
        cancelled_at=timezone.now(),
        cancel_reason=reason,
    )
    return [row["pk"] for row in cancelled]


def cancel_pending_followups(prospect: Prospect, reason: str = "client_responded") -> int:
    """Cancel every pending follow-up of a prospect (not meeting reminders). Returns the count."""
    return len(_cancel_followups(prospect, reason))


def _cancel_followups(prospect: Prospect, reason: str) -> list[UUID]:
    return _cancel_pending(
        ScheduledAction.objects.filter(prospect=prospect, action_type=ActionType.FOLLOW_UP),
        reason,
    )


def reschedule(
    action: ScheduledAction,
    when: datetime,
    *,
    client_requested_time: bool | None = None,
    now: datetime | None = None,
) -> bool:
    """Move a pending action to `when`. False when it is no longer pending, or carries a send
    mark (it may have reached the client; its worker is finding out).

    A reschedule re-arms the promise: a client reply before it no longer makes it stale, and
    the new time is the one promised (a "send now" before it is forgotten).
    """
    return _move(action, when, client_requested_time, now, promised_for=None, sent_now_by="")


def _move(action, when, client_requested_time, now, **fields) -> bool:
    now = now or timezone.now()
    validate_when(when, now)
    explicit = (
        action.client_requested_time if client_requested_time is None else client_requested_time
    )
    when = respect_quiet_hours(when, action.prospect, explicit)
    with transaction.atomic():
        changed = ScheduledAction.objects.filter(
            pk=action.pk, status=PENDING, send_started_at__isnull=True
        ).update(
            scheduled_for=when,
            client_requested_time=explicit,
            promised_at=now,
            enqueued_at=None,
            rate_slot_at=None,
            updated_at=now,
            **fields,
        )
        if changed:
            action.refresh_from_db(fields=["scheduled_for", *fields])
            publishing.enqueue_on_commit(action)
    if changed:
        events.of(action, "rescheduled")
    return bool(changed)


def send_now(action: ScheduledAction, by: str) -> bool:
    """Staff's "send now": due immediately, quiet hours or not. The time it was due stays
    recorded in `promised_for` when that was later (the first one, if sent now twice), with
    who sent it (`by`): the promise made to the client is not overwritten."""
    now = timezone.now()
    early = When(scheduled_for__gt=now, then=Coalesce(F("promised_for"), F("scheduled_for")))
    return _move(
        action,
        now,
        True,
        now,
        promised_for=Case(early, default=F("promised_for")),
        sent_now_by=by[:200],
    )


# Words by which a text speaks of the time agreed with the client: sent before that time, they
# are not true (compared case-insensitively).
PROMISE_WORDS = (
    "как и договаривались",
    "как договаривались",
    "как и договорились",
    "как договорились",
    "как и обещал",
    "как обещал",
    "в назначенное время",
    "as agreed",
    "as promised",
    "as discussed",
    "as we agreed",
    "as we discussed",
)


def early_send_warnings(action: ScheduledAction, now: datetime | None = None) -> list[str]:
    """Why sending `action` now, before its due time, would break what the client was told;
    [] when it is due anyway or nothing in it depends on the time."""
    if action.scheduled_for <= (now or timezone.now()) + PAST_TOLERANCE:
        return []
    warnings = []
    template = (action.payload.get("message_template") or "").casefold()
    if action.action_type == ActionType.FOLLOW_UP:
        if action.client_requested_time:
            warnings.append("the client asked to be written at that time")
        if words := [w for w in PROMISE_WORDS if w in template]:
            warnings.append(f"its text speaks of the agreement («{words[0]}»)")
        if not template:
            warnings.append("its text is written at send time as the follow-up agreed for then")
    elif action.action_type == ActionType.PRE_MEETING_REMINDER:
        kind = action.payload.get("reminder_type", "")
        warnings.append(f"it is the {kind} reminder: its text is written for that time")
    return warnings


# --- the client's side ------------------------------------------------------------------------


def record_client_message(
    prospect: Prospect,
    text: str,
    *,
    at: datetime | None = None,
    telegram_message_id: int | None = None,
    acknowledgement: bool = False,
) -> list[UUID]:
    """Store an inbound message and, unless it only acknowledges a promise just made, cancel
    the prospect's pending follow-ups. Returns the ids of those cancelled.

    The prospect row is locked so that a worker about to send a follow-up to this client
    either finishes first or sees this message in its re-check (docs/design.md, invariant 4).
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = Prospect.objects.select_for_update().get(pk=prospect.pk)
        _log_message(locked, Message.Direction.INBOUND, text, at, telegram_message_id)
        fields = {"last_inbound_at": at, "unreachable_since": None, "unreachable_reason": ""}
        if not acknowledgement:
            fields["last_reply_at"] = at
        Prospect.objects.filter(pk=locked.pk).update(**fields, updated_at=timezone.now())
        cancelled = [] if acknowledgement else _cancel_followups(locked, "client_responded")
    for name, value in fields.items():
        setattr(prospect, name, value)
    return cancelled


def record_agent_message(
    prospect: Prospect, text: str, *, at: datetime, telegram_message_id: int | None = None
) -> None:
    """Store a reply the agent sent in the conversation (scheduled sends record their own)."""
    _log_message(prospect, Message.Direction.OUTBOUND, text, at, telegram_message_id)
    Prospect.objects.filter(pk=prospect.pk).update(last_outbound_at=at)


def _log_message(
    prospect: Prospect, direction: str, text: str, at: datetime, telegram_message_id: int | None
) -> None:
    Message.objects.create(
        prospect=prospect,
        direction=direction,
        text=text,
        sent_at=at,
        telegram_message_id=telegram_message_id,
    )
    if direction == Message.Direction.INBOUND:
        outcomes.mark_answered(prospect, at)


def opt_out(
    prospect: Prospect, at: datetime | None = None, *, by: str = "client", words: str = ""
) -> int:
    """The client asked not to be contacted: cancel everything pending and never write first
    again, until lift_opt_out. Recorded as an OptOutChange (who, `words`: theirs or a reason).
    Returns how many actions were cancelled."""
    at = at or timezone.now()
    with transaction.atomic():
        Prospect.objects.filter(pk=prospect.pk).update(opted_out_at=at, updated_at=at)
        OptOutChange.objects.create(
            prospect=prospect, kind=OptOutChange.Kind.OPTED_OUT, at=at, by=by, words=words
        )
        cancelled = len(
            _cancel_pending(ScheduledAction.objects.filter(prospect=prospect), "opted_out")
        )
    prospect.opted_out_at = at
    log.info("prospect opted out id=%s by=%s cancelled=%d", prospect.pk, by, cancelled)
    return cancelled


# The longest reason or quote kept with a lifted opt-out.
LIFT_WORDS_LIMIT = 2000


def lift_opt_out(prospect: Prospect, *, by: str, words: str, at: datetime | None = None) -> bool:
    """Lift an opt-out: the client asked in their own `words` to be written to (by="client"),
    or staff gave `words` as the reason (by="staff (name)"). Nothing else lifts one. False
    when the prospect was not opted out (nothing is written); SchedulingError without words.
    Cancelled actions stay cancelled: only what is scheduled from now on is sent."""
    words = clean_text(words or "").strip()
    if not words:
        raise SchedulingError("an opt-out is lifted only with the client's words or a reason")
    if len(words) > LIFT_WORDS_LIMIT:
        raise SchedulingError(f"the reason is {len(words)} characters; at most {LIFT_WORDS_LIMIT}")
    at = at or timezone.now()
    with transaction.atomic():
        lifted = Prospect.objects.filter(pk=prospect.pk, opted_out_at__isnull=False).update(
            opted_out_at=None, updated_at=at
        )
        if lifted:
            OptOutChange.objects.create(
                prospect=prospect, kind=OptOutChange.Kind.LIFTED, at=at, by=by, words=words
            )
    if lifted:
        prospect.opted_out_at = None
        log.info("prospect opt-out lifted id=%s by=%s", prospect.pk, by)
    return bool(lifted)


# --- meetings ------------------------------------------------------------------------------


def _reminder_offsets() -> list[tuple[str, timedelta]]:
    offsets = []
    if settings.FOLLOWUPS_REMINDER_24H:
        offsets.append(("24h", timedelta(hours=24)))
    if settings.FOLLOWUPS_REMINDER_1H:
        offsets.append(("1h", timedelta(hours=1)))
    return offsets


def _schedule_reminders(meeting: Meeting, now: datetime) -> list[ScheduledAction]:
    """A reminder per enabled offset, unless its time has passed, or quiet hours would push it
    to the meeting's start or later."""
    created = []
    for kind, offset in _reminder_offsets():
        when = respect_quiet_hours(meeting.starts_at - offset, meeting.prospect, False)
        if when <= now or when >= meeting.starts_at:
            log.info("reminder skipped meeting=%s kind=%s due=%s", meeting.pk, kind, when)
            continue
        created.append(
            schedule_action(
                meeting.prospect,
                ActionType.PRE_MEETING_REMINDER,
                when,
                payload={"reminder_type": kind, "meeting_time": meeting.starts_at.isoformat()},
                meeting=meeting,
                client_requested_time=True,  # already placed outside quiet hours above
                now=now,
            )
        )
    return created


def upcoming_meetings(prospect: Prospect, now: datetime | None = None) -> QuerySet[Meeting]:
    """The prospect's meetings that are still on and have not started."""
    return prospect.meetings.exclude(status=Meeting.Status.CANCELLED).filter(
        starts_at__gt=now or timezone.now()
    )


def meeting_details(title: str = "", link: str = "", place: str = "") -> dict[str, str]:
    """A meeting's title, link and place, checked: the reminders send them to the client.
    A link is http(s) only (no javascript:, file: or tg: links), each part bounded."""
    details = {"title": title, "link": link, "place": place}
    limits = {name: Meeting._meta.get_field(name).max_length for name in details}
    for name, value in details.items():
        if not isinstance(value, str):
            raise SchedulingError(f"{name} must be text")
        value = details[name] = " ".join(value.split())
        if len(value) > limits[name]:
            raise SchedulingError(f"{name} is {len(value)} characters; at most {limits[name]}")
    try:
        if details["link"]:
            Meeting._meta.get_field("link").run_validators(details["link"])
    except ValidationError:
        raise SchedulingError("link must be an http:// or https:// address") from None
    return details


def book_meeting(
    prospect: Prospect, starts_at: datetime, *, title: str = "", link: str = "", place: str = ""
) -> Meeting:
    now = timezone.now()
    prospect = _require_saved_prospect(prospect)
    validate_when(starts_at, now, "starts_at")
    details = meeting_details(title, link, place)
    with transaction.atomic():
        meeting = Meeting.objects.create(prospect=prospect, starts_at=starts_at, **details)
        if not prospect.opted_out_at:
            _schedule_reminders(meeting, now)
    log.info("meeting booked id=%s prospect=%s", meeting.pk, prospect.pk)
    return meeting


def move_meeting(meeting: Meeting, starts_at: datetime) -> Meeting:
    """Move a meeting: its pending reminders are cancelled and rebuilt for the new time."""
    now = timezone.now()
    validate_when(starts_at, now, "starts_at")
    if meeting.status == Meeting.Status.CANCELLED:
        raise SchedulingError(f"meeting {meeting.pk} is cancelled; book a new one")
    with transaction.atomic():
        _cancel_pending(meeting.reminders.all(), "meeting_moved")
        Meeting.objects.filter(pk=meeting.pk).update(
            starts_at=starts_at, status=Meeting.Status.MOVED, updated_at=now
        )
        meeting.starts_at, meeting.status = starts_at, Meeting.Status.MOVED
        if not meeting.prospect.opted_out_at:
            _schedule_reminders(meeting, now)
    log.info("meeting moved id=%s", meeting.pk)
    return meeting


def cancel_meeting(meeting: Meeting) -> int:
    """Cancel a meeting and its pending reminders. Returns how many reminders were cancelled."""
    with transaction.atomic():
        Meeting.objects.filter(pk=meeting.pk).update(
            status=Meeting.Status.CANCELLED, updated_at=timezone.now()
        )
        meeting.status = Meeting.Status.CANCELLED
        cancelled = len(_cancel_pending(meeting.reminders.all(), "meeting_cancelled"))
    log.info("meeting cancelled id=%s reminders_cancelled=%d", meeting.pk, cancelled)
    return cancelled
