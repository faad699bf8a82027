"""Where the benchmarks run, and the environment every bench process gets.

A dedicated database and dedicated queues keep the benchmarks away from tests and demos that
may run at the same time on the same Postgres and RabbitMQ.
"""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"

PG_SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "followups_bench")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# Dramatiq workers for both designs: `-p 2 -t 8` unless overridden (for experiments).
WORKER_PROCESSES = int(os.environ.get("BENCH_WORKER_PROCESSES", "2"))
WORKER_THREADS = int(os.environ.get("BENCH_WORKER_THREADS", "8"))
# BENCH_QUEUE names the queues too, so that two benches on one broker never share them.
PRODUCT_QUEUE = os.environ.get("BENCH_QUEUE", "followups_bench")
NAIVE_QUEUE = f"naive_{PRODUCT_QUEUE}"

# Forced on every bench process (this one and the workers it starts): the bench settings (the
# product's, with the in-memory messenger), database and queues, no send cap, no quiet hours,
# and workers that look at their delayed messages every 50 ms (docs/design.md, "Precision and
# capacity"), for the product and the naive design alike.
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": f"{PG_SERVER_URL}/{DB_NAME}",
    "BROKER_URL": BROKER_URL,
    "FOLLOWUPS_QUEUE": PRODUCT_QUEUE,
    "FOLLOWUPS_SEND_RATE_PER_MINUTE": "0",
    "FOLLOWUPS_QUIET_HOURS": "off",
    "FOLLOWUPS_WATCH_INTERVAL_S": "1",
    "dramatiq_worker_timeout": "50",
    "PYTHONUNBUFFERED": "1",
}


def apply_env() -> None:
    """Put the bench environment into os.environ (before Django is imported)."""
    os.environ.update(BENCH_ENV)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def child_env() -> dict[str, str]:
    """The environment for worker and dispatcher subprocesses."""
    env = dict(os.environ)
    env.update(BENCH_ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is. `quick` must finish within a minute on 2 cores."""

    n_background: int
    n_burst: int
    memory_checkpoints: tuple[int, ...]
    lead_s: float  # the burst is due this long after its rows (or messages) are in place
    budget_s: float  # how long after the due instant a burst may take to drain
    settle_s: float  # pause before reading a worker's memory
    n_schedule: int
    n_cancel: int
    n_reconcile: int
    n_profile: int
    n_bulk: int  # schedule_actions: actions in one call
    n_singles: int  # lone follow-ups after the burst, 1.1 s apart
    n_per_account: int  # --accounts: follow-ups due at one instant for each account
    accounts_budget_s: float  # --accounts: how long after the due instant they may take
    publish_threads: int = 6


FULL = Sizes(
    n_background=100_000,
    n_burst=5_000,
    memory_checkpoints=(10_000, 100_000),
    lead_s=12.0,
    budget_s=120.0,
    settle_s=4.0,
    n_schedule=2_000,
    n_cancel=1_000,
    n_reconcile=100_000,
    n_profile=1_000,
    n_bulk=10_000,
    n_singles=20,
    n_per_account=500,
    accounts_budget_s=120.0,
)
QUICK = Sizes(
    n_background=10_000,
    n_burst=1_000,
    memory_checkpoints=(1_000, 10_000),
    lead_s=4.0,
    budget_s=10.0,
    settle_s=1.0,
    n_schedule=300,
    n_cancel=200,
    n_reconcile=100_000,  # the target is defined on 100k rows; seeding them costs ~3 s
    n_profile=200,
    n_bulk=2_000,
    n_singles=5,
    n_per_account=100,
    accounts_budget_s=30.0,
)


def setup_django() -> None:
    """Create and migrate the bench database if need be, then set Django up in this process."""
    apply_env()
    from bench import db

    db.ensure_database()
    import django

    django.setup()
    db.migrate()
