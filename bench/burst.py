"""The burst: N actions due at one instant while a far-future backlog is pending, run on the
product (horizon dispatcher + batched delivery) and on the naive design (one delayed message
per action). Worker memory is read as the backlog grows, on the way.
"""

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from bench import broker, config, db, procs, stats
from bench.common import Stopwatch, far_future, log, now, reset, sleep_until

N_PROSPECTS = 2_000  # for the far-future backlog


def run_product(sizes: config.Sizes) -> dict:
    """Real workers (`rundramatiq -p 2 -t 8`) and dispatcher (`reconcile --watch`): the
    backlog seeded up to each memory checkpoint, then the burst."""
    points = _product_bursts(
        sizes, _checkpoints(sizes), burst_at={sizes.n_background}, singles=sizes.n_singles
    )
    result = points[-1]["burst"]
    result["memory"] = [m for point in points for m in point["memory"]]
    result["singles"] = points[-1]["singles"]
    return result


def run_scale(sizes: config.Sizes, backlogs: Sequence[int]) -> dict:
    """The product's burst of sizes.n_burst with each of `backlogs` pending (one set of
    workers, the backlog grown between bursts), with the dispatcher's startup pass timed at
    each size: does the cost follow the due set or the backlog?"""
    points = _product_bursts(sizes, sorted(backlogs), burst_at=set(backlogs))
    return {"n_burst": sizes.n_burst, "points": points}


def _product_bursts(
    sizes: config.Sizes, backlogs: list[int], burst_at: set[int], singles: int = 0
) -> list[dict]:
    """Grow the far-future backlog through `backlogs`, reading worker memory at each size and
    running a burst at those in `burst_at`, then (if `singles`) lone follow-ups."""
    from followups import dispatcher as dispatch

    reset()
    prospects = db.make_prospects(N_PROSPECTS)
    workers = dispatcher = None
    try:
        workers, dispatcher = procs.product_workers(), procs.dispatcher()
        procs.wait_ready(workers, procs.WORKER_READY, count=config.WORKER_PROCESSES)
        procs.wait_ready(dispatcher, procs.DISPATCHER_READY)
        memory = [_memory_point(0, workers, dispatcher)]
        points, seeded = [], 0
        for target in backlogs:
            with Stopwatch() as seeding:
                db.generate_far_future(prospects, target - seeded, now=now())
                db.vacuum_analyze()
            log.info("backlog %d pending (seeded in %.1f s)", target, seeding.seconds)
            seeded = target
            time.sleep(sizes.settle_s)
            memory.append(_memory_point(seeded, workers, dispatcher))
            if target not in burst_at:
                continue
            with Stopwatch() as startup:
                dispatch.reconcile(force=True, clean=False)
            due = now() + timedelta(seconds=sizes.lead_s)
            burst_prospects = db.make_prospects(sizes.n_burst)
            ids = db.copy_actions(burst_prospects, [due] * sizes.n_burst, now=now())
            log.info(
                "product burst: %d actions due at %s, %d pending", len(ids), due.time(), target
            )
            burst = _wait_for_burst(due, ids, sizes.budget_s, workers, dispatcher)
            memory.append(_memory_point(seeded, workers, dispatcher, after_burst=True))
            points.append(
                {
                    "backlog": target,
                    "burst": burst,
                    "reconcile_force_s": round(startup.seconds, 3),
                    "memory": memory,
                }
            )
            memory = []
        if singles:
            points[-1]["singles"] = _singles(singles)
        return points
    finally:
        clean_up(config.PRODUCT_QUEUE, dispatcher, workers)


def run_naive(sizes: config.Sizes) -> dict:
    """Workers `python -m dramatiq bench.naive -p 2 -t 8`; the backlog is published first (its
    promises were made earlier), each action its own message with its full delay."""
    from bench.naive import naive_deliver

    reset()
    prospects = db.make_prospects(N_PROSPECTS)
    workers = None
    try:
        workers = procs.naive_workers()
        procs.wait_ready(workers, procs.WORKER_READY, count=config.WORKER_PROCESSES)
        memory = [_memory_point(0, workers)]
        seeded, publish_s = 0, 0.0
        for target in _checkpoints(sizes):
            dues = list(far_future(now(), target - seeded))
            ids = db.copy_actions(prospects, dues, now=now())
            items = list(zip(ids, dues, strict=True))
            publish_s += _publish(naive_deliver, items, sizes.publish_threads)
            seeded = target
            time.sleep(sizes.settle_s)
            memory.append(_memory_point(seeded, workers, queue=config.NAIVE_QUEUE))
        due = now() + timedelta(seconds=sizes.lead_s)
        ids = db.copy_actions(db.make_prospects(sizes.n_burst), [due] * sizes.n_burst, now=now())
        burst_publish_s = _publish(naive_deliver, [(i, due) for i in ids], sizes.publish_threads)
        log.info("naive burst: %d messages due at %s", len(ids), due.time())
        result = _wait_for_burst(due, ids, sizes.budget_s, workers)
        memory.append(_memory_point(seeded, workers, queue=config.NAIVE_QUEUE, after_burst=True))
        published = seeded + len(ids)
        result.update(
            memory=memory,
            published=published,
            publish_s=round(publish_s + burst_publish_s, 2),
            publish_per_s=round(published / (publish_s + burst_publish_s)),
            publish_threads=sizes.publish_threads,
        )
        return result
    finally:
        clean_up(config.NAIVE_QUEUE, workers)


def _singles(n: int) -> dict:
    """n follow-ups due one at a time, 1.1 s apart, after the burst has drained: the lateness of
    a lone action on an otherwise idle system (published by the dispatcher, like the burst)."""
    start = now() + timedelta(seconds=5)
    dues = [start + timedelta(seconds=1.1 * i) for i in range(n)]
    ids = db.copy_actions(db.make_prospects(n), dues, now=now())
    sleep_until(dues[-1] + timedelta(seconds=1))
    deadline = time.monotonic() + 10
    while (rows := db.lateness(ids)) and time.monotonic() < deadline:
        if all(status == "executed" for status, _ in rows):
            break
        time.sleep(0.25)
    late_ms = sorted(s * 1000 for status, s in rows if status == "executed")
    result = {"n": n, "delivered": len(late_ms), "lateness_ms": stats.summary(late_ms, digits=1)}
    log.info("single follow-ups: %s", result)
    return result


def clean_up(queue: str, *processes: procs.Proc | None) -> None:
    """Drop the queue's ready messages, stop the processes, then drop the messages they held
    (a consumer's unacked messages go back to the queue when it stops). Purging first keeps
    RabbitMQ from requeueing the held ones in front of a long queue, which takes minutes."""
    with Stopwatch() as purging:
        dropped = broker.purge(queue)
    with Stopwatch() as stopping:
        for proc in processes:
            procs.stop(proc)
    with Stopwatch() as purging_held:
        dropped += broker.purge(queue)
    log.info(
        "stopped in %.1f s; purged %d messages from %s in %.1f s",
        stopping.seconds,
        dropped,
        queue,
        purging.seconds + purging_held.seconds,
    )


def _checkpoints(sizes: config.Sizes) -> list[int]:
    """Backlog sizes at which memory is read, ending at n_background."""
    points = sorted({p for p in sizes.memory_checkpoints if p < sizes.n_background})
    return [*points, sizes.n_background]


def _publish(actor, items: list[tuple[uuid.UUID, datetime]], threads: int) -> float:
    """Send one delayed message per (id, due) from `threads` threads (the RabbitMQ broker keeps
    a connection per thread); returns the seconds it took."""
    chunks = [items[i::threads] for i in range(threads)]

    def send(chunk: list[tuple[uuid.UUID, datetime]]) -> None:
        for action_id, due in chunk:
            delay_ms = max(0, int((due - now()).total_seconds() * 1000))
            actor.send_with_options(args=(str(action_id),), delay=delay_ms)

    with Stopwatch() as sw, ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))
    log.info("published %d delayed messages in %.1f s", len(items), sw.seconds)
    return sw.seconds


def _wait_for_burst(
    due: datetime,
    ids: list[uuid.UUID],
    budget_s: float,
    workers: procs.Proc,
    dispatcher: procs.Proc | None = None,
) -> dict:
    """Poll until no burst action is pending or being sent, or the budget after `due` is
    spent; then read every action's outcome from its row, and the CPU the processes used."""
    sleep_until(due - timedelta(seconds=0.5))
    cpu_before = _cpu(workers, dispatcher)
    sleep_until(due)
    deadline = time.monotonic() + budget_s
    while db.count_unfinished(due) and time.monotonic() < deadline:
        time.sleep(0.25)
    cpu = _cpu_used(cpu_before, _cpu(workers, dispatcher), len(ids))
    rows = db.outcomes(ids)
    lateness_s = sorted(
        (executed_at - due).total_seconds()
        for status, executed_at in rows
        if status == "executed" and executed_at
    )
    delivered = len(lateness_s)
    return {
        "n_burst": len(ids),
        "delivered": delivered,
        "undelivered": len(ids) - delivered,
        "statuses": dict(Counter(status for status, _ in rows)),
        "budget_s": budget_s,
        "lateness_ms": stats.summary([s * 1000 for s in lateness_s], digits=1),
        "first_s": round(lateness_s[0], 3) if lateness_s else None,
        "drain_s": round(lateness_s[-1], 3) if delivered == len(ids) else None,
        "lateness_s": lateness_s,
        "cpu": cpu,
    }


def _cpu(workers: procs.Proc, dispatcher: procs.Proc | None) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by each process, by group: the worker processes, the
    dispatcher, and the server processes of the bench database's connections."""
    groups = {
        "workers": procs.children(workers.pid),
        "postgres": procs.postgres_backends(config.DB_NAME),
    }
    if dispatcher is not None:
        groups["dispatcher"] = [dispatcher.pid]
    return {name: {pid: procs.cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}


def _cpu_used(before: dict, after: dict, n_actions: int) -> dict[str, dict[str, float]]:
    """CPU used between two readings, by group, in total and per action. A process that
    appeared in between (a worker thread's new database connection) counts from zero."""
    used = {}
    for name, pids in after.items():
        seconds = sum(cpu - before.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        used[name] = {
            "cpu_s": round(seconds, 2),
            "ms_per_action": round(seconds * 1000 / n_actions, 3),
        }
    return used


def _memory_point(
    backlog: int,
    workers: procs.Proc,
    dispatcher: procs.Proc | None = None,
    *,
    queue: str | None = None,
    after_burst: bool = False,
) -> dict:
    rss = procs.worker_rss_mb(workers)
    point = {
        "backlog": backlog,
        "after_burst": after_burst,
        "worker_rss_mb": rss,
        "worker_rss_sum_mb": round(sum(rss), 1),
    }
    if dispatcher is not None:
        point["dispatcher_rss_mb"] = round(procs.rss_mb(dispatcher.pid), 1)
    if queue is not None:
        # Ready in Q.DQ = published but not (yet) taken into a worker's memory.
        point["delay_queue_ready"] = broker.depth(queue)[f"{queue}.DQ"]
    log.info("memory at backlog %d%s: %s", backlog, " (after burst)" if after_burst else "", point)
    return point
