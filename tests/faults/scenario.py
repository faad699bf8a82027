"""What the fault scenarios share: the product's settings for its processes, the follow-ups
a scenario starts from, and direct access to the RabbitMQ queues."""

from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta

import pika
from django.conf import settings
from django.db import connection
from dramatiq.common import dq_name, xq_name

from followups import services
from followups.models import ActionType, Prospect, ScheduledAction
from tests.conftest import soon

MESSENGER = "tests.faults.faketelegram.PostgresTelegram"
CRASHING_MESSENGER = "tests.faults.faketelegram.CrashingTelegram"
# The product's processes name their database connections so a test can cut exactly those.
APPLICATION_NAME = "followups_faults"

# Settings of the product's processes in every scenario; a scenario may override any.
PRODUCT_ENV = {
    "DJANGO_SETTINGS_MODULE": "project.settings",
    "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # the test run's random key
    "FOLLOWUPS_MESSENGER": MESSENGER,
    # The default: a dead worker's claims must come back because its claim lock is gone, within
    # a dispatcher pass, not because a timer ran out.
    "FOLLOWUPS_CLAIM_TIMEOUT_S": "300",
    "FOLLOWUPS_REQUEUE_AFTER_S": "3",  # a lost broker message is noticed soon
    "FOLLOWUPS_RETRY_DELAY_S": "1",
    "FOLLOWUPS_SEND_RATE_PER_MINUTE": "0",
    "FOLLOWUPS_QUIET_HOURS": "off",
    "dramatiq_worker_timeout": "50",
    "PYTHONUNBUFFERED": "1",
}


def database_url() -> str:
    """The test database, for the product's processes."""
    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        f"?application_name={APPLICATION_NAME}"
    )


def make_prospects(count: int) -> list[Prospect]:
    first = 30_000_000 + Prospect.objects.count()
    return Prospect.objects.bulk_create(
        Prospect(telegram_id=first + i, display_name=f"Client {i}") for i in range(count)
    )


def spread(count: int, start: float, seconds: float) -> list[datetime]:
    """`count` due times spread evenly over `seconds`, the first `start` seconds from now."""
    first = soon(start)
    return [first + timedelta(seconds=seconds * i / count) for i in range(count)]


def schedule_follow_ups(prospects: list[Prospect], due: list[datetime]) -> list[ScheduledAction]:
    """One follow-up per prospect through the product's own service (each is put on the broker
    after commit, as when the agent schedules it)."""
    return [
        services.schedule_action(
            prospect, ActionType.FOLLOW_UP, when, payload={"message_template": f"hi {i}"}
        )
        for i, (prospect, when) in enumerate(zip(prospects, due, strict=True))
    ]


def store_follow_ups(prospects: list[Prospect], due: list[datetime]) -> list[ScheduledAction]:
    """Follow-up rows that have no broker message yet (scheduled long ago, now coming into the
    horizon): only a dispatcher puts them on the broker."""
    return ScheduledAction.objects.bulk_create(
        ScheduledAction(
            prospect=prospect,
            action_type=ActionType.FOLLOW_UP,
            scheduled_for=when,
            payload={"message_template": f"hi {i}"},
        )
        for i, (prospect, when) in enumerate(zip(prospects, due, strict=True))
    )


@contextmanager
def rabbitmq() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel straight to RabbitMQ (never through a scenario's proxy)."""
    with closing(pika.BlockingConnection(pika.URLParameters(settings.BROKER_URL))) as conn:
        yield conn.channel()


def publish_raw(bodies: list[bytes], queue: str = settings.FOLLOWUPS_QUEUE) -> None:
    """Put bodies on a queue as they are, bypassing Dramatiq's encoder and checks."""
    with rabbitmq() as channel:
        for body in bodies:
            channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))


def queue_depth(queue: str) -> int:
    """Messages ready in a queue (not those a consumer holds unacked)."""
    with rabbitmq() as channel:
        return channel.queue_declare(queue, passive=True).method.message_count


def purge_queues(queue: str = settings.FOLLOWUPS_QUEUE) -> int:
    """Empty the delivery queue, its delay queue and its dead-letter queue; returns how many
    messages were thrown away."""
    with rabbitmq() as channel:
        return sum(
            channel.queue_purge(name).method.message_count
            for name in (queue, dq_name(queue), xq_name(queue))
        )
