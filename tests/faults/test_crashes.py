"""Processes dying at the worst moments: a worker killed between claim and send and between
send and record, over and over; the dispatcher killed mid-run; two dispatchers at once."""

import time

import pytest

from followups.models import ActionStatus
from tests.faults.accounting import settle
from tests.faults.scenario import (
    CRASHING_MESSENGER,
    make_prospects,
    schedule_follow_ups,
    spread,
    store_follow_ups,
)

pytestmark = pytest.mark.services

KILLS = 2  # at each of the two points
ROWS = 200  # follow-ups that only a dispatcher can put on the broker
DISPATCHER_KILLS = 3


def test_worker_killed_before_and_after_send(cluster, telegram, report):
    """SIGKILL twice right before a send (claimed, not sent) and twice right after it (sent,
    not recorded); the workers are restarted each time, the dispatcher releases the dead
    claims. Every client gets exactly one message."""
    telegram.arm(before_send=KILLS, after_send=KILLS)
    cluster.env["FOLLOWUPS_MESSENGER"] = CRASHING_MESSENGER
    workers = [cluster.worker(), cluster.worker()]
    cluster.dispatcher()
    cluster.wait_ready()
    schedule_follow_ups(make_prospects(60), spread(60, start=1, seconds=4))

    account = settle(telegram, timeout=120, on_timeout=cluster.log_tails)

    report(
        f"kill -9 of a worker: {KILLS}× between claim and send, {KILLS}× between send and record",
        account,
    )
    assert account.problems == []
    assert telegram.armed() == {"before_send": 0, "after_send": 0}
    assert account.kills == 2 * KILLS
    assert sum(w.restarts for w in workers) == 2 * KILLS
    assert account.statuses == {ActionStatus.EXECUTED: 60}
    # Each action sent and then killed was sent again, and Telegram deduplicated it.
    assert account.attempts >= account.deliveries + KILLS


@pytest.mark.parametrize("dispatchers", [1, 2], ids=["one_dispatcher", "two_dispatchers"])
def test_dispatcher_killed_mid_run(cluster, telegram, report, dispatchers):
    """Rows that enter the horizon (1 s here) reach the broker only through a dispatcher,
    and a dispatcher is SIGKILLed again and again while it publishes them; with two, they race over
    the same rows and each restart republishes everything due (its startup pass)."""
    cluster.env["FOLLOWUPS_ENQUEUE_HORIZON_S"] = "1"
    cluster.worker()
    cluster.worker()
    running = [cluster.dispatcher() for _ in range(dispatchers)]
    cluster.wait_ready()
    store_follow_ups(make_prospects(ROWS), spread(ROWS, start=1, seconds=4))

    for kill in range(DISPATCHER_KILLS):
        time.sleep(1)
        running[kill % dispatchers].kill()
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    report(
        f"{dispatchers} dispatcher(s) + 2 workers; a dispatcher killed -9 {DISPATCHER_KILLS}× "
        "mid-run",
        account,
    )
    assert account.problems == []
    assert sum(d.restarts for d in running) == DISPATCHER_KILLS
    assert account.statuses == {ActionStatus.EXECUTED: ROWS}
