"""Publishing delivery messages: which rows a message names, and when it fires.

Actions due in the same second travel together: a burst pays a few broker round trips per second
of due time, not one per action. A message fires a little before its rows are due (prepare_lead:
more for a larger due second, at most PREPARE_LEAD). Its worker claims and writes them in that
time and sends at the due instant, after the re-check under the client's lock
(followups.delivery): a burst's lateness then pays for the sends only, not for the work before
them.

Messages are built here by actor name and queue, as `Actor.send_with_options` builds them, so
this module needs no import of followups.actors (which imports delivery, which publishes).
"""

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import dramatiq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

import followups.bulk  # noqa: F401  registers the `__any` lookup publish_soon filters with
from followups import events
from followups.models import ActionStatus, ScheduledAction

log = logging.getLogger(__name__)

# The actor that delivers the actions a message names (followups.actors declares it under this
# name, on settings.FOLLOWUPS_QUEUE).
ACTOR_NAME = "deliver_actions"

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
# Rows locked and published per transaction: a due second of up to this many is published in
# one call, so that batch_size sees all of it.
PUBLISH_CHUNK = FAN_OUT * MAX_BATCH


def horizon() -> timedelta:
    return timedelta(seconds=settings.FOLLOWUPS_ENQUEUE_HORIZON_S)


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
    broker = dramatiq.get_broker()
    queue = settings.FOLLOWUPS_QUEUE
    broker.declare_queue(queue)  # as declaring the actor does, where the actor is not loaded
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
            message = dramatiq.Message(
                queue_name=queue,
                actor_name=ACTOR_NAME,
                args=([str(action_id) for action_id, _ in batch],),
                kwargs={},
                options={},
            )
            broker.enqueue(message, delay=delay_ms or None)
            messages += 1
    return messages


def publish_soon(actions: Sequence[ScheduledAction]) -> None:
    """Publish those of `actions` due within the horizon (grouped by due second) and mark them
    enqueued. A broker outage only logs: the dispatcher's next pass publishes them."""
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
        pk__any=[a.pk for a in soon], status=ActionStatus.PENDING
    ).update(enqueued_at=now)
    for action in soon:
        events.of(action, "enqueued")


def enqueue_on_commit(*actions: ScheduledAction) -> None:
    """publish_soon(actions) once the current transaction commits."""
    transaction.on_commit(lambda: publish_soon(actions))
