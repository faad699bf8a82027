"""Scenarios run in this process against a table holding a large pending backlog: startup
reconcile, cancel-on-reply, scheduling throughput through the service, and a timing of the
delivery path itself (to explain the burst's numbers). No worker runs; whatever these publish
is purged afterwards.
"""

import time
from datetime import timedelta

from django.db import connection

from bench import broker, config, db, procs, stats
from bench.common import QueryTimer, Stopwatch, far_future, log, now, reset, rng, within_horizon

HORIZON_SHARE = 0.05  # of the backlog, due within the dispatcher's horizon
N_BACKGROUND_PROSPECTS = 2_000
FOLLOW_UPS_PER_REPLIER = 2


def run(sizes: config.Sizes) -> dict:
    reset()
    n_repliers = 2 * sizes.n_cancel  # half cancelled directly, half through a client message
    repliers = seed_backlog(sizes.n_reconcile, n_repliers)
    results = {"reconcile": startup_reconcile(sizes.n_reconcile)}
    broker.purge(config.PRODUCT_QUEUE)
    results["cancel"] = cancel_on_reply(repliers[: sizes.n_cancel], repliers[sizes.n_cancel :])
    results["schedule"] = scheduling_throughput(sizes.n_schedule)
    broker.purge(config.PRODUCT_QUEUE)
    results["schedule_bulk"] = bulk_scheduling(sizes.n_bulk)
    broker.purge(config.PRODUCT_QUEUE)
    results["delivery"] = delivery_in_process(sizes.n_profile, sizes.n_burst)
    broker.purge(config.PRODUCT_QUEUE)
    return results


def seed_backlog(n_rows: int, n_repliers: int) -> list[int]:
    """n_rows pending actions: HORIZON_SHARE of them due within the horizon, the rest far
    out; among them, FOLLOW_UPS_PER_REPLIER far-future follow-ups for each of n_repliers
    prospects. Returns the repliers' ids."""
    start = now()
    repliers = db.make_prospects(n_repliers)
    others = db.make_prospects(N_BACKGROUND_PROSPECTS)
    n_replier_rows = n_repliers * FOLLOW_UPS_PER_REPLIER
    n_near = int(n_rows * HORIZON_SHARE)
    n_far = n_rows - n_near - n_replier_rows
    with Stopwatch() as sw:
        db.copy_actions(others, within_horizon(start, n_near), now=start)
        db.generate_far_future(others, n_far, now=start)
        db.copy_actions(repliers, far_future(start, n_replier_rows), now=start)
        db.vacuum_analyze()
    log.info(
        "seeded %d pending actions (%d within the horizon) in %.1f s", n_rows, n_near, sw.seconds
    )
    return repliers


def startup_reconcile(n_rows: int) -> dict:
    """`reconcile(force=True)` as `manage.py reconcile` runs it at startup, then one ordinary
    `--watch` pass (nothing left to publish) for the steady-state cost."""
    from followups import dispatcher

    with Stopwatch() as sw:
        report = dispatcher.reconcile(force=True)
    with Stopwatch() as steady:
        dispatcher.reconcile(force=False, clean=True)
    log.info("reconcile(force=True) of %d rows: %.2f s (%s)", n_rows, sw.seconds, report)
    return {
        "n_rows": n_rows,
        "seconds": round(sw.seconds, 3),
        "s_per_100k": round(sw.seconds * 100_000 / n_rows, 3),
        "enqueued": report.enqueued,
        "watch_pass_s": round(steady.seconds, 3),
    }


def cancel_on_reply(direct: list[int], via_message: list[int]) -> dict:
    """Time `cancel_pending_followups(prospect)` per prospect, and the listener's whole
    reply path `record_client_message` (lock, store, cancel) for others."""
    from followups import services
    from followups.models import Prospect

    def timed(prospect_ids: list[int], call) -> tuple[list[float], int]:
        prospects = list(Prospect.objects.filter(pk__in=prospect_ids))
        rng.shuffle(prospects)
        times_ms, cancelled = [], 0
        for prospect in prospects:
            started = time.perf_counter()
            result = call(prospect)
            times_ms.append((time.perf_counter() - started) * 1000)
            cancelled += result if isinstance(result, int) else len(result)
        return times_ms, cancelled

    timer = QueryTimer()
    with connection.execute_wrapper(timer):
        cancel_ms, n_cancelled = timed(direct, services.cancel_pending_followups)
    reply_ms, n_reply_cancelled = timed(
        via_message, lambda p: services.record_client_message(p, "спасибо, я подумаю")
    )
    result = {
        "cancel_ms": stats.summary(cancel_ms, digits=3),
        "cancelled": n_cancelled,
        "cancel_queries": timer.breakdown(len(direct)),
        "reply_ms": stats.summary(reply_ms, digits=3),
        "reply_cancelled": n_reply_cancelled,
        "table_rows": _count_actions(),
    }
    log.info("cancel-on-reply: %s", result)
    return result


def scheduling_throughput(n: int) -> dict:
    """`schedule_action` in a loop: far-future only (a row), near-due only (a row and a
    broker message after commit), and a mix with 20 % near-due."""
    from followups import services
    from followups.models import ActionType, Prospect

    result = {}
    for mode, near_share in (("far", 0.0), ("mix20", 0.2), ("near", 1.0)):
        prospects = list(Prospect.objects.filter(pk__in=db.make_prospects(n)))
        times_ms = []
        with Stopwatch() as sw:
            for i, prospect in enumerate(prospects):
                start = now()
                near = i < n * near_share
                when = start + (
                    timedelta(seconds=rng.uniform(30, 240)) if near else timedelta(days=7)
                )
                t0 = time.perf_counter()
                services.schedule_action(
                    prospect, ActionType.FOLLOW_UP, when, payload=dict(db.TEMPLATE_PAYLOAD)
                )
                times_ms.append((time.perf_counter() - t0) * 1000)
        result[mode] = {
            "n": n,
            "per_s": round(n / sw.seconds, 1),
            "call_ms": stats.summary(times_ms, digits=3),
        }
        log.info("schedule_action %s: %.0f/s", mode, n / sw.seconds)
    return result


def bulk_scheduling(n: int) -> dict:
    """`schedule_actions` (imports, campaigns): n actions in one call, far out (rows only),
    near-due spread over the horizon, and a campaign due at one instant (rows and publish)."""
    from followups import services

    result = {}
    for mode in ("far", "near", "campaign"):
        prospects = db.make_prospects(n)
        start = now()
        at = start + timedelta(seconds=120)
        dues = {
            "far": (start + timedelta(days=7) for _ in prospects),
            "near": within_horizon(start, n),
            "campaign": (at for _ in prospects),
        }[mode]
        items = [
            services.NewAction(prospect_id=pk, scheduled_for=due, payload=db.TEMPLATE_PAYLOAD)
            for pk, due in zip(prospects, dues, strict=True)
        ]
        with Stopwatch() as sw:
            services.schedule_actions(items)
        result[mode] = {"n": n, "seconds": round(sw.seconds, 3), "per_s": round(n / sw.seconds)}
        log.info("schedule_actions %s: %d in %.2f s, %.0f/s", mode, n, sw.seconds, n / sw.seconds)
    return result


def delivery_in_process(n: int, n_burst: int) -> dict:
    """Run `followups.delivery.deliver` here on batches of due actions, as one worker thread
    does for one message of a burst of n_burst, counting statements and timing them."""
    from followups import publishing
    from followups.delivery import deliver
    from followups.models import ScheduledAction

    batch = publishing.batch_size(n_burst)
    start = now()
    ids = db.copy_actions(db.make_prospects(n), [start - timedelta(seconds=1)] * n, now=start)
    timer = QueryTimer()
    batch_ms = []
    backend = _backend_pid()
    cpu_before = time.process_time(), procs.cpu_seconds(backend)
    with connection.execute_wrapper(timer):
        for i in range(0, n, batch):
            t0 = time.perf_counter()
            deliver(ids[i : i + batch])
            batch_ms.append((time.perf_counter() - t0) * 1000)
    python_cpu_s = time.process_time() - cpu_before[0]
    postgres_cpu_s = procs.cpu_seconds(backend) - cpu_before[1]
    sent = ScheduledAction.objects.filter(pk__in=ids, status="executed").count()
    total_ms = sum(batch_ms)
    result = {
        "n": n,
        "sent": sent,
        "batch_size": batch,
        "batch_ms": stats.summary(batch_ms, digits=1),
        "ms_per_action": round(total_ms / n, 3),
        "queries_per_action": round(timer.count / n, 2),
        "db_ms_per_action": round(timer.seconds * 1000 / n, 3),
        "actions_per_s_one_thread": round(n / (total_ms / 1000), 1),
        "python_cpu_ms_per_action": round(python_cpu_s * 1000 / n, 3),
        "postgres_cpu_ms_per_action": round(postgres_cpu_s * 1000 / n, 3),
        "queries": timer.breakdown(n),
    }
    log.info("delivery in-process: %s", {k: v for k, v in result.items() if k != "queries"})
    return result


def _backend_pid() -> int:
    """The pid of the Postgres server process behind this process's connection."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def _count_actions() -> int:
    from followups.models import ScheduledAction

    return ScheduledAction.objects.count()
