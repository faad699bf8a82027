"""Garbage on the delivery queue: bytes that are no message, an unknown actor, malformed
arguments, ids that do not exist or name rows that must not be sent now.

The workers survive (no restart, and a real follow-up published afterwards is delivered), no
row changes, and each garbage message is acked or dead-lettered rather than left to loop. A
message that does not fit the actor's signature is dead-lettered at once, never retried: it
would fail the same way every time.
"""

import json
import uuid

import dramatiq
import pytest
from django.conf import settings
from django.forms.models import model_to_dict
from dramatiq.common import dq_name, xq_name

from followups import services
from followups.actors import deliver_actions
from followups.models import ActionStatus, ScheduledAction
from tests.conftest import soon, wait_until
from tests.faults.accounting import settle
from tests.faults.scenario import (
    make_prospects,
    publish_raw,
    queue_depth,
    rabbitmq,
    schedule_follow_ups,
)

pytestmark = pytest.mark.services

QUEUE = settings.FOLLOWUPS_QUEUE


def message(args=(), kwargs=None, actor: str = deliver_actions.actor_name, **options) -> bytes:
    return dramatiq.Message(QUEUE, actor, tuple(args), kwargs or {}, options).encode()


def raw(**fields) -> bytes:
    """A JSON body shaped like a message, with any field wrong."""
    base = json.loads(message([[]]))
    return json.dumps(base | fields).encode()


# name → (body, ends in the dead-letter queue?)
GARBAGE = {
    "bytes that are not JSON": (b"\x00\xff not json", True),
    "JSON that is not a message": (b'{"hello": "world"}', True),
    "a message whose args is a number": (raw(args=5), True),
    "an unknown actor": (message(["x"], actor="no_such_actor"), True),
    "no arguments": (message(), True),
    "three arguments": (message([[], [], []]), True),
    "an unknown keyword argument": (message([[]], {"evil": True}), True),
    "wrong arguments asking for 1,000 retries": (message(max_retries=1000), True),
    "a string instead of a list of ids": (message(["not-a-list"]), False),
    "a number instead of a list of ids": (message([42]), False),
    "nested junk": (message([[[1, [2]], {"a": None}, None, "zzz", 3.5]]), False),
    "20,000 unknown ids": (message([[str(uuid.uuid4()) for _ in range(20_000)]]), False),
    "an id that does not exist": (message([[str(uuid.uuid4())]]), False),
    "an eta that is not a number": (message([[]], eta="tomorrow"), False),
    "junk retry options": (message([], retries="many", max_retries="x"), False),
}


def dead_letters() -> list[bytes]:
    """The bodies on the dead-letter queue, taken off it."""
    bodies = []
    with rabbitmq() as channel:
        while (got := channel.basic_get(xq_name(QUEUE), auto_ack=True))[0]:
            bodies.append(got[2])
    return bodies


def retried(body: bytes) -> bool:
    try:
        return "retries" in dramatiq.Message.decode(body).options
    except dramatiq.errors.DecodeError:
        return False  # not a message at all


def snapshot() -> dict:
    """Every action row, every field."""
    return {
        a.pk: model_to_dict(a) | {"updated_at": a.updated_at} for a in ScheduledAction.objects.all()
    }


def test_garbage_on_the_queue(cluster, telegram, report):
    """Garbage next to a sent action and one due tomorrow, then a real follow-up."""
    workers = [cluster.worker(), cluster.worker()]
    cluster.dispatcher()
    cluster.wait_ready()
    early, tomorrow, late = make_prospects(3)
    (sent,) = schedule_follow_ups([early], [soon(0.5)])
    wait_until(lambda: ScheduledAction.objects.filter(status=ActionStatus.EXECUTED).exists())
    (future,) = schedule_follow_ups([tomorrow], [soon(24 * 3600)])
    before = snapshot()

    bodies = [body for body, _ in GARBAGE.values()]
    # A late duplicate of a sent action's message, and a forged one for tomorrow's action.
    bodies += [message([[str(sent.pk)]]), message([[str(future.pk)]])]
    publish_raw(bodies)
    publish_raw([message([[str(uuid.uuid4())]], eta=0)], dq_name(QUEUE))
    (real,) = schedule_follow_ups([late], [soon(1)])

    dead = sum(dead for _, dead in GARBAGE.values())
    wait_until(lambda: queue_depth(xq_name(QUEUE)) >= dead, timeout=40, step=0.5)
    wait_until(lambda: ScheduledAction.objects.get(pk=real.pk).status == ActionStatus.EXECUTED)
    # A message on its way from the delay queue to the queue is not left behind by a loaded
    # machine; one that loops is still caught below, where the workers give it back.
    wait_until(lambda: queue_depth(QUEUE) + queue_depth(dq_name(QUEUE)) == 0, step=0.5)
    cluster.stop()  # anything the workers still held goes back to the queues
    assert (queue_depth(QUEUE), queue_depth(dq_name(QUEUE))) == (0, 0)
    dead_lettered = dead_letters()
    assert len(dead_lettered) == dead
    assert not any(retried(body) for body in dead_lettered), "a dead letter was retried first"
    assert [w.restarts for w in workers] == [0, 0]
    after = snapshot()
    del after[real.pk]
    assert after == before, "garbage changed a row"
    services.cancel_action(future, "test over")
    account = settle(telegram, timeout=5)

    report(
        f"{len(bodies) + 1} garbage messages on the queue and its delay queue",
        account,
        f"{dead} dead-lettered (none retried first), the rest acked as no-ops; workers "
        "restarted 0×; "
        "a real follow-up published afterwards delivered",
    )
    assert account.problems == []
    assert account.deliveries == 2
