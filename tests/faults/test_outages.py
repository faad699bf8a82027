"""The servers going away under a running system: RabbitMQ stopped and restarted with messages
in flight (kept, or lost with every queue purged), database connections dropped, Postgres
restarted. The shared servers are never touched: the product's processes reach them through
a TCP proxy the test cuts, or have their backends terminated."""

import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from followups.models import ActionStatus, Prospect, ScheduledAction
from tests.faults.accounting import settle
from tests.faults.scenario import (
    APPLICATION_NAME,
    make_prospects,
    purge_queues,
    schedule_follow_ups,
    spread,
    store_follow_ups,
)

pytestmark = pytest.mark.services

OUTAGE_S = 4  # at least; longer when the product takes longer to run into it
# How long a fault test waits for its fault to have happened (work under way, an error logged).
FAULT_TIMEOUT_S = 30
# A follow-up due later than this from now cannot be sent before a cut made right away.
HELD_MARGIN = timedelta(seconds=0.5)
# Log lines that prove the product noticed the outage.
CONSUMER_LOST = "Consumer encountered a connection error"
PASS_FAILED = "dispatcher pass failed"
TASK_FAILED = "Failed to process message"


def start_cluster(cluster) -> None:
    """Two workers and a dispatcher."""
    cluster.worker()
    cluster.worker()
    cluster.dispatcher()
    cluster.wait_ready()


def wait_for(what: str, predicate: Callable[[], object], cluster) -> None:
    """Poll until `predicate()` holds; fail naming `what`, with the logs, after a deadline."""
    deadline = time.monotonic() + FAULT_TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {FAULT_TIMEOUT_S} s: {what}\n{cluster.log_tails()}")
        time.sleep(0.05)


def schedule_work(prospects: list[Prospect]) -> int:
    """One follow-up per prospect through the product's service: a fifth due within the next
    1.5 s; the rest due over OUTAGE_S s from a second after they have all been scheduled, for
    the fault to strike while they go out. Scheduling is slow on a loaded machine (45 ms a
    follow-up at load 6), so their due times allow for twice the pace the first fifth was
    scheduled at. Returns the size of that first fifth."""
    early, rest = prospects[: len(prospects) // 5], prospects[len(prospects) // 5 :]
    started = time.monotonic()
    schedule_follow_ups(early, spread(len(early), start=0.5, seconds=1))
    pace = (time.monotonic() - started) / len(early)
    start = 1 + 2 * pace * len(rest)
    schedule_follow_ups(rest, spread(len(rest), start=start, seconds=OUTAGE_S))
    return len(early)


def sent() -> int:
    return ScheduledAction.objects.filter(status=ActionStatus.EXECUTED).count()


def held() -> int:
    """Follow-ups published to the broker and not due yet: their messages are held by a worker
    until then, or wait in a queue."""
    return ScheduledAction.objects.filter(
        status=ActionStatus.PENDING,
        enqueued_at__isnull=False,
        scheduled_for__gt=timezone.now() + HELD_MARGIN,
    ).count()


def wait_for_work_under_way(cluster, early: int) -> int:
    """Until the follow-ups after the `early` ones have begun to go out and others of them are
    still held on the broker: the moment to strike. Returns how many are held."""
    counts = {}

    def under_way() -> bool:
        counts.update(sent=sent(), held=held())
        return counts["sent"] > early and counts["held"] > 0

    wait_for("follow-ups going out while others are held for later", under_way, cluster)
    return counts["held"]


def hold_outage(started: float, what: str, noticed: Callable[[], object], cluster) -> None:
    """Keep a fault in place until the product has run into it (`noticed`) and for at least
    OUTAGE_S since `started` (monotonic)."""
    wait_for(what, noticed, cluster)
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))


@pytest.mark.parametrize("purge", [False, True], ids=["messages_kept", "every_queue_purged"])
def test_broker_restarted_with_messages_in_flight(cluster, broker_proxy, telegram, report, purge):
    """RabbitMQ goes away for a few seconds while the workers hold delayed messages, and more
    follow-ups are scheduled meanwhile (as if their publish had failed: only their rows know
    them). With `purge`, it comes back empty, as a broker recreated without its volume."""
    start_cluster(cluster)
    prospects = make_prospects(150)
    early = schedule_work(prospects[:100])

    in_flight = wait_for_work_under_way(cluster, early)  # some sent, the rest held by the workers
    broker_proxy.stop()  # RabbitMQ takes back what the workers held, unacked
    cut_at = time.monotonic()
    store_follow_ups(prospects[100:], spread(50, start=0.5, seconds=OUTAGE_S))
    hold_outage(
        cut_at,
        "the workers' consumers and a dispatcher pass failed on the broker",
        lambda: cluster.grep(CONSUMER_LOST) > 0 and cluster.grep(PASS_FAILED) > 0,
        cluster,
    )
    purged = purge_queues() if purge else 0
    broker_proxy.start()
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    lost = f"every queue purged ({purged} messages lost)" if purge else "messages kept"
    report(
        f"RabbitMQ away {OUTAGE_S} s with messages in flight; {lost}",
        account,
        f"{in_flight} follow-ups held on the broker at the cut; "
        f"{cluster.grep(CONSUMER_LOST)} consumer connection errors, "
        f"{cluster.grep(PASS_FAILED)} dispatcher passes failed",
    )
    assert account.problems == []
    if purge:
        assert purged > 0, "nothing was in flight to lose"
    assert account.statuses == {ActionStatus.EXECUTED: 150}
    assert cluster.grep(CONSUMER_LOST) > 0
    assert cluster.grep(PASS_FAILED) > 0


def terminate_product_backends(dsn: str) -> int:
    """Drop every database connection of the product's processes (not the fake Telegram's,
    not the test's). Returns how many."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                (APPLICATION_NAME,),
            ).fetchall()
        )


def test_database_connections_dropped(cluster, telegram, report):
    """Every connection of the workers and the dispatcher is terminated, twice a second
    for four seconds, while follow-ups come due: mid-claim, mid-send, mid-record."""
    start_cluster(cluster)
    early = schedule_work(make_prospects(150))

    in_flight = wait_for_work_under_way(cluster, early)
    dropped = 0
    for _ in range(8):
        dropped += terminate_product_backends(telegram.dsn)
        time.sleep(0.5)
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    report(
        "pg_terminate_backend on every product connection, 8× in 4 s",
        account,
        f"{in_flight} follow-ups held on the broker at the first drop; {dropped} connections "
        f"dropped; {cluster.grep(TASK_FAILED)} worker messages failed (retried)",
    )
    assert account.problems == []
    assert account.statuses == {ActionStatus.EXECUTED: 150}
    assert dropped > 0


def test_postgres_restarted(cluster, db_proxy, telegram, report):
    """Postgres goes away for a few seconds (every connection dropped, new ones refused) while
    follow-ups come due; Telegram stays up."""
    start_cluster(cluster)
    early = schedule_work(make_prospects(150))

    in_flight = wait_for_work_under_way(cluster, early)  # due during the outage, sent after it
    db_proxy.stop()
    hold_outage(
        time.monotonic(),
        "a worker message and a dispatcher pass failed on the database",
        lambda: cluster.grep(TASK_FAILED) > 0 and cluster.grep(PASS_FAILED) > 0,
        cluster,
    )
    db_proxy.start()
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    report(
        f"Postgres away {OUTAGE_S} s (connections dropped, new ones refused)",
        account,
        f"{in_flight} follow-ups held on the broker at the cut; "
        f"{cluster.grep(TASK_FAILED)} worker messages failed (retried), "
        f"{cluster.grep(PASS_FAILED)} dispatcher passes failed",
    )
    assert account.problems == []
    assert account.statuses == {ActionStatus.EXECUTED: 150}
    assert cluster.grep(TASK_FAILED) > 0
    assert cluster.grep(PASS_FAILED) > 0
