"""procrastinate on PostgreSQL (psycopg): jobs deferred with `schedule_at`.

Workers: PROCESSES worker processes (`app.run_worker_async`), `concurrency=CONCURRENCY` each,
LISTEN/NOTIFY on (the default). Tuned: `fetch_job_polling_interval` 5 s → 1 s, since a job
deferred for later is announced when it is deferred, not when it becomes due, so workers find
it by polling. `python -m bench.peers.worker procrastinate` is one worker process.
"""

import asyncio
import time
from datetime import UTC, datetime

import procrastinate

from bench.peers import common

DATABASE = f"{common.PREFIX}procrastinate"
READY = "peers procrastinate worker ready"
POLLING_INTERVAL_S = 1.0  # the tuned setting: procrastinate's default is 5 s
CONFIG = (
    f"{common.PROCESSES} workers × concurrency={common.CONCURRENCY}; LISTEN/NOTIFY on; "
    f"tuned: fetch_job_polling_interval 5 s → {POLLING_INTERVAL_S:g} s"
)

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=f"{common.PG_SERVER_URL}/{DATABASE}")
)


@app.task(name="noop")
async def noop(key: str) -> None:
    common.record(key)


async def worker() -> None:
    async with app.open_async():
        print(READY, flush=True)
        await app.run_worker_async(
            concurrency=common.CONCURRENCY, fetch_job_polling_interval=POLLING_INTERVAL_S
        )


async def _defer(items: list[tuple[str, float]]) -> float:
    """Defer one job per (key, unix time), 1,000 to a batch; returns the seconds it took."""
    started = time.monotonic()
    async with app.open_async():
        jobs = [
            noop.configure(schedule_at=datetime.fromtimestamp(at, UTC)).make_new_job(key=key)
            for key, at in items
        ]
        for i in range(0, len(jobs), 1_000):
            await app.job_manager.batch_defer_jobs_async(jobs[i : i + 1_000])
    return time.monotonic() - started


def _defer_now(items: list[tuple[str, float]]) -> float:
    return asyncio.run(_defer(items))


async def _apply_schema() -> None:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


def run(sizes: common.PeerSizes) -> dict:
    common.recreate_database(DATABASE)
    try:
        asyncio.run(_apply_schema())
        return common.run_burst(
            "procrastinate",
            sizes,
            ["-m", "bench.peers.worker", "procrastinate"],
            READY,
            seed=_defer_now,
            schedule=_defer_now,
        )
    finally:
        common.drop_database(DATABASE)
