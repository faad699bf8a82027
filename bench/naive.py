"""The naive design (docs/design.md, "Why not one delayed message per follow-up"): every action is
one Dramatiq message carrying its full delay, and the actor does one compare-and-set UPDATE for its
one action.

Run by `python -m dramatiq bench.naive` (the bench starts it). Django is set up here, before
any model is imported, so the project's settings configure the RabbitMQ broker exactly as
they do for the product's workers (django_dramatiq sets it when the app registry loads).
The actor is cheaper per action than the product's delivery (no prospect lock, no re-check,
no message row), which favours the naive design.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

import dramatiq  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from dramatiq.brokers.rabbitmq import RabbitmqBroker  # noqa: E402

from bench import config  # noqa: E402
from followups.models import ActionStatus, ScheduledAction  # noqa: E402

broker = dramatiq.get_broker()
if not isinstance(broker, RabbitmqBroker):
    raise RuntimeError(f"expected the project's RabbitmqBroker, got {broker!r}")
if settings.BROKER_URL.startswith("stub://"):
    raise RuntimeError("the naive bench needs the real RabbitMQ broker")


@dramatiq.actor(queue_name=config.NAIVE_QUEUE, max_retries=0)
def naive_deliver(action_id: str) -> None:
    """Mark one action executed, if it is still pending."""
    now = timezone.now()
    ScheduledAction.objects.filter(pk=action_id, status=ActionStatus.PENDING).update(
        status=ActionStatus.EXECUTED, executed_at=now, updated_at=now
    )
