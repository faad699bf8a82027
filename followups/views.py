"""/healthz and /metrics: for load balancers, compose health checks and Prometheus."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from followups import health
from followups.models import ActionStatus, ActionType


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer and the dispatcher's heartbeat is fresh;
    503 otherwise, saying which part is unwell."""
    if not health.database_ok():
        return JsonResponse({"ok": False, "database": False}, status=503)
    snap = health.snapshot()
    body = {
        "ok": snap.queues is not None and snap.dispatcher_fresh,
        "database": True,
        "broker": snap.queues is not None,
        "dispatcher_heartbeat_age_s": snap.heartbeat_age_s,
        "overdue": snap.overdue,
    }
    return JsonResponse(body, status=200 if body["ok"] else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, computed from the rows at scrape time: every process's work is
    in them, so no multi-process counter store is needed."""
    snap = health.snapshot()
    lines = [
        "# HELP followups_actions Scheduled actions by status and type.",
        "# TYPE followups_actions gauge",
    ]
    for status in ActionStatus.values:
        for action_type in ActionType.values:
            n = snap.counts.get((status, action_type), 0)
            lines.append(f'followups_actions{{status="{status}",type="{action_type}"}} {n}')
    lines += [
        "# HELP followups_overdue Pending actions past their due time.",
        "# TYPE followups_overdue gauge",
        f"followups_overdue {snap.overdue}",
        "# HELP followups_sends Sends by outcome in the window.",
        "# TYPE followups_sends gauge",
        f'followups_sends{{outcome="executed",window="1h"}} {snap.sent_last_hour}',
        f'followups_sends{{outcome="executed",window="1d"}} {snap.sent_last_day}',
        f'followups_sends{{outcome="failed",window="1d"}} {snap.failed_last_day}',
        "# HELP followups_lateness_seconds Lateness of the sends in the last hour.",
        "# TYPE followups_lateness_seconds histogram",
    ]
    late = sorted(snap.lateness_last_hour)
    for bound in health.LATENESS_BUCKETS:
        within = sum(1 for seconds in late if seconds <= bound)
        lines.append(f'followups_lateness_seconds_bucket{{le="{bound}"}} {within}')
    lines += [
        f'followups_lateness_seconds_bucket{{le="+Inf"}} {len(late)}',
        f"followups_lateness_seconds_sum {sum(late):.3f}",
        f"followups_lateness_seconds_count {len(late)}",
        "# HELP followups_queue_messages Messages waiting on the broker.",
        "# TYPE followups_queue_messages gauge",
    ]
    for queue, n in (snap.queues or {}).items():
        lines.append(f'followups_queue_messages{{queue="{queue}"}} {n}')
    lines += [
        "# HELP followups_broker_up Whether the broker answered.",
        "# TYPE followups_broker_up gauge",
        f"followups_broker_up {int(snap.queues is not None)}",
        "# HELP followups_dispatcher_heartbeat_age_seconds Since the dispatcher's last pass.",
        "# TYPE followups_dispatcher_heartbeat_age_seconds gauge",
        f"followups_dispatcher_heartbeat_age_seconds {snap.heartbeat_age_s or -1:.1f}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")
