"""Dramatiq actors. Thin: the work is in followups.delivery."""

import traceback

import dramatiq
from django.conf import settings

from followups import delivery, publishing

MAX_RETRIES = 3


def retry_when(retries: int, exception: BaseException) -> bool:
    """Whether Dramatiq retries a failed message (False: it is dead-lettered at once).

    The rows carry their own retry policy; a Dramatiq retry only covers a crash before the
    claim (e.g. the database was away), and a claimed row is not claimed again by it. A message
    whose arguments do not fit the actor's signature fails the same way every time: Python
    refuses the call with a TypeError before the actor's body runs, so its traceback never
    reaches the actor's code. This predicate also overrides a `max_retries` the message itself
    carries."""
    if isinstance(exception, TypeError):
        frames = traceback.walk_tb(exception.__traceback__)
        if all(frame.f_code is not deliver_actions.fn.__code__ for frame, _ in frames):
            return False
    return retries < MAX_RETRIES


@dramatiq.actor(
    actor_name=publishing.ACTOR_NAME,
    queue_name=settings.FOLLOWUPS_QUEUE,
    retry_when=retry_when,
    min_backoff=1_000,
    max_backoff=30_000,
    time_limit=settings.FOLLOWUPS_CLAIM_TIMEOUT_S * 1000,
)
def deliver_actions(action_ids: list[str]) -> None:
    """Deliver the named actions that are pending and due (a no-op for any other)."""
    delivery.deliver(delivery.parse_ids(action_ids))
