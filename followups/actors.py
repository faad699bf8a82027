"""Dramatiq actors. Thin: the work is in followups.delivery."""

import dramatiq
from django.conf import settings

from followups import delivery


@dramatiq.actor(
    queue_name=settings.FOLLOWUPS_QUEUE,
    # The rows carry their own retry policy; a Dramatiq retry only covers a crash before the
    # claim (e.g. the database was away), and a claimed row is not claimed again by it.
    max_retries=3,
    min_backoff=1_000,
    max_backoff=30_000,
    time_limit=settings.FOLLOWUPS_CLAIM_TIMEOUT_S * 1000,
)
def deliver_actions(action_ids: list[str]) -> None:
    """Deliver the named actions that are pending and due (a no-op for any other)."""
    delivery.deliver(delivery.parse_ids(action_ids))
