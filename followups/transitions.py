"""Compare-and-set status changes of many rows at once, with an event for each row changed."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from followups import accounts, events
from followups.models import ActionStatus, ScheduledAction

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
    if connection.vendor == "postgresql":
        changed = _update_returning(qs, from_status, {**changes, "updated_at": now})
    else:
        changed = _select_then_update(qs, from_status, {**changes, "updated_at": now})
    for row in changed:
        events.of(row, event, level=level, **(event_fields or {}))
    return changed


_RETURNED = ("pk", "prospect_id", "action_type", "scheduled_for")


def _update_returning(qs: QuerySet, from_status: str, changes: dict) -> list[dict]:
    """One statement: UPDATE … WHERE pk IN (the query) AND status = from … RETURNING. A
    client's reply cancelling their follow-ups is on the listener's path: one round trip."""
    meta, quote = ScheduledAction._meta, connection.ops.quote_name
    try:
        subquery, sub_params = qs.filter(status=from_status).values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. pk__in=[]: nothing can match
        return []
    assignments, params = [], []
    for name, value in changes.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    columns = [quote(meta.get_field(name).column) for name in ("id", *_RETURNED[1:])]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE {columns[0]} IN ({subquery}) AND {quote(meta.get_field('status').column)} = %s "
        f"RETURNING {', '.join(columns)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *sub_params, from_status])
        return [dict(zip(_RETURNED, row, strict=True)) for row in cursor.fetchall()]


def _select_then_update(qs: QuerySet, from_status: str, changes: dict) -> list[dict]:
    """Elsewhere (the demo's SQLite): the candidates, then a compare-and-set per chunk; the
    rows someone else moved first are told apart by `updated_at`, unique to this call."""
    candidates = list(qs.filter(status=from_status).values(*_RETURNED))
    changed: list[dict] = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        ids = [row["pk"] for row in chunk]
        count = ScheduledAction.objects.filter(pk__in=ids, status=from_status).update(**changes)
        if count < len(chunk):
            ours = set(
                ScheduledAction.objects.filter(
                    pk__in=ids, updated_at=changes["updated_at"]
                ).values_list("pk", flat=True)
            )
            chunk = [row for row in chunk if row["pk"] in ours]
        changed += chunk
    return changed


def grace() -> timedelta:
    """How overdue an action may be and still be sent; beyond it, it is missed."""
    return timedelta(seconds=settings.FOLLOWUPS_MISSED_GRACE_S)


def missed_reason() -> str:
    return f"overdue by more than {settings.FOLLOWUPS_MISSED_GRACE_S} s; not sent"


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
