"""The delivery actor's retries: a message that does not fit its signature is dead-lettered at
once; a crash inside the actor (the database away) is retried, three times at most."""

import dramatiq
import pytest
from django.conf import settings
from django.db import OperationalError
from dramatiq.common import xq_name

from followups import delivery
from followups.actors import deliver_actions
from tests.conftest import wait_until

pytestmark = pytest.mark.services  # dead letters are RabbitMQ's

QUEUE = settings.FOLLOWUPS_QUEUE
FAST = {"min_backoff": 10, "max_backoff": 20}  # retry within milliseconds, not seconds


def dead_letter(broker) -> dramatiq.Message:
    """The one message on the test queue's dead-letter queue, once it is there."""
    wait_until(lambda: broker.get_queue_message_counts(QUEUE)[2] == 1, timeout=5)
    *_, body = broker.channel.basic_get(xq_name(QUEUE), auto_ack=True)
    return dramatiq.Message.decode(body)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (([], []), {}), (([],), {"evil": True}), (([],), {"action_ids": []})],
    ids=["no arguments", "two arguments", "unknown keyword", "an argument twice"],
)
def test_a_message_that_does_not_fit_the_signature_is_dead_lettered_at_once(
    worker, broker, args, kwargs
):
    # The actor's own backoff (1 s, doubling): three retries would take 7 s or more.
    broker.enqueue(dramatiq.Message(QUEUE, deliver_actions.actor_name, args, kwargs, {}))
    assert "retries" not in dead_letter(broker).options  # never retried


@pytest.mark.parametrize("error", [OperationalError, TypeError])
def test_a_crash_inside_the_actor_is_retried(worker, broker, monkeypatch, error):
    calls = []

    def crash_once(ids):
        calls.append(ids)
        if len(calls) == 1:
            raise error("the database is away, or a bug")

    monkeypatch.setattr(delivery, "deliver", crash_once)
    deliver_actions.send_with_options(args=([],), **FAST)
    wait_until(lambda: len(calls) == 2)


def test_three_retries_at_most_whatever_the_message_asks(worker, broker, monkeypatch):
    calls = []

    def crash(ids):
        calls.append(ids)
        raise OperationalError("the database is away")

    monkeypatch.setattr(delivery, "deliver", crash)
    deliver_actions.send_with_options(args=([],), max_retries=1000, **FAST)
    assert dead_letter(broker).options["retries"] == 3
    assert len(calls) == 4
