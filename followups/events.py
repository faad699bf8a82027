"""Lifecycle events of scheduled actions: one log line each, with structured fields.

Every step an action takes — created, enqueued, claimed, executed, deferred, retried, failed,
cancelled, missed, released, rescheduled — is logged here with the action id, prospect id,
type and due time (plus lateness, reason … where they apply). With LOG_FORMAT=json each line is
a JSON object with these fields (project/logging.py); otherwise `key=value` text. Ids only:
never a message text.
"""

import logging
from datetime import datetime
from typing import Any

log = logging.getLogger("followups.events")


def action_event(
    event: str,
    *,
    action_id: object,
    prospect_id: object,
    action_type: str,
    due: datetime,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    data = {
        "event": f"action.{event}",
        "action_id": str(action_id),
        "prospect_id": prospect_id,
        "type": action_type,
        "due": due.isoformat(),
        **fields,
    }
    log.log(level, " ".join(f"{k}={v}" for k, v in data.items()), extra={"fields": data})


def of(action, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """`action_event` for a ScheduledAction (or a row dict from `transition`)."""
    get = action.get if isinstance(action, dict) else lambda name: getattr(action, name)
    action_event(
        event,
        action_id=get("pk"),
        prospect_id=get("prospect_id"),
        action_type=get("action_type"),
        due=get("scheduled_for"),
        level=level,
        **fields,
    )


def lateness_ms(due: datetime, at: datetime) -> int:
    return int((at - due).total_seconds() * 1000)
