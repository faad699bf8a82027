"""Celery on RabbitMQ: one task message per job, published with `eta`.

Workers: PROCESSES worker nodes, `--pool threads --concurrency CONCURRENCY` each, gossip,
mingle, heartbeats and remote control off (no other queues on the broker), no result backend.
Everything else is Celery's default, including no limit on the ETA tasks a worker holds:
Celery takes an ETA task off the queue at once, keeps it in the worker's memory until its
time and raises the channel's prefetch count by one for it, so both nodes hold the whole
backlog. Its one setting for this, `worker_eta_task_limit`, caps what a worker holds, which
puts the burst behind far-future messages it cannot take (the naive design's head-of-line
blocking); it is left at its default.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from celery import Celery
from celery.signals import worker_ready

from bench.peers import common

QUEUE = f"{common.PREFIX}celery"
READY = "peers celery worker ready"
PUBLISH_THREADS = 4
CONFIG = (
    f"{common.PROCESSES} nodes × --pool threads --concurrency {common.CONCURRENCY}; "
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
    """One message per (key, unix time) with that eta, from PUBLISH_THREADS threads with a
    producer (connection) each; returns the seconds it took."""

    def publish(chunk: list[tuple[str, float]]) -> None:
        with app.producer_or_acquire() as producer:
            for key, at in chunk:
                noop.apply_async(
                    kwargs={"key": key}, eta=datetime.fromtimestamp(at, UTC), producer=producer
                )

    started = time.monotonic()
    with ThreadPoolExecutor(PUBLISH_THREADS) as pool:
        list(pool.map(publish, [items[i::PUBLISH_THREADS] for i in range(PUBLISH_THREADS)]))
    return time.monotonic() - started


def _delete_queue() -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_delete(QUEUE)
        channel.exchange_delete(QUEUE)


def run(sizes: common.PeerSizes) -> dict:
    _delete_queue()
    record = common.new_record("celery")
    workers = []
    try:
        workers = common.start_workers(
            "celery",
            [
                "-m",
                "celery",
                "--app",
                __name__,
                "worker",
                "--pool",
                "threads",
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
            ],
            READY,
        )
        backlog = [
            (f"{common.BACKLOG_KEY}{i}", at)
            for i, at in enumerate(common.backlog_times(time.time(), sizes.n_backlog))
        ]
        backlog_s = _publish(backlog)
        due = common.due_after(backlog_s * sizes.n_burst / sizes.n_backlog, sizes.min_lead_s)
        burst_s = _publish([(f"{common.BURST_KEY}{i}", due) for i in range(sizes.n_burst)])
        result = {
            "backlog_seeded": common.scheduled("celery", sizes.n_backlog, backlog_s),
            "burst_scheduled_s": round(burst_s, 1),
            "lead_s": round(due - time.time(), 1),
        }
        result |= common.wait_for_burst(record, due, sizes)
        result["worker_rss_mb"] = common.rss_mb(workers)
        return result
    finally:
        common.stop_workers(workers)
        _delete_queue()
