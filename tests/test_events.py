"""Every lifecycle step is logged with the action's ids, as JSON lines when configured."""

import json
import logging

from followups import delivery, dispatcher, services
from followups.messenger import TransientSendError
from project.logging import JsonFormatter
from tests.conftest import soon


def events_of(caplog, action) -> list[dict]:
    return [
        r.fields
        for r in caplog.records
        if r.name == "followups.events" and r.fields["action_id"] == str(action.pk)
    ]


def test_lifecycle_events_carry_ids_and_lateness(
    caplog, broker, transactional_db, prospect, messenger
):
    caplog.set_level(logging.INFO, logger="followups.events")
    action = services.schedule_action(
        prospect, "follow_up", soon(0), payload={"message_template": "секретный текст"}
    )
    messenger.fail_next(TransientSendError("timeout"))
    delivery.deliver([action.pk])
    type(action).objects.filter(pk=action.pk).update(scheduled_for=soon(0))
    delivery.deliver([action.pk])
    seen = events_of(caplog, action)
    assert [e["event"] for e in seen] == [
        "action.created",
        "action.enqueued",
        "action.claimed",
        "action.retried",
        "action.enqueued",  # the retry is due within the horizon
        "action.claimed",
        "action.executed",
    ]
    assert {e["prospect_id"] for e in seen} == {prospect.pk}
    assert {e["type"] for e in seen} == {"follow_up"}
    assert seen[3]["reason"] == "timeout"
    assert isinstance(seen[-1]["lateness_ms"], int)
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["event"] == "action.executed"
    assert line["action_id"] == str(action.pk)
    assert "секретный" not in caplog.text  # ids, never message bodies


def test_bulk_transitions_log_each_row(caplog, transactional_db, make_prospect, settings):
    caplog.set_level(logging.INFO, logger="followups.events")
    settings.FOLLOWUPS_MISSED_GRACE_S = 60
    actions = [services.schedule_action(make_prospect(), "follow_up", soon(3600)) for _ in range(3)]
    type(actions[0]).objects.update(scheduled_for=soon(-600))
    assert dispatcher.mark_missed() == 3
    missed = [r.fields for r in caplog.records if r.fields["event"] == "action.missed"]
    assert sorted(e["action_id"] for e in missed) == sorted(str(a.pk) for a in actions)
    assert all(r.levelname == "WARNING" for r in caplog.records if "missed" in r.fields["event"])
