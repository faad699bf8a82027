"""What the peer engines share: the workload's sizes and due times, the run-time record their
no-op jobs append to, their databases, and their worker processes."""

import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench import config, procs, stats
from bench.common import log

PG_SERVER_URL = config.PG_SERVER_URL
BROKER_URL = config.BROKER_URL
PREFIX = "peers_"  # databases, queues: never the product's or the tests'
RECORDS = config.RESULTS / "logs"
RECORD_ENV = "PEERS_RECORD"  # the file a worker's jobs append "key unix-time" lines to
BURST_KEY = "b"  # burst jobs' keys are b0, b1, ...; the backlog's k0, k1, ...
BACKLOG_KEY = "k"
PROCESSES, CONCURRENCY = config.WORKER_PROCESSES, config.WORKER_THREADS


@dataclass(frozen=True)
class PeerSizes:
    n_backlog: int
    n_burst: int
    budget_s: float  # a burst job not run by due + budget_s is undelivered
    min_lead_s: float  # the due instant is at least this long after the burst is scheduled


FULL = PeerSizes(n_backlog=100_000, n_burst=5_000, budget_s=120.0, min_lead_s=20.0)
QUICK = PeerSizes(n_backlog=10_000, n_burst=1_000, budget_s=30.0, min_lead_s=10.0)


def backlog_times(start: float, n: int, seed: int = 20_260_101) -> list[float]:
    """n unix times spread over the week after tomorrow, as in the product's burst."""
    rng = random.Random(seed)
    return [start + 86_400 + rng.uniform(0, 7 * 86_400) for _ in range(n)]


def due_after(burst_schedule_s: float, lead_s: float) -> float:
    """The burst's due instant: scheduling it (estimated at burst_schedule_s from the backlog's
    rate, doubled for safety) finishes at least lead_s before it."""
    return time.time() + 2 * burst_schedule_s + lead_s


# --- the record the jobs write ---------------------------------------------------------------


def record(key: str) -> None:
    """The no-op job body: append "key time" (one write(2) on an O_APPEND file is atomic for a
    line this short, across threads and processes)."""
    fd = _record_fd()
    os.write(fd, f"{key} {time.time():.6f}\n".encode())


_fd: int | None = None


def _record_fd() -> int:
    global _fd
    if _fd is None:
        _fd = os.open(os.environ[RECORD_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return _fd


def new_record(engine: str) -> Path:
    RECORDS.mkdir(parents=True, exist_ok=True)
    path = RECORDS / f"peers-{engine}-runs.txt"
    path.write_text("")
    os.environ[RECORD_ENV] = str(path)
    return path


def read_record(path: Path) -> dict[str, list[float]]:
    """Run times by job key (a key run twice has two)."""
    runs: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        key, _, at = line.partition(" ")
        runs.setdefault(key, []).append(float(at))
    return runs


def wait_for_burst(path: Path, due: float, sizes: PeerSizes) -> dict:
    """Poll the record until every burst job ran or due + budget passed; then the figures."""
    deadline = due + sizes.budget_s
    while time.time() < deadline:
        runs = read_record(path)
        if sum(1 for key in runs if key.startswith(BURST_KEY)) >= sizes.n_burst:
            break
        time.sleep(0.5)
    return burst_figures(read_record(path), due, sizes)


def burst_figures(runs: dict[str, list[float]], due: float, sizes: PeerSizes) -> dict:
    """Lateness (first run − due) of the burst jobs that ran by the deadline."""
    deadline = due + sizes.budget_s
    firsts = [min(times) for key, times in runs.items() if key.startswith(BURST_KEY)]
    lateness_s = sorted(at - due for at in firsts if at <= deadline)
    return {
        "n_burst": sizes.n_burst,
        "delivered": len(lateness_s),
        "undelivered": sizes.n_burst - len(lateness_s),
        "budget_s": sizes.budget_s,
        "lateness_ms": stats.summary([s * 1000 for s in lateness_s], digits=1),
        "lateness_s": lateness_s,
        "early": sum(1 for s in lateness_s if s < 0),
        "run_twice": sum(1 for times in runs.values() if len(times) > 1),
        "backlog_run": sum(1 for key in runs if key.startswith(BACKLOG_KEY)),
    }


# --- databases -------------------------------------------------------------------------------


DROP = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def recreate_database(name: str) -> str:
    """Drop and create `name` (a peers_ database); returns its URL without a driver."""
    assert name.startswith(PREFIX), name
    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{PG_SERVER_URL}/{name}"


def drop_database(name: str) -> None:
    assert name.startswith(PREFIX), name
    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- worker processes ------------------------------------------------------------------------


def start_workers(engine: str, argv: list[str], marker: str, count: int = PROCESSES) -> list:
    """`count` copies of `python argv...` ("{i}" in an argument is the copy's number), each in
    its own process group, waited for until its log shows `marker`."""
    workers = [
        procs.start(f"peers-{engine}-{i}", [arg.format(i=i) for arg in argv]) for i in range(count)
    ]
    try:
        for worker in workers:
            procs.wait_ready(worker, marker, timeout_s=120)
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers: list) -> None:
    """SIGTERM each group, then SIGKILL whatever of it is left: nothing outlives a run."""
    for worker in workers:
        _signal_group(worker.pid, signal.SIGTERM)
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.popen.wait(10)
        _signal_group(worker.pid, signal.SIGKILL)
        worker.popen.wait(5)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def rss_mb(workers: list) -> float:
    """Summed RSS of the worker processes and their children."""
    pids = [w.pid for w in workers] + [kid for w in workers for kid in procs.children(w.pid)]
    return round(sum(procs.rss_mb(pid) for pid in pids), 1)


def run_burst(
    engine: str,
    sizes: PeerSizes,
    worker_argv: list[str],
    ready: str,
    seed: Callable[[list[tuple[str, float]]], float],
    schedule: Callable[[list[tuple[str, float]]], float],
    *,
    settle: Callable[[], dict] | None = None,
    estimate_burst_s: Callable[[], float] | None = None,
) -> dict:
    """The workload on one engine: start its workers, `seed` the backlog, `settle` (if given),
    `schedule` the burst due at an instant it can meet, wait for the burst, stop the workers.
    `seed` and `schedule` take (key, unix time) pairs and return the seconds they took; the
    burst's scheduling time is estimated from the backlog's rate unless `estimate_burst_s`."""
    record = new_record(engine)
    workers = []
    try:
        workers = start_workers(engine, worker_argv, ready)
        backlog_items = [
            (f"{BACKLOG_KEY}{i}", at)
            for i, at in enumerate(backlog_times(time.time(), sizes.n_backlog))
        ]
        backlog_s = seed(backlog_items)
        rate = sizes.n_backlog / backlog_s if backlog_s else 0.0
        log.info("%s: backlog of %d in %.1f s (%.0f/s)", engine, sizes.n_backlog, backlog_s, rate)
        result = {
            "backlog_seeded": {
                "n": sizes.n_backlog,
                "seconds": round(backlog_s, 1),
                "per_s": round(rate),
            }
        }
        if settle is not None:
            result |= settle()
        estimate = (
            estimate_burst_s()
            if estimate_burst_s is not None
            else backlog_s * sizes.n_burst / sizes.n_backlog
        )
        due = due_after(estimate, sizes.min_lead_s)
        burst_s = schedule([(f"{BURST_KEY}{i}", due) for i in range(sizes.n_burst)])
        result["burst_scheduled_s"] = round(burst_s, 1)
        result["lead_s"] = round(due - time.time(), 1)
        result |= wait_for_burst(record, due, sizes)
        result["worker_rss_mb"] = rss_mb(workers)
        return result
    finally:
        stop_workers(workers)
