"""Moves rows from Postgres onto the broker, and keeps the rows honest.

A broker message is a hint that names rows; the rows are the truth (docs/design.md, invariant 1).
Only actions due within the horizon are published, with their remaining delay, so no worker
holds long-delayed messages (invariant 5); followups.publishing cuts them into messages.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from followups import accounts, claims, events
from followups.models import ActionStatus, Heartbeat, ScheduledAction
from followups.publishing import PUBLISH_CHUNK, horizon, publish
from followups.transitions import grace, missed_now, transition

log = logging.getLogger(__name__)

# Rows deleted per transaction by the cleanup.
CHUNK = 1000
# Told how far a long pass has got: (what, count so far). The command draws a progress line.
Progress = Callable[[str, int], None]


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
