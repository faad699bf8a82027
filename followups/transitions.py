"""Compare-and-set status changes of many rows at once, with an event for each row changed."""

import logging

from django.db.models import QuerySet
from django.utils import timezone

from followups import events
from followups.models import ScheduledAction

# Ids per statement: PostgreSQL takes at most 65,535 parameters in one.
CHUNK = 5000


def transition(
    qs: QuerySet[ScheduledAction],
    from_status: str,
    event: str,
    *,
    level: int = logging.INFO,
    event_fields: dict | None = None,
    **changes,
) -> list[dict]:
    """Move the rows of `qs` that are in `from_status` to `changes`, each only if it is still
    in that status when the UPDATE reaches it. Returns the rows this call changed (pk,
    prospect_id, action_type, scheduled_for) — not those someone else moved first — and logs
    `event` for each."""
    now = timezone.now()
    candidates = list(
        qs.filter(status=from_status).values("pk", "prospect_id", "action_type", "scheduled_for")
    )
    changed: list[dict] = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        ids = [row["pk"] for row in chunk]
        count = ScheduledAction.objects.filter(pk__in=ids, status=from_status).update(
            updated_at=now, **changes
        )
        if count < len(chunk):  # someone moved some first; `now` is unique to this call
            ours = set(
                ScheduledAction.objects.filter(pk__in=ids, updated_at=now).values_list(
                    "pk", flat=True
                )
            )
            chunk = [row for row in chunk if row["pk"] in ours]
        changed += chunk
    for row in changed:
        events.of(row, event, level=level, **(event_fields or {}))
    return changed
