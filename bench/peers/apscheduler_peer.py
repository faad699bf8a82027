"""APScheduler 4 (pre-release) with its SQLAlchemy data store on PostgreSQL (psycopg) and the
psycopg event broker: one DateTrigger schedule per job.

Workers: PROCESSES `AsyncScheduler`s (role both: each turns due schedules into jobs and runs
jobs), `max_concurrent_jobs=CONCURRENCY` each. Tuned: the task's `max_running_jobs` (default 1
across all schedulers) lifted to None; the job is a coroutine on the default async executor.
`python -m bench.peers.worker apscheduler` is one worker process.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

from bench.peers import common

DATABASE = f"{common.PREFIX}apscheduler"
READY = "peers apscheduler worker ready"
MAX_RUNNING_JOBS = None  # the tuned setting: APScheduler's default is 1
SCHEDULING_CONCURRENCY = 16
CONFIG = (
    f"{common.PROCESSES} schedulers (role both) × max_concurrent_jobs={common.CONCURRENCY}; "
    f"SQLAlchemy store + psycopg event broker; tuned: task max_running_jobs 1 → unlimited"
)


async def noop(key: str) -> None:
    common.record(key)


def _url() -> str:
    return common.PG_SERVER_URL.replace("postgres://", "postgresql+psycopg://", 1) + "/" + DATABASE


def _scheduler(**kwargs):
    from apscheduler import AsyncScheduler, TaskDefaults
    from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
    from apscheduler.eventbrokers.psycopg import PsycopgEventBroker
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(_url())
    return AsyncScheduler(
        SQLAlchemyDataStore(engine),
        PsycopgEventBroker.from_async_sqla_engine(engine),
        task_defaults=TaskDefaults(max_running_jobs=MAX_RUNNING_JOBS),
        **kwargs,
    )


async def worker() -> None:
    async with _scheduler(max_concurrent_jobs=common.CONCURRENCY) as scheduler:
        await scheduler.configure_task(noop, max_running_jobs=MAX_RUNNING_JOBS)
        await scheduler.start_in_background()
        print(READY, flush=True)
        await scheduler.wait_until_stopped()


async def _add(items: list[tuple[str, float]]) -> float:
    """Add one DateTrigger schedule per (key, unix time), SCHEDULING_CONCURRENCY at a time;
    returns the seconds it took."""
    from apscheduler.triggers.date import DateTrigger

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per schedule otherwise
    started = time.monotonic()
    queue = list(reversed(items))

    async def adder(scheduler) -> None:
        while queue:
            key, at = queue.pop()
            run_time = datetime.fromtimestamp(at, UTC)
            await scheduler.add_schedule(noop, DateTrigger(run_time), kwargs={"key": key})

    async with _scheduler() as scheduler:
        await asyncio.gather(*(adder(scheduler) for _ in range(SCHEDULING_CONCURRENCY)))
    return time.monotonic() - started


async def _seed(items: list[tuple[str, float]]) -> float:
    """The backlog, in bulk: the rows `add_schedule` would insert (the scheduler's own Schedule
    objects, marshalled by the store), 2,000 to a statement. `add_schedule` does about a hundred
    a second here, which would make the 100,000-job backlog take 15 minutes or more."""
    from uuid import uuid4

    from apscheduler import Schedule
    from apscheduler.triggers.date import DateTrigger

    started = time.monotonic()
    async with _scheduler() as scheduler:
        task = await scheduler.configure_task(noop, max_running_jobs=MAX_RUNNING_JOBS)
        store = scheduler.data_store
        rows = []
        for key, at in items:
            trigger = DateTrigger(datetime.fromtimestamp(at, UTC))
            schedule = Schedule(
                id=str(uuid4()),
                task_id=task.id,
                trigger=trigger,
                kwargs={"key": key},
                job_executor=task.job_executor,
            )
            schedule.next_fire_time = trigger.next()
            rows.append(store._convert_outgoing_fire_times(schedule.marshal(store.serializer)))
        for i in range(0, len(rows), 2_000):
            async with store._engine.begin() as conn:
                await conn.execute(store._t_schedules.insert(), rows[i : i + 2_000])
    return time.monotonic() - started


def run(sizes: common.PeerSizes) -> dict:
    common.recreate_database(DATABASE)
    try:
        asyncio.run(_add([]))  # creates the store's tables before the workers race to

        def estimate_burst_s() -> float:
            probe = [(f"{common.BACKLOG_KEY}probe", time.time() + 86_400)] * 100
            return asyncio.run(_add(probe)) * sizes.n_burst / len(probe)

        return common.run_burst(
            "apscheduler",
            sizes,
            ["-m", "bench.peers.worker", "apscheduler"],
            READY,
            seed=lambda items: asyncio.run(_seed(items)),
            schedule=lambda items: asyncio.run(_add(items)),
            estimate_burst_s=estimate_burst_s,
        )
    finally:
        common.drop_database(DATABASE)
