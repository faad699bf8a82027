"""followups_status, /healthz and /metrics, on the real database and broker."""

import json
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from followups import delivery, dispatcher, services
from followups.models import Heartbeat, ScheduledAction


def schedule(prospect, seconds: float):
    return services.schedule_action(
        prospect, "follow_up", timezone.now() + timedelta(seconds=seconds),
        payload={"message_template": "hi"},
    )  # fmt: skip


def test_status_counts_and_json(broker, transactional_db, make_prospect):
    p = make_prospect()
    due = schedule(p, 0)
    schedule(p, 3600)
    delivery.deliver([due.pk])
    ScheduledAction.objects.create(
        prospect=p, action_type="reminder", scheduled_for=timezone.now() - timedelta(minutes=5)
    )
    dispatcher.reconcile(force=False, clean=False)
    out = StringIO()
    call_command("followups_status", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["counts"] == {
        "executed": {"follow_up": 1},
        "pending": {"follow_up": 1, "reminder": 1},
    }
    assert data["overdue"] == 1
    assert data["sent_last_hour"] == data["sent_last_day"] == 1
    assert data["dispatcher_heartbeat_age_s"] < 5
    assert set(data["queues"]) == {"ready", "delayed", "dead_letter"}
    text = StringIO()
    call_command("followups_status", stdout=text)
    assert "overdue now:          1" in text.getvalue()


def test_healthz(client, broker, transactional_db):
    response = client.get("/healthz")
    assert response.status_code == 503  # the dispatcher never ran
    assert response.json()["dispatcher_heartbeat_age_s"] is None
    dispatcher.reconcile(force=True)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "ok": True,
        "database": True,
        "broker": True,
        "dispatcher_heartbeat_age_s": response.json()["dispatcher_heartbeat_age_s"],
        "overdue": 0,
    }
    Heartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=10))
    assert client.get("/healthz").status_code == 503


def test_metrics(client, broker, transactional_db, make_prospect):
    p = make_prospect()
    action = schedule(p, 0)
    delivery.deliver([action.pk])
    schedule(p, 7200)
    body = client.get("/metrics").content.decode()
    assert 'followups_actions{status="executed",type="follow_up"} 1' in body
    assert 'followups_actions{status="pending",type="follow_up"} 1' in body
    assert 'followups_sends{outcome="executed",window="1h"} 1' in body
    assert 'followups_lateness_seconds_bucket{le="+Inf"} 1' in body
    assert "followups_lateness_seconds_count 1" in body
    assert "followups_broker_up 1" in body
    assert client.post("/metrics").status_code == 405


def test_heartbeat_age_is_in_real_seconds_under_a_fast_clock(
    transactional_db, monkeypatch, tmp_path
):
    """The demo's clock runs 60× faster: a beat half a real second ago is 0.5 s old, not 30;
    one from a clock ahead of this process's (a restarted demo) is 0, not negative."""
    from bot import demo
    from followups import health

    real = [timezone.now()]
    clock = demo.DemoClock(60, tmp_path / "clock.json", real_now=lambda: real[0])
    monkeypatch.setattr(demo, "_clock", clock)
    monkeypatch.setattr(timezone, "now", demo._now)
    assert health.clock_speed() == 60
    Heartbeat.objects.create(name="dispatcher", beat_at=timezone.now())
    real[0] += timedelta(seconds=0.5)
    assert health.snapshot().heartbeat_age_s == 0.5
    Heartbeat.objects.update(beat_at=timezone.now() + timedelta(minutes=5))
    assert health.snapshot().heartbeat_age_s == 0
