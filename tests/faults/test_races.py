"""A client's message (or opt-out) racing a follow-up due the same second.

Whatever the interleaving, a follow-up is either sent before the client's message is recorded
(the worker held the client's row while sending, so the message waited for it), or not sent
at all and cancelled with the reason. Never sent after the message is recorded.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from followups import services
from followups.models import ActionStatus, Prospect
from tests.faults.accounting import settle
from tests.faults.scenario import make_prospects, store_follow_ups

pytestmark = pytest.mark.services

PROSPECTS = 60


def reply(prospect: Prospect) -> None:
    services.record_client_message(prospect, "а можно подробнее?")


def opt_out(prospect: Prospect) -> None:
    services.opt_out(prospect)


# What each kind of racer expects when it wins.
CANCEL_REASON = {reply: "client_responded", opt_out: "opted_out"}


def race(prospect: Prospect, act: Callable[[Prospect], None], at: datetime, out: dict) -> None:
    """At `at`, do `act` (it locks the client's row) and note in `out` the DB clock while the
    transaction still holds that lock. A worker holds the same lock from its re-check through
    its send to its commit, so a correct one sent before this instant or not at all: a send
    stamped later went out after the client's message was recorded."""
    try:
        time.sleep(max(0.0, (at - timezone.now()).total_seconds()))
        with transaction.atomic():
            act(prospect)
            with connection.cursor() as cursor:
                cursor.execute("SELECT clock_timestamp()")
                out[prospect.pk] = cursor.fetchone()[0]
    finally:
        connection.close()


def test_client_message_races_a_follow_up_due_the_same_second(cluster, telegram, report):
    """60 follow-ups due at the same instant, going out in one batch; around that instant 30
    of the clients write and 15 opt out, each at its own moment from 0.2 s before to 0.4 s
    after."""
    cluster.worker()
    cluster.worker()
    cluster.dispatcher()
    cluster.wait_ready()
    prospects = make_prospects(PROSPECTS)
    due = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
    actions = store_follow_ups(prospects, [due] * PROSPECTS)
    racers = {p.pk: opt_out if i % 3 == 2 else reply for i, p in enumerate(prospects[:45])}
    recorded: dict[int, datetime] = {}
    threads = [
        threading.Thread(
            target=race,
            args=(p, racers[p.pk], due + timedelta(seconds=-0.2 + 0.6 * i / 45), recorded),
        )
        for i, p in enumerate(prospects[:45])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(recorded) == 45, "a racing client thread failed"
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)
    deliveries = telegram.deliveries()
    outcomes: Counter = Counter()
    late = []
    for action in actions:
        action.refresh_from_db()
        act = racers.get(action.prospect_id)
        if act is None:
            outcomes["no race: sent"] += action.status == ActionStatus.EXECUTED
            continue
        if action.status == ActionStatus.EXECUTED:
            outcomes[f"{act.__name__}: sent first"] += 1
            if deliveries[action.random_id].sent_at >= recorded[action.prospect_id]:
                late.append(action.pk)
        else:
            outcomes[f"{act.__name__}: {action.status} {action.cancel_reason}"] += 1
            assert (action.status, action.cancel_reason) == ("cancelled", CANCEL_REASON[act])

    report(
        "30 client messages and 15 opt-outs racing 60 follow-ups due the same second",
        account,
        ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())),
    )
    assert account.problems == []
    assert late == [], "sent after the client's message or opt-out was recorded"
    assert outcomes["no race: sent"] == PROSPECTS - 45
