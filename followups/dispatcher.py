"""Moves rows from Postgres onto the broker, and keeps the rows honest.

A broker message is a hint that names rows; the rows are the truth (docs/design.md, invariant 1).
Only actions due within the horizon are published, with their remaining delay, so no worker
holds long-delayed messages (invariant 5). Actions due in the same second travel together: a
burst pays a few broker round trips per second of due time, not one per action.

A message fires a little before its rows are due (prepare_lead: more for a larger due second, at
most PREPARE_LEAD). Its worker claims and writes them in that time and sends at the due instant,
after the re-check under the client's lock (followups.delivery): a burst's lateness then pays for
the sends only, not for the work before them.
"""

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from followups import accounts, claims, events
from followups.models import ActionStatus, Heartbeat, ScheduledAction
from followups.transitions import transition

log = logging.getLogger(__name__)

# How long before their rows' due time messages fire, for the claims and the texts to be done by
# then: MIN_LEAD plus LEAD_PER_ACTION for each action due in the same second, at most
# PREPARE_LEAD (about what a 5,000-action burst's claims take on 2 cores, with room for a busy
# machine). A claimed row is `sending`: staff can no longer cancel it, so a lone action is
# claimed only a moment ahead.
MIN_LEAD = timedelta(milliseconds=100)
LEAD_PER_ACTION = timedelta(milliseconds=1)
PREPARE_LEAD = timedelta(seconds=2)
# A due second's ids are spread over at least FAN_OUT messages (the workers' threads: -p 2 -t 8)
# of at least MIN_BATCH ids and at most MAX_BATCH. A worker thread waits with its claimed batch
# until the due instant, so a burst cut into many small messages would leave most of them to be
# claimed only after it; cut into one per thread, every thread holds its share, claimed.
FAN_OUT = 16
MIN_BATCH = 50
MAX_BATCH = 1000
# Rows deleted per transaction by the cleanup.
CHUNK = 1000
# Rows locked and published per transaction: a due second of up to this many is published in
# one call, so that batch_size sees all of it.
PUBLISH_CHUNK = FAN_OUT * MAX_BATCH

# Told how far a long pass has got: (what, count so far). The command draws a progress line.
Progress = Callable[[str, int], None]


def horizon() -> timedelta:
    return timedelta(seconds=settings.FOLLOWUPS_ENQUEUE_HORIZON_S)


def grace() -> timedelta:
    """How overdue an action may be and still be sent; beyond it, it is missed."""
    return timedelta(seconds=settings.FOLLOWUPS_MISSED_GRACE_S)


def missed_reason() -> str:
    return f"overdue by more than {settings.FOLLOWUPS_MISSED_GRACE_S} s; not sent"


def prepare_lead(n: int) -> timedelta:
    """How long before a due second of `n` actions its messages fire."""
    return min(PREPARE_LEAD, MIN_LEAD + LEAD_PER_ACTION * n)


def batch_size(n: int) -> int:
    """Ids per message for a due second of `n` ids (see FAN_OUT)."""
    messages = max(min(math.ceil(n / MIN_BATCH), FAN_OUT), math.ceil(n / MAX_BATCH))
    return math.ceil(n / messages)


def publish(rows: list[tuple[UUID, datetime]], now: datetime) -> int:
    """Send delivery messages for (id, due) pairs, grouped by due second (batch_size ids each),
    each firing prepare_lead before the earliest due time in it (its worker sends each row at
    its own time: rows deferred to their send slots spread over their second, and the first
    must not wait for the last). Returns the number of messages."""
    from followups.actors import deliver_actions  # the actor module imports the broker

    by_second: dict[datetime, list[tuple[UUID, datetime]]] = defaultdict(list)
    for action_id, due in rows:
        by_second[due.replace(microsecond=0)].append((action_id, due))
    messages = 0
    for group in by_second.values():
        size, lead = batch_size(len(group)), prepare_lead(len(group))
        for start in range(0, len(group), size):
            batch = group[start : start + size]
            eta = min(due for _, due in batch) - lead
            delay_ms = max(0, int((eta - now).total_seconds() * 1000) + 1)
            deliver_actions.send_with_options(
                args=([str(action_id) for action_id, _ in batch],),
                delay=delay_ms or None,
            )
            messages += 1
    return messages


def enqueue_on_commit(*actions: ScheduledAction) -> None:
    """After the current transaction commits, publish those of `actions` due within the
    horizon (grouped by due second, as the dispatcher does). A broker outage only logs: the
    dispatcher publishes them later."""

    def _publish() -> None:
        now = timezone.now()
        soon = [a for a in actions if a.scheduled_for <= now + horizon()]
        if not soon:
            return
        try:
            publish([(a.pk, a.scheduled_for) for a in soon], now)
        except Exception:
            log.warning(
                "enqueue failed for %d (first id=%s); the dispatcher will retry",
                len(soon),
                soon[0].pk,
                exc_info=True,
            )
            return
        ScheduledAction.objects.filter(
            pk__in=[a.pk for a in soon], status=ActionStatus.PENDING
        ).update(enqueued_at=now)
        for action in soon:
            events.of(action, "enqueued")

    transaction.on_commit(_publish)


def enqueue_due(
    now: datetime | None = None, *, force: bool = False, progress: Progress | None = None
) -> int:
    """Publish pending actions due within the horizon that have no message on the broker,
    but those of accounts that cannot send (accounts.sending_only).

    A row counts as published once `enqueued_at` is set; one still pending well after its due
    time lost its message (purged queue, broker restart) and is published again. `force`
    publishes every one, for startup, when nothing on the broker can be trusted. Rows are
    locked with SKIP LOCKED, so two dispatchers split the work rather than repeat it.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.FOLLOWUPS_REQUEUE_AFTER_S)
    qs = ScheduledAction.objects.filter(
        status=ActionStatus.PENDING, scheduled_for__lte=now + horizon()
    )
    if force:
        needs_message = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now)
    else:
        needs_message = Q(enqueued_at__isnull=True) | Q(
            enqueued_at__lt=stale, scheduled_for__lt=stale
        )
    qs = accounts.sending_only(qs.filter(needs_message)).order_by("scheduled_for")
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                qs.select_for_update(skip_locked=True).values(
                    "pk", "prospect_id", "action_type", "scheduled_for"
                )[:PUBLISH_CHUNK]
            )
            if not rows:
                return total
            publish([(row["pk"], row["scheduled_for"]) for row in rows], now)
            ScheduledAction.objects.filter(pk__in=[row["pk"] for row in rows]).update(
                enqueued_at=now
            )
        for row in rows:
            events.of(row, "enqueued")
        total += len(rows)
        if progress:
            progress("enqueued", total)


def release_stale_claims(now: datetime | None = None) -> int:
    """Return to pending the actions whose claiming worker is gone: its claim lock vanished
    with its process or connection (see followups.claims), or, as the last resort, its claim
    is older than FOLLOWUPS_CLAIM_TIMEOUT_S.

    Safe even if that worker is only slow: a row it may have sent carries its send mark, and
    the next worker asks Telegram before anything else; a second send carries the same
    random_id; the slow worker's result no longer matches the claim token, so it is not recorded.
    """
    now = now or timezone.now()
    sending = ScheduledAction.objects.filter(status=ActionStatus.SENDING)
    tokens = set(sending.exclude(claim_token=None).values_list("claim_token", flat=True))
    gone = claims.orphaned(tokens)
    cutoff = now - timedelta(seconds=settings.FOLLOWUPS_CLAIM_TIMEOUT_S)
    released = 0
    for qs, reason in (
        (sending.filter(claim_token__in=gone), "the claiming worker is gone"),
        (sending.filter(claimed_at__lt=cutoff), "the claiming worker did not finish in time"),
    ):
        released += len(
            transition(
                qs,
                ActionStatus.SENDING,
                "released",
                level=logging.WARNING,
                event_fields={"reason": reason},
                status=ActionStatus.PENDING,
                claim_token=None,
                claimed_at=None,
                enqueued_at=None,
                last_error=f"claim released: {reason}",
            )
        )
    return released


def mark_missed(now: datetime | None = None) -> int:
    """Pending actions overdue by more than the grace period become `missed`: shown to staff,
    never sent (a "tomorrow at 10" message arriving two days late does more harm than good)."""
    now = now or timezone.now()
    return len(missed_now(ScheduledAction.objects.filter(scheduled_for__lt=now - grace())))


def missed_now(qs) -> list[dict]:
    """Mark the pending rows of `qs` missed (their due time is past the grace period). A row
    with a send mark is left to its worker: it may have reached the client (see
    ScheduledAction.send_started_at); so is one whose account cannot send: it waits for it
    (accounts.resume)."""
    reason = missed_reason()
    return transition(
        accounts.sending_only(qs.filter(send_started_at__isnull=True)),
        ActionStatus.PENDING,
        "missed",
        level=logging.WARNING,
        event_fields={"reason": reason},
        status=ActionStatus.MISSED,
        last_error=reason,
    )


def cleanup(now: datetime | None = None, progress: Progress | None = None) -> int:
    """Delete finished rows past their retention: executed, failed and missed after
    FOLLOWUPS_KEEP_EXECUTED_DAYS, cancelled after FOLLOWUPS_KEEP_CANCELLED_DAYS. In chunks, so
    the first cleanup of a large table holds no long transaction."""
    now = now or timezone.now()
    finished = [ActionStatus.EXECUTED, ActionStatus.FAILED, ActionStatus.MISSED]
    old = Q(
        status__in=finished,
        updated_at__lt=now - timedelta(days=settings.FOLLOWUPS_KEEP_EXECUTED_DAYS),
    ) | Q(
        status=ActionStatus.CANCELLED,
        updated_at__lt=now - timedelta(days=settings.FOLLOWUPS_KEEP_CANCELLED_DAYS),
    )
    deleted = 0
    while ids := list(ScheduledAction.objects.filter(old).values_list("pk", flat=True)[:CHUNK]):
        ScheduledAction.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        if progress:
            progress("deleted", deleted)
    return deleted


@dataclass
class ReconcileReport:
    released: int = 0
    missed: int = 0
    enqueued: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        return (
            f"released {self.released} stale claims, marked {self.missed} missed, "
            f"enqueued {self.enqueued}, deleted {self.deleted} old rows"
        )


def reconcile(
    *,
    force: bool,
    clean: bool = True,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ReconcileReport:
    """One pass: release dead claims, apply the missed-run policy, publish what is due soon,
    and (if `clean`) delete old rows. Order matters: a released claim is published in the
    same pass, and nothing beyond grace is published."""
    now = now or timezone.now()
    report = ReconcileReport()
    report.released = release_stale_claims(now)
    report.missed = mark_missed(now)
    report.enqueued = enqueue_due(now, force=force, progress=progress)
    if clean:
        report.deleted = cleanup(now, progress=progress)
    Heartbeat.objects.update_or_create(name="dispatcher", defaults={"beat_at": timezone.now()})
    return report
