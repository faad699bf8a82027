"""Celery on RabbitMQ: one task message per job, published with `eta`.

Workers: PROCESSES worker nodes, `--pool prefork --concurrency CONCURRENCY` each (Celery's
default pool; with `--pool threads` the nodes took the backlog's ETA messages off the queue at
~10 a second once each held ~2,000, and delivered nothing of a 10,000 + 1,000 quick run);
gossip, mingle, heartbeats and remote control off (no other queues on the broker), no result
backend.
Everything else is Celery's default, including no limit on the ETA tasks a worker holds:
Celery takes an ETA task off the queue at once, keeps it in the worker's memory until its
time and raises the channel's prefetch count by one for it, so both nodes hold the whole
backlog. Its one setting for this, `worker_eta_task_limit`, caps what a worker holds, which
puts the burst behind far-future messages it cannot take (the naive design's head-of-line
blocking); it is left at its default.
"""

import time
from datetime import UTC, datetime

from celery import Celery
from celery.signals import worker_ready

from bench.common import log
from bench.peers import common

QUEUE = f"{common.PREFIX}celery"
READY = "peers celery worker ready"
CONFIG = (
    f"{common.PROCESSES} nodes × --pool prefork --concurrency {common.CONCURRENCY}; "
    "ETA tasks on RabbitMQ; defaults (worker_eta_task_limit unset: each node holds every "
    "ETA task)"
)

app = Celery("peers", broker=common.BROKER_URL, set_as_current=False)
app.conf.update(
    task_default_queue=QUEUE,
    task_default_exchange=QUEUE,
    task_default_routing_key=QUEUE,
    task_ignore_result=True,
    worker_enable_remote_control=False,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop(key: str) -> None:
    common.record(key)


@worker_ready.connect
def _ready(**_) -> None:
    print(READY, flush=True)


def _publish(items: list[tuple[str, float]]) -> float:
    """One message per (key, unix time) with that eta, from one producer; returns the seconds
    it took. (From 4 threads, 10,000 were published in 16 s, faster than the two nodes took
    them, and the nodes then stalled at about 10 messages a second with 5,000 still ready.)"""
    started = time.monotonic()
    with app.producer_or_acquire() as producer:
        for key, at in items:
            noop.apply_async(
                kwargs={"key": key}, eta=datetime.fromtimestamp(at, UTC), producer=producer
            )
    return time.monotonic() - started


def _wait_until_taken(cap_s: float) -> tuple[float, int]:
    """Wait until the workers have taken every message off the queue (an ETA task is held in
    a worker from when it is taken), or cap_s passed; returns (seconds, messages still ready).
    The backlog's promises were made days earlier: workers would have taken them long ago."""
    started = time.monotonic()
    with app.connection_for_write() as conn:
        while True:
            ready = conn.default_channel.queue_declare(QUEUE, passive=True).message_count
            if not ready or time.monotonic() - started > cap_s:
                return time.monotonic() - started, ready
            time.sleep(0.5)


def _delete_queue() -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_delete(QUEUE)
        channel.exchange_delete(QUEUE)


WORKER_ARGV = [
    "-m",
    "celery",
    "--app",
    __name__,
    "worker",
    "--pool",
    "prefork",
    "--concurrency",
    str(common.CONCURRENCY),
    "--hostname",
    "peers{i}@%h",
    "--queues",
    QUEUE,
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
    "--loglevel",
    "WARNING",  # Celery's default; INFO logs a line per task received
]


def run(sizes: common.PeerSizes) -> dict:
    def settle() -> dict:
        taken_s, still_ready = _wait_until_taken(cap_s=sizes.budget_s)
        log.info("celery: backlog taken in %.1f s (%d still ready)", taken_s, still_ready)
        return {"backlog_taken_s": round(taken_s, 1), "backlog_still_ready": still_ready}

    _delete_queue()
    try:
        return common.run_burst(
            "celery", sizes, WORKER_ARGV, READY, seed=_publish, schedule=_publish, settle=settle
        )
    finally:
        _delete_queue()
