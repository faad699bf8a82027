"""What the system looks like right now, read from the rows and the broker: for
`manage.py followups_status`, `/healthz` and `/metrics`; and the setup checks (settings,
database, broker) that `manage.py runbot --dry-run` prints."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dramatiq
import pika
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, F, Min
from django.utils import timezone
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name

from followups.models import ActionStatus, Heartbeat, ScheduledAction

# Lateness buckets (seconds) of the sends in the last hour, for /metrics.
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


@dataclass
class Snapshot:
    now: datetime
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, type) → rows
    overdue: int = 0
    next_due: datetime | None = None
    sent_last_hour: int = 0
    sent_last_day: int = 0
    failed_last_day: int = 0
    lateness_last_hour: list[float] = field(default_factory=list)  # seconds, one per send
    heartbeat_age_s: float | None = None
    queues: dict[str, int] | None = None  # None when the broker did not answer
    broker_error: str = ""

    @property
    def dispatcher_fresh(self) -> bool:
        limit = 3 * settings.FOLLOWUPS_WATCH_INTERVAL_S + 10
        return self.heartbeat_age_s is not None and self.heartbeat_age_s <= limit


def clock_speed() -> float:
    """Seconds of `timezone.now` per real second: 1, except under the demo's fast clock, which
    says how fast it runs (bot.demo.install_clock)."""
    return float(getattr(timezone.now, "speed", 1.0))


def real_seconds(age: timedelta) -> float:
    """An age on `timezone.now`'s clock in real seconds, never negative: the freshness limit
    is about real time, whatever the clock's speed (a heartbeat written by a faster clock than
    this process's reads as just now, not from the future)."""
    return max(0.0, age.total_seconds() / clock_speed())


def queue_depths() -> dict[str, int]:
    """Messages waiting in the delivery queue, its delay queue and its dead-letter queue.
    (Delayed messages a worker already holds are not counted by RabbitMQ.)"""
    broker = dramatiq.get_broker()
    queue = settings.FOLLOWUPS_QUEUE
    if hasattr(broker, "get_queue_message_counts"):
        ready, delayed, dead = broker.get_queue_message_counts(queue)
    else:  # the in-process broker
        broker.declare_queue(queue)
        ready = broker.queues[queue].qsize()
        delayed = broker.queues[dq_name(queue)].qsize()
        dead = len(broker.dead_letters_by_queue[xq_name(queue)])
    return {"ready": ready, "delayed": delayed, "dead_letter": dead}


def snapshot() -> Snapshot:
    now = timezone.now()
    snap = Snapshot(now=now)
    rows = ScheduledAction.objects.values("status", "action_type").annotate(n=Count("pk"))
    snap.counts = {(r["status"], r["action_type"]): r["n"] for r in rows}
    pending = ScheduledAction.objects.filter(status=ActionStatus.PENDING)
    snap.overdue = pending.filter(scheduled_for__lt=now).count()
    snap.next_due = pending.filter(scheduled_for__gte=now).aggregate(m=Min("scheduled_for"))["m"]
    executed = ScheduledAction.objects.filter(status=ActionStatus.EXECUTED)
    snap.sent_last_hour = executed.filter(executed_at__gte=now - timedelta(hours=1)).count()
    snap.sent_last_day = executed.filter(executed_at__gte=now - timedelta(days=1)).count()
    snap.failed_last_day = ScheduledAction.objects.filter(
        status=ActionStatus.FAILED, updated_at__gte=now - timedelta(days=1)
    ).count()
    snap.lateness_last_hour = [
        late.total_seconds()
        for late in executed.filter(executed_at__gte=now - timedelta(hours=1))
        .annotate(late=F("executed_at") - F("scheduled_for"))
        .values_list("late", flat=True)
    ]
    beat = Heartbeat.objects.filter(name="dispatcher").first()
    snap.heartbeat_age_s = real_seconds(now - beat.beat_at) if beat else None
    try:
        snap.queues = queue_depths()
    except Exception as exc:  # the broker is down: report it, don't fail the whole snapshot
        snap.broker_error = f"{type(exc).__name__}"
    return snap


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def database_ok() -> bool:
    try:
        _ping_database()
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def check_settings() -> Check:
    """Django's system checks, followups' among them (a messenger that really sends)."""
    errors = [message for message in checks.run_checks() if message.is_serious()]
    if errors:
        return Check(
            "settings",
            False,
            "; ".join(f"{error.msg} {error.hint or ''}".strip() for error in errors),
        )
    return Check(
        "settings",
        True,
        f"{settings.SETTINGS_MODULE}; messenger {settings.FOLLOWUPS_MESSENGER}; "
        f"time zone {settings.FOLLOWUPS_DEFAULT_TZ}",
    )


def check_database() -> Check:
    try:
        _ping_database()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return Check("database", False, f"cannot use it: {first_line(exc)}")
    where = f"{connection.vendor} {connection.settings_dict.get('NAME')}"
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        return Check("database", False, f"{where}: {len(plan)} unapplied migration(s): {names}")
    return Check("database", True, f"{where}, migrations applied")


def check_broker() -> Check:
    broker = dramatiq.get_broker()
    if isinstance(broker, StubBroker):
        return Check("broker", True, "in-process stub broker (nothing leaves this process)")
    if not isinstance(broker, RabbitmqBroker):
        return Check("broker", True, f"{type(broker).__name__} (not checked)")
    params = broker.parameters if isinstance(broker.parameters, list) else [broker.parameters]
    where = ", ".join(f"{p.host}:{p.port}" for p in params)
    try:
        pika.BlockingConnection(broker.parameters).close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        return Check("broker", False, f"RabbitMQ at {where}: cannot connect: {first_line(exc)}")
    return Check("broker", True, f"RabbitMQ at {where}")
