"""The servers going away under a running system: RabbitMQ stopped and restarted with messages
in flight (kept, or lost with every queue purged), database connections dropped, Postgres
restarted. The shared servers are never touched: the product's processes reach them through
a TCP proxy the test cuts, or have their backends terminated."""

import time

import psycopg
import pytest

from followups.models import ActionStatus
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

OUTAGE_S = 4
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


@pytest.mark.parametrize("purge", [False, True], ids=["messages_kept", "every_queue_purged"])
def test_broker_restarted_with_messages_in_flight(cluster, broker_proxy, telegram, report, purge):
    """RabbitMQ goes away for a few seconds while the workers hold delayed messages, and more
    follow-ups are scheduled meanwhile (as if their publish had failed: only their rows know
    them). With `purge`, it comes back empty, as a broker recreated without its volume."""
    start_cluster(cluster)
    prospects = make_prospects(150)
    schedule_follow_ups(prospects[:100], spread(100, start=1, seconds=4))

    time.sleep(1.5)  # some are sent, the rest are held by the workers, unacked
    broker_proxy.stop()  # RabbitMQ takes back what the workers held
    store_follow_ups(prospects[100:], spread(50, start=0.5, seconds=OUTAGE_S))
    time.sleep(OUTAGE_S)
    purged = purge_queues() if purge else 0
    broker_proxy.start()
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    lost = f"every queue purged ({purged} messages lost)" if purge else "messages kept"
    report(
        f"RabbitMQ away {OUTAGE_S} s with messages in flight; {lost}",
        account,
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
    schedule_follow_ups(make_prospects(150), spread(150, start=0.5, seconds=4))

    dropped = 0
    for _ in range(8):
        time.sleep(0.5)
        dropped += terminate_product_backends(telegram.dsn)
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    report(
        "pg_terminate_backend on every product connection, 8× in 4 s",
        account,
        f"{dropped} connections dropped; {cluster.grep(TASK_FAILED)} worker messages failed "
        "(retried)",
    )
    assert account.problems == []
    assert account.statuses == {ActionStatus.EXECUTED: 150}
    assert dropped > 0


def test_postgres_restarted(cluster, db_proxy, telegram, report):
    """Postgres goes away for a few seconds (every connection dropped, new ones refused) while
    follow-ups come due; Telegram stays up."""
    start_cluster(cluster)
    schedule_follow_ups(make_prospects(150), spread(150, start=0.5, seconds=4))

    time.sleep(2)
    db_proxy.stop()
    time.sleep(OUTAGE_S)
    db_proxy.start()
    account = settle(telegram, timeout=60, on_timeout=cluster.log_tails)

    report(
        f"Postgres away {OUTAGE_S} s (connections dropped, new ones refused)",
        account,
        f"{cluster.grep(TASK_FAILED)} worker messages failed (retried), "
        f"{cluster.grep(PASS_FAILED)} dispatcher passes failed",
    )
    assert account.problems == []
    assert account.statuses == {ActionStatus.EXECUTED: 150}
    assert cluster.grep(TASK_FAILED) > 0
    assert cluster.grep(PASS_FAILED) > 0
